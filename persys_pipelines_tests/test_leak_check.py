"""The suite leaves the machine as it found it: a test that leaves a server running makes the
run fail, naming the server, and the server is stopped (conftest.pytest_sessionfinish)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).parents[1]
PROBE = '''
from persys_pipelines.lib.pg.tiers import embedded_server

def test_forgets_to_stop_its_server(tmp_path):
    embedded_server(tmp_path / "home")
'''


# `make test` runs the suite in pytest-xdist workers: a worker's leak fails the whole run too
@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "1"]], ids=["serial", "workers"])
def test_a_server_left_running_fails_the_run_and_is_stopped(tmp_path: Path,
                                                             workers: list[str]) -> None:
    probe = tmp_path / "probe" / "test_probe.py"
    probe.parent.mkdir()
    probe.write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PERSYS_TEST_ALLOW_LEAKS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "-p", "persys_pipelines_tests.conftest", "--rootdir", str(probe.parent),
         "--basetemp", str(tmp_path / "base"), *workers, str(probe)],
        cwd=probe.parent, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "servers left running by the tests (stopped now):" in result.stdout
    assert str(tmp_path / "base") in result.stdout
    left = [p for p in psutil.process_iter(["cmdline"])
            if any(str(tmp_path / "base") in a for a in p.info["cmdline"] or [])]
    assert left == []
