"""A household person's runs touch only their own tiers, archive and notifier.

Two persons with their own PostgreSQL databases (core and main each), archive folders,
encryption keys and Telegram bots (two fake Bot APIs on 127.0.0.1), their secrets only in
their own secrets.env. Real `persys --household DIR --person NAME …` commands run real Dagster
runs recorded in one shared instance; after each person's runs the other person's databases
hold exactly what they held (every table's rows and checksum), their archive folder the same
files, and their Telegram got nothing.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from persys_pipelines.cli import main
from persys_pipelines.defs.runner import THROWAWAY_ENV
from persys_pipelines.lib.tiering import lifecycle
from persys_pipelines_tests.conftest import DEFAULT_TABLES
from persys_pipelines_tests.deploy_fakes import make_household
from persys_pipelines_tests.monitoring_fakes import fake_telegram

AS_OF = dt.date(2025, 3, 1)
# small windows, so 90 days of sample data reach main and the archive
TABLES = {name: {**policy, "core_days": min(policy["core_days"], 7), "main_days": 30,
                 "delete_days": None} for name, policy in DEFAULT_TABLES.items()}


def persys(*args: str) -> int:
    """One `persys` command, its environment (the person's secrets) put back afterwards."""
    saved = dict(os.environ)
    try:
        return main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def fingerprint(dsn: str) -> dict[str, tuple[int, int]]:
    """Every table of every schema persys or the sample uses: rows and an order-free checksum."""
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "select format('%I.%I', schemaname, tablename) from pg_tables "
            "where schemaname not in ('pg_catalog', 'information_schema') order by 1").fetchall()
        return {t: tuple(conn.execute(
            f"select count(*), coalesce(sum(hashtextextended(x::text, 0)), 0) from {t} x"
        ).fetchone()) for (t,) in tables}


def files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")
            if p.is_file()} if folder.exists() else {}


@pytest.mark.slow
def test_each_persons_runs_keep_to_their_own_tiers_archive_and_notifier(
        tmp_path, make_database, monkeypatch):
    root = tmp_path / "household"
    with fake_telegram() as tg_alice, fake_telegram() as tg_bob:
        secrets = make_household(root, make_database, tables=TABLES,
                                 telegram={"alice": tg_alice.base_url, "bob": tg_bob.base_url})
        shared = tmp_path / "dagster"
        assert persys("household", "check", "--household", str(root)) == 0
        assert persys("household", "workspace", "--household", str(root), "--out",
                      str(shared)) == 0
        monkeypatch.setenv("DAGSTER_HOME", str(shared))  # the household's one instance
        monkeypatch.delenv(THROWAWAY_ENV)  # its runs recorded there, as a person's are
        monkeypatch.setenv("PERSYS_DAGSTER_PG_URL", make_database("dagster").replace(
            "postgresql://", "postgresql+psycopg2://", 1))

        def as_(person: str, *args: str) -> int:
            return persys("--household", str(root), "--person", person, *args)

        for person, seed in (("alice", "1"), ("bob", "2")):
            assert as_(person, "setup", "--sample-data", "--days", "90", "--seed", seed,
                       "--as-of", AS_OF.isoformat()) == 0

        def state(person: str) -> tuple:
            s = secrets[person]
            return (fingerprint(s["CORE_DATABASE_URL"]), fingerprint(s["MAIN_DATABASE_URL"]),
                    files(root / "archives" / person))

        bob_before = state("bob")
        assert as_("alice", "lifecycle", "run", "--as-of", AS_OF.isoformat()) == 0
        assert as_("alice", "daily", "run", "--from", "2025-02-20", "--to", "2025-02-27") == 0
        with monkeypatch.context() as m:
            m.setattr(lifecycle, "run_table", _broken)  # alice's next run fails
            assert as_("alice", "lifecycle", "run", "--as-of", (AS_OF + dt.timedelta(days=3))
                       .isoformat(), "--table", "journal_entries") != 0

        assert state("bob") == bob_before  # not a row, checksum or file of bob's changed
        alice_now = state("alice")
        assert any(k.endswith(".parquet") for k in alice_now[2])  # alice did archive
        assert tg_bob.messages == []
        (alert,) = tg_alice.messages  # her failed run, to her chat, with her bot
        assert alert["chat_id"] == "chat-alice" and "lifecycle_core_to_main failed" in alert["text"]
        assert all(secrets["alice"]["TELEGRAM_BOT_TOKEN"] in p for p in tg_alice.paths)

        assert as_("bob", "lifecycle", "run", "--as-of", AS_OF.isoformat()) == 0
        assert state("alice") == alice_now  # bob's runs left alice's tiers and files alone
        assert tg_alice.messages == [alert] and tg_bob.messages == []
        assert any(k.endswith(".parquet") for k in files(root / "archives" / "bob"))

    with dg.DagsterInstance.get() as instance:  # one instance, every run named by its person
        runs = instance.get_runs()
    by_person = {r.tags.get("persys/person") for r in runs}
    assert by_person == {"alice", "bob"}
    assert any(r.status == dg.DagsterRunStatus.FAILURE and r.tags["persys/person"] == "alice"
               for r in runs)


def _broken(*args, **kwargs):
    raise RuntimeError("alice's disk on fire")
