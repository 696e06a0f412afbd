"""`persys up` starts Dagster on 127.0.0.1 with the instance in PostgreSQL; a second `up` says
where it runs; `persys down` leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil

from persys_pipelines.lib.pg.tiers import embedded_running


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def persys(*args: str, env: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "persys_pipelines.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_up_then_down_leaves_nothing_running(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "PERSYS_HOME": str(home)}
    env.pop("PERSYS_CONFIG", None)
    env.pop("DAGSTER_HOME", None)
    port = free_port()
    up = persys("up", "--detach", "--port", str(port), env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"Dagster UI: http://127.0.0.1:{port}" in up.stdout
        info = httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=10).json()
        assert "dagster_webserver_version" in info
        pid = int(up.stdout.split("(pid ")[1].split(")")[0])
        tree = [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
        assert len(tree) >= 2

        again = persys("up", "--port", str(port), env=env, timeout=60)
        assert again.returncode == 0
        assert f"already running at http://127.0.0.1:{port} (pid {pid})" in again.stdout
    finally:
        down = persys("down", env=env, timeout=60)
    assert down.returncode == 0, down.stderr
    assert "stopped Dagster" in down.stdout and "stopped the embedded PostgreSQL" in down.stdout
    assert not [p for p in tree if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert embedded_running(home) is None


def test_ctrl_c_on_foreground_up_stops_every_process(tmp_path):
    """Ctrl-C in the terminal: SIGINT to the foreground process group of `persys up`."""
    home = tmp_path / "home"
    env = {**os.environ, "PERSYS_HOME": str(home)}
    env.pop("PERSYS_CONFIG", None)
    env.pop("DAGSTER_HOME", None)
    port = free_port()
    up = subprocess.Popen([sys.executable, "-m", "persys_pipelines.cli", "up", "--port", str(port)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          process_group=0)
    tree: list[int] = []
    try:
        lines = []
        for line in up.stdout:
            lines.append(line)
            if "Ctrl-C stops it" in line:
                break
        assert f"Dagster UI: http://127.0.0.1:{port}\n" in lines, "".join(lines)
        tree = [up.pid, *(p.pid for p in psutil.Process(up.pid).children(recursive=True))]
        pg = embedded_running(home)
        assert pg is not None and len(tree) >= 4  # persys, dagster dev, webserver, daemon, ...
        stopped_at = time.monotonic()
        os.killpg(up.pid, signal.SIGINT)
        rest = up.communicate(timeout=30)[0]
        took = time.monotonic() - stopped_at
    finally:
        if up.poll() is None:
            up.kill()
            persys("down", env=env, timeout=60)
    assert up.returncode == 0, rest
    assert "stopped" in rest and "stopped the embedded PostgreSQL" in rest
    assert took < 10, f"Ctrl-C took {took:.1f}s"
    alive = [p for p in [*tree, pg] if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, [psutil.Process(p).cmdline() for p in alive]
    assert not (home / "run" / "up.json").exists()
