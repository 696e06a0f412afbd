"""Resident memory of everything `persys up` runs (Dagster UI, daemon, code server and the
embedded PostgreSQL), for people who run this on a home server.

    .venv/bin/python bench/footprint.py [--settle 20]

Baseline in the same run: a bare `dagster dev` on an empty definitions file with the default
(SQLite) instance, i.e. what any Dagster project costs before persys adds anything. Prints the
per-process table and, last, `footprint_vs_bare_dagster: <ratio>` and `footprint_mb: <MB>`.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    """The embedded server's postmaster and its backends/workers."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return []
    return tree(int(pid_file.read_text().split()[0]))


def rss_mb(procs: list[psutil.Process]) -> tuple[float, list[tuple[str, float]]]:
    rows = []
    for p in procs:
        try:
            name = " ".join(p.cmdline()[:4])[-70:] or p.name()
            rows.append((name, p.memory_info().rss / 2**20))
        except psutil.NoSuchProcess:
            pass
    return sum(r for _, r in rows), rows


def wait_ui(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer in {timeout}s")


def measure_persys(home: Path, settle: float) -> tuple[float, list]:
    env = {**os.environ, "PERSYS_HOME": str(home)}
    env.pop("PERSYS_CONFIG", None)
    port = free_port()
    persys = [sys.executable, "-m", "persys_pipelines.cli"]
    subprocess.run([*persys, "setup"], env=env, check=True, capture_output=True)
    out = subprocess.run([*persys, "up", "--detach", "--port", str(port)], env=env, check=True,
                         capture_output=True, text=True).stdout
    pid = int(out.split("(pid ")[1].split(")")[0])
    try:
        time.sleep(settle)
        procs = tree(pid) + postgres_processes(home / "pg")
        return rss_mb(procs)
    finally:
        subprocess.run([*persys, "down"], env=env, capture_output=True)


def measure_bare(settle: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        defs = Path(tmp) / "empty_defs.py"
        defs.write_text("import dagster as dg\ndefs = dg.Definitions()\n")
        port = free_port()
        env = {**os.environ, "DAGSTER_HOME": tmp}
        child = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-f", str(defs), "-h", "127.0.0.1",
             "-p", str(port)], env=env, cwd=tmp, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_ui(f"http://127.0.0.1:{port}")
            time.sleep(settle)
            total, _ = rss_mb(tree(child.pid))
            return total
        finally:
            for p in tree(child.pid):
                p.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settle", type=float, default=20, help="seconds to idle first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT / ".persys" if (ROOT / ".persys").exists()
                                     else None) as tmp:
        total, rows = measure_persys(Path(tmp) / "home", args.settle)
    bare = measure_bare(args.settle)
    for name, mb in sorted(rows, key=lambda r: -r[1]):
        print(f"{mb:8.1f} MB  {name}")
    print(f"persys up: {len(rows)} processes, {total:.0f} MB resident (RSS, shared pages "
          "counted in each process)")
    print(f"bare dagster dev (empty definitions, SQLite): {bare:.0f} MB")
    print(f"footprint_vs_bare_dagster: {total / bare:.2f}")
    print(f"footprint_mb: {total:.0f}")


if __name__ == "__main__":
    main()
