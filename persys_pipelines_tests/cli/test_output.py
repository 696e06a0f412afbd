"""Output that reads right: one number format with its noun ("1 row", "1,237 rows", "62.8 kB"),
and a closed pipe (`persys … | head`) ends the command quietly, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from persys_pipelines.lib.monitoring.units import human_bytes, noun, number, plural

ROOT = Path(__file__).resolve().parents[2]


def test_counts_and_sizes_read_the_same_everywhere():
    assert [plural(n, "row") for n in (0, 1, 2, 1237)] == ["0 rows", "1 row", "2 rows",
                                                          "1,237 rows"]
    assert plural(1, "entry") == "1 entry" and plural(3, "entry") == "3 entries"
    assert plural(2, "other person", "other people") == "2 other people"
    assert noun(1, "file") == "file" and noun(5, "file") == "files"
    assert number(1234567) == "1,234,567" and number(2.5) == "2.5" and number(3.0) == "3"
    assert human_bytes(14_147) == "13.8 kB" and human_bytes(3 * 2**20) == "3.0 MB"


@pytest.mark.parametrize("args", [["--help"], ["down"]])
def test_a_closed_pipe_ends_quietly(args, tmp_path):
    """`persys --help | head -0`: the reader is gone before anything is written."""
    env = {**os.environ, "PERSYS_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    env.pop("PERSYS_CONFIG", None)
    read, write = os.pipe()
    os.close(read)  # nobody will read: every write is EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "persys_pipelines.cli", *args],
                              stdout=write, stderr=subprocess.PIPE, env=env, text=True,
                              timeout=120)
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)  # as a shell reports SIGPIPE, or done before it
