"""bench/decade.py at a reduced size (four months, a lighter person): every row written is found
in a tier or in a purged file's digest, a purge happened with its digests checked, the chart
is drawn and the last line is the benchmark's `name: value`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from persys_pipelines.lib.pg.tiers import stop_embedded
from persys_pipelines_tests.deploy_fakes import clean_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_four_months_lose_nothing_and_purge_with_digests(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = clean_env(PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "decade.py"), "--years", "0.34",
             "--health-per-day", "200", "--out", str(out)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=420)
    finally:
        for state in out.glob("persys-decade-*/state"):
            stop_embedded(state)
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-4000:]
    values = dict(re.findall(r"^(decade_\w+): (\S+)$", result.stdout, re.M))
    assert values["decade_rows_lost"] == "0", text[-4000:]
    assert values["decade_rows_doubled"] == "0", text[-4000:]
    assert values["decade_rows_changed"] == "0", text[-4000:]
    assert int(values["decade_digests_verified"]) > 0
    assert values["decade_digests_mismatched"] == "0"
    digest_bytes, purged_bytes = (int(values["decade_digest_bytes"]),
                                  int(values["decade_purged_bytes"]))
    assert 0 < digest_bytes < purged_bytes
    chart = Path(re.search(r"^chart: (.+)$", result.stdout, re.M)[1])
    assert chart.is_file() and chart.stat().st_size > 0 and chart.is_relative_to(tmp_path)
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"decade_run_ratio_year_last_vs_year1: \d+\.\d+", last)
    assert "month   4" in result.stdout and "year 1 (part): rows lost 0" in result.stdout
