"""`persys adopt partition`: the plan and headroom first (with the key change and the measured
lock times), --dry-run changes nothing, --yes is asked for, and a kill -9 mid-way leaves the
original table intact until a second run (or, after the commit, the second run finishes)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from persys_pipelines.cli import main
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.moves.engine import CRASH_ENV
from persys_pipelines.lib.pg import ledger
from persys_pipelines.lib.pg import partitions as space
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
    assert "KEY CHANGES: the primary key becomes (id, written_at)" in out
    assert "`insert … on conflict (id)` in your app fails" in out
    assert "writes wait about " in out and "reads go on, except during the swap: its " in out
    assert rows_text(core, "journal") == before and catalog(core) == cat
    # the lock times were measured on a temporary table in a savepoint rolled back: at most
    # a catalog page or two remain of it
    assert core.size_bytes() - size <= 64 * 1024 and not partitioned(cfg)
    # the key changes: without --yes nothing happens, even at a terminal
    assert main(["adopt", "partition", "journal"]) == 1
    err = capsys.readouterr().err
    assert "the primary key changes" in err and "--yes" in err and not partitioned(cfg)


def test_unknown_table_and_tight_quota_are_refused(supa_config, capsys, tier_dsns, tmp_path):
    assert main(["adopt", "partition", "sleep_log", "--yes"]) == 1
    assert "has no policy in persys.yaml tables" in capsys.readouterr().err
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
    for point in ("adopt.copied", "adopt.swapped"):
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
        states = [e.state for e in ledger.entries(conn, "journal", route="adopt")]
    assert states == ["done", "interrupted", "interrupted"]
    assert main(["adopt", "partition", "journal", "--yes"]) == 0  # again: nothing to do
    assert "already monthly-partitioned: nothing to do" in capsys.readouterr().out


def test_kill_9_after_the_commit_a_second_run_validates_the_foreign_keys_left(supa_config,
                                                                              capsys):
    """Killed between the swap's commit and the validation of the foreign keys it re-created
    NOT VALID: the table is converted, the key into it still enforced for new rows; the next
    `adopt partition` validates it and closes the ledger entry."""
    cfg = load_config(supa_config)
    core = resolve_tier(cfg, "core")
    with core.connect() as conn:
        conn.execute("""alter table journal add unique (id, written_at);
            create table journal_tags (id serial primary key, journal_id bigint not null,
              journal_at timestamptz not null, tag text,
              foreign key (journal_id, journal_at) references journal (id, written_at));
            insert into journal_tags (journal_id, journal_at, tag)
              select id, written_at, 't' from journal where id % 4 = 0""")
        conn.commit()
    before = rows_text(core, "journal")
    env = {**os.environ, CRASH_ENV: "adopt.committed", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "persys_pipelines.cli", "adopt", "partition",
                           "journal", "--yes"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -9 and "persys-crash-point adopt.committed" in proc.stdout
    assert partitioned(cfg) and rows_text(core, "journal") == before
    valid = ("select convalidated from pg_constraint where conname = "
             "'journal_tags_journal_id_journal_at_fkey'")
    with core.connect() as conn:
        assert conn.execute(valid).fetchone() == (False,)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # still enforced
            conn.execute("insert into journal_tags (journal_id, journal_at) values (-1, now())")
    assert main(["adopt", "partition", "journal", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "validated foreign keys an interrupted adoption left: journal_tags_" in out
    assert "already monthly-partitioned: nothing to do" in out
    with core.connect() as conn:
        assert conn.execute(valid).fetchone() == (True,)
    with resolve_tier(cfg, "main").connect() as conn:
        (entry,) = ledger.entries(conn, "journal", route="adopt")
    assert entry.state == "done" and entry.rows == 160
    assert entry.detail["finished_by_a_later_run"] is True


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
