"""What `persys up` runs: the code server, the Dagster UI and the daemon, started directly.

    python -m persys_pipelines.lib.supervisor --ui-port 3000 --grpc-port 4266 \\
        --workspace <home>/run/workspace.yaml

`dagster dev` does the same with two more Python processes of its own (a supervisor that
imports all of Dagster, ~130 MB, and a code-server proxy, ~100 MB) for the live reload a home
server never uses. This supervisor is plain Python (~10 MB): it starts the gRPC code server
(which loads the definitions once, for the UI, the daemon and the runs it launches), waits until
it answers, then starts the webserver and the daemon on a workspace that points at it. When one
of the three exits, or on SIGTERM/SIGINT, it stops the others and exits with the first one's
code, so `persys up` and `persys down` see one process tree, as with `dagster dev`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

GRACE_S = 5.0
DEFINITIONS = "persys_pipelines.definitions"
LOCATION = "persys_pipelines"


def workspace_text(grpc_port: int) -> str:
    """A workspace for the webserver and the daemon: the running code server."""
    return ("load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
            f"      port: {grpc_port}\n      location_name: {LOCATION}\n")


def commands(ui_port: int, grpc_port: int, workspace: Path) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    return {
        "code server": [sys.executable, "-m", "dagster", "api", "grpc", "-m", DEFINITIONS,
                        "-h", "127.0.0.1", "-p", str(grpc_port)],
        "webserver": [sys.executable, "-m", "dagster_webserver", "-w", str(workspace),
                      "-h", "127.0.0.1", "-p", str(ui_port)],
        "daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)],
    }


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _stop(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
    deadline = time.monotonic() + GRACE_S
    for child in children.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        if child.poll() is None:
            child.kill()
            child.wait()


def run(ui_port: int, grpc_port: int, workspace: Path, load_timeout: float) -> int:
    workspace.write_text(workspace_text(grpc_port))
    cmds = commands(ui_port, grpc_port, workspace)
    children: dict[str, subprocess.Popen] = {}

    def stop_on_signal(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    try:
        children["code server"] = subprocess.Popen(cmds["code server"])
        deadline = time.monotonic() + load_timeout
        while not _answers(grpc_port):
            if children["code server"].poll() is not None:
                print("persys supervisor: the code server exited while loading the "
                      "definitions (its error is above)", flush=True)
                return children["code server"].returncode or 1
            if time.monotonic() > deadline:
                print(f"persys supervisor: the code server did not answer on port {grpc_port} "
                      f"within {load_timeout:.0f}s", flush=True)
                return 1
            time.sleep(0.2)
        for name in ("webserver", "daemon"):
            children[name] = subprocess.Popen(cmds[name])
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"persys supervisor: the {name} exited with code {child.returncode};"
                          " stopping the others", flush=True)
                    return child.returncode or 0
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop(children)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ui-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--load-timeout", type=float, default=300)
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return run(args.ui_port, args.grpc_port, args.workspace, args.load_timeout)


if __name__ == "__main__":
    raise SystemExit(main())
