"""Processes `persys up` starts: a record in `<home>/run/up.json`, and stopping all of them.

`dagster dev` ignores SIGTERM/SIGINT for several seconds and starts children of its own
(webserver, daemon, code server), so stopping goes by the whole process tree: TERM to every
process, then KILL to what is left after a grace period.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from pathlib import Path

import psutil


def record_path(home: Path) -> Path:
    return home / "run" / "up.json"


def read_record(home: Path) -> dict | None:
    """The running `persys up` (pid, url) or None; a stale record is removed."""
    path = record_path(home)
    if not path.exists():
        return None
    try:
        rec = json.loads(path.read_text())
        if psutil.pid_exists(rec["pid"]):
            return rec
    except (ValueError, KeyError, OSError):
        pass
    path.unlink(missing_ok=True)
    return None


def write_record(home: Path, **fields) -> None:
    path = record_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fields))


def stop_tree(pid: int, grace: float = 5.0) -> int:
    """Stop `pid` and every descendant; returns how many processes were stopped."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=grace)
    return len(procs)


def wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid):
            return True
        time.sleep(0.1)
    return not psutil.pid_exists(pid)
