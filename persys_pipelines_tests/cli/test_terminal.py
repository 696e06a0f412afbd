"""What a person sees and the exit code they get, through the real entry point
(`python -m persys_pipelines.cli`, the same `run()` as the `persys` console script): no developer
warnings on stderr, and a clean exit after the work, every time."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from persys_pipelines import handles as setup_lib
from persys_pipelines.cli import main

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 2, 20)  # sample: 2024-12-23 .. 2025-02-20
LATER = dt.date(2027, 2, 20)  # every journal month is past main_days: all in the archive


def persys(*args: str, config_path: Path, instance_url: str | None = None
           ) -> subprocess.CompletedProcess:
    """One `persys` command in a fresh interpreter, as from a terminal without DAGSTER_HOME
    or XDG_RUNTIME_DIR (the latter is what makes platformdirs warn). Its runs are recorded
    in a real instance (`instance_url`, a database of the test server) or thrown away."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", "XDG_RUNTIME_DIR", "PYTHONWARNINGS")
           and not k.startswith("PERSYS_")}
    env["PERSYS_CONFIG"] = str(config_path)
    if instance_url:
        env["PERSYS_DAGSTER_PG_URL"] = instance_url
    else:
        env["PERSYS_THROWAWAY_INSTANCE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "persys_pipelines.cli", *args],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)


def test_commands_print_no_developer_warnings(cfg, config_path, make_database):
    """As a person runs them: the run recorded in the instance `persys up` shows (its
    storage made on the way, dagster-postgres and alembic included)."""
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=40, seed=3, as_of=AS_OF)
    url = urlunsplit(urlsplit(make_database("dagster"))._replace(scheme="postgresql+psycopg2"))
    for args in (["status"], ["lifecycle", "run", "--as-of", AS_OF.isoformat()]):
        result = persys(*args, config_path=config_path, instance_url=url)
        assert result.returncode == 0, result.stderr
        assert "Warning" not in result.stderr, result.stderr
        assert result.stdout.strip()


def test_entry_point_keeps_exit_codes(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    result = persys("status", config_path=missing)
    assert result.returncode == 2  # ConfigError
    assert result.stderr.startswith("persys: invalid configuration") and "Traceback" not in \
        result.stderr
    assert persys("--help", config_path=missing).returncode == 0
    assert persys("no-such-command", config_path=missing).returncode == 2  # argparse


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_every_exit_is_clean(cfg, config_path):
    """`archive verify` used to abort about 1 run in 25 after printing "ok" (exit -6,
    `terminate called without an active exception`: a native Arrow thread alive at interpreter
    exit). PERSYS_TEST_EXIT_TRIALS lowers the count for a quick local check."""
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=60, seed=5, as_of=AS_OF)
    assert main(["lifecycle", "run", "--as-of", LATER.isoformat(), "--yes"]) == 0
    assert list((cfg.home / "archive").rglob("*.parquet")), "the test needs archived files"
    trials = int(os.environ.get("PERSYS_TEST_EXIT_TRIALS", "200"))

    def one(args: tuple[str, ...]) -> str | None:
        result = persys(*args, config_path=config_path)
        if result.returncode != 0 or "terminate called" in result.stderr:
            return f"{' '.join(args)}: exit {result.returncode}: {result.stderr[-300:]}"
        return None

    commands = [("archive", "verify"), ("status",)] * trials
    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(one, commands) if f]
    assert not failures, f"{len(failures)} unclean exits of {len(commands)}:\n" + "\n".join(
        failures[:5])
