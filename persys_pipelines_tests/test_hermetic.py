"""The suite ignores the PERSYS_* environment of the person running it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from persys_pipelines.defs.runner import THROWAWAY_ENV

ROOT = Path(__file__).parents[1]


def test_no_persys_variable_reaches_a_test() -> None:
    leaked = [n for n in os.environ if n.startswith("PERSYS_") and not n.startswith("PERSYS_TEST_")]
    assert leaked == [THROWAWAY_ENV]  # set by the suite itself: commands' runs are thrown away
    assert "DAGSTER_HOME" not in os.environ


def test_junk_persys_home_and_config_do_not_break_a_config_test(tmp_path: Path) -> None:
    """As after `make demo`: PERSYS_HOME/PERSYS_CONFIG point at someone's files."""
    env = {**os.environ, "PERSYS_HOME": str(tmp_path / "demo-home"),
           "PERSYS_CONFIG": str(tmp_path / "no-such.yaml"), "PERSYS_VOICE": "junk",
           "DAGSTER_HOME": str(tmp_path / "dagster"),
           "PYTHONPATH": str(ROOT)}
    test = "persys_pipelines_tests/test_hermetic.py::test_no_persys_variable_reaches_a_test"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", test],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
