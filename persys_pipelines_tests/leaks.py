"""Servers a test started and left running (conftest.pytest_sessionfinish fails the run on them).

A process counts as ours when it started during this session and its command line or its
PERSYS_HOME/DAGSTER_HOME names one of this session's folders (pytest's temporary folders, the
session server's data folder). Other people's servers on the same machine, and this session's
own server (stopped by its fixture before this runs), are never touched.
"""

from __future__ import annotations

import contextlib

import psutil

ENV_NAMES = ("PERSYS_HOME", "DAGSTER_HOME", "PERSYS_CONFIG")
# folders this session made outside pytest's temporary folders (the session server's data, the
# pooler's configuration): the session fixtures add them
SESSION_FOLDERS: list[str] = []


def _names_a_folder(proc: psutil.Process, folders: list[str]) -> bool:
    with contextlib.suppress(psutil.Error):
        if any(f in arg for arg in proc.cmdline() for f in folders):
            return True
    with contextlib.suppress(psutil.Error):
        env = proc.environ()
        return any(f in env.get(name, "") for name in ENV_NAMES for f in folders)
    return False


def leaked_servers(started: float, folders: list[str]) -> list[psutil.Process]:
    """Live processes started since `started` that belong to this session's folders, parents
    only (a postmaster, not its backends; a supervisor, not its children)."""
    me = psutil.Process()
    mine = {me.pid, *(p.pid for p in me.parents())}
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if (proc.pid in mine or proc.create_time() < started - 1
                    or proc.status() == psutil.STATUS_ZOMBIE):
                continue
            if _names_a_folder(proc, folders):
                found.append(proc)
    pids = {p.pid for p in found}
    return [p for p in found if not _has_ancestor_in(p, pids)]


def _has_ancestor_in(proc: psutil.Process, pids: set[int]) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(parent.pid in pids for parent in proc.parents())
    return False


def stop(procs: list[psutil.Process], grace_s: float = 10) -> None:
    """SIGTERM the process trees (a postmaster shuts down its backends), SIGKILL what stays."""
    everyone = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            everyone += [proc, *proc.children(recursive=True)]
    for proc in everyone:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(everyone, timeout=grace_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
