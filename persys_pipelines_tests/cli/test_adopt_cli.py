"""`persys adopt partition`: the plan and headroom first, --dry-run changes nothing, --yes is
asked for, and a kill -9 mid-way leaves the original table intact until a second run."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from persys_pipelines.cli import main
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.moves import adopt
from persys_pipelines.lib.moves.engine import CRASH_ENV
from persys_pipelines.lib.pg import ledger
from persys_pipelines.lib.pg import partitions as space
from persys_pipelines.lib.pg.tiers import resolve_tier
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.lib.tiering.test_adopt_partition import catalog
from persys_pipelines_tests.lifecycle_helpers import rows_text
from persys_pipelines_tests.supabase_fixture import create_supabase_core

ROOT = Path(__file__).parents[2]


@pytest.fixture
def supa_config(tier_dsns, tmp_path, monkeypatch) -> Path:
    create_supabase_core(tier_dsns["core"], days=40, as_of=dt.date.today())
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
                        tables={"journal": {"day_column": "written_at", "core_days": 7}})
    monkeypatch.setenv("PERSYS_CONFIG", str(path))
    return path


def partitioned(cfg) -> bool:
    with resolve_tier(cfg, "core").connect() as conn:
        return space.is_partitioned(conn, "journal")


def test_dry_run_shows_plan_and_headroom_and_changes_nothing(supa_config, capsys):
    cfg = load_config(supa_config)
    core = resolve_tier(cfg, "core")
    before, cat, size = rows_text(core, "journal"), catalog(core), core.size_bytes()
    assert main(["adopt", "partition", "journal", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "adopt partition journal: 160 rows" in out
    assert "headroom: needs " in out and "free" in out
    assert "keeps row level security: enabled, policy 'own journal'" in out
    assert "keeps publications: supabase_realtime" in out
    assert "publish_via_partition_root = true" in out  # what realtime subscribers need
    assert "dry run: nothing changed" in out
    assert rows_text(core, "journal") == before and catalog(core) == cat
    assert core.size_bytes() == size and not partitioned(cfg)
    # without --yes and without a terminal to ask at, nothing happens either
    assert main(["adopt", "partition", "journal"]) == 1
    assert "add --yes to go ahead" in capsys.readouterr().err and not partitioned(cfg)


def test_unknown_table_and_tight_quota_are_refused(supa_config, capsys, tier_dsns, tmp_path):
    assert main(["adopt", "partition", "sleep_log", "--yes"]) == 1
    assert "not in persys.yaml tables" in capsys.readouterr().err
    tight = write_config(tmp_path / "tight.yaml", tier_dsns, tmp_path / "home",
                         tables={"journal": {"day_column": "written_at", "core_days": 7}},
                         tiers={"core": {"dsn": tier_dsns["core"], "quota_mb": 1},
                                "main": {"dsn": tier_dsns["main"]},
                                "archive": {"url": f"file://{tmp_path / 'a'}"}})
    assert main(["adopt", "partition", "journal", "--yes", "--config", str(tight)]) == 3
    err = capsys.readouterr().err
    assert "refused: the conversion needs" in err and "the quota has 0.0 kB" in err


def test_kill_9_mid_way_leaves_the_table_intact_and_a_second_run_completes(supa_config,
                                                                           capsys):
    cfg = load_config(supa_config)
    core = resolve_tier(cfg, "core")
    before, cat = rows_text(core, "journal"), catalog(core)
    for point in ("adopt_copied", "adopt_swapped"):
        env = {**os.environ, CRASH_ENV: point, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-m", "persys_pipelines.cli", "adopt",
                               "partition", "journal", "--yes"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == -9 and f"persys-crash-point {point}" in proc.stdout
        assert not partitioned(cfg)
        assert rows_text(core, "journal") == before and catalog(core) == cat
        with core.connect() as conn:  # the app goes on writing to the original
            conn.execute("delete from journal where id = (select max(id) from journal)")
            conn.rollback()
    assert main(["adopt", "partition", "journal", "--yes"]) == 0
    assert "adopted journal: 160 rows verified" in capsys.readouterr().out
    assert partitioned(cfg) and rows_text(core, "journal") == before
    with resolve_tier(cfg, "main").connect() as conn:
        outcomes = [e.outcome for e in ledger.entries(conn, "journal")]
    assert outcomes == [adopt.ADOPTED, ledger.INTERRUPTED, ledger.INTERRUPTED]
    assert main(["adopt", "partition", "journal", "--yes"]) == 0  # again: nothing to do
    assert "already monthly-partitioned: nothing to do" in capsys.readouterr().out


def test_a_table_without_a_primary_key_is_refused_and_no_key_is_promised(tier_dsns, tmp_path,
                                                                         capsys, monkeypatch):
    from persys_pipelines.lib.pg.tiers import connect

    with connect(tier_dsns["core"]) as conn:
        conn.execute("create table notes (written_at timestamptz not null, body text)")
        conn.execute("insert into notes values (now(), 'a')")
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
                        tables={"notes": {"day_column": "written_at", "core_days": 7}})
    monkeypatch.setenv("PERSYS_CONFIG", str(path))
    code = main(["adopt", "partition", "notes", "--dry-run"])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code != 0 and "REFUSED: notes has no primary key" in text
    assert "keeps primary key" not in text
