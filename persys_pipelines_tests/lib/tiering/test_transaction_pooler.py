"""Through a real transaction pooler (pgbouncer, pool_mode = transaction, 2 server sessions per
database): a move, a summary run and two concurrent movers work, and nothing the mover sets
reaches another client of the pooler."""

from __future__ import annotations

import datetime as dt
import os
import sys

import psycopg
import pytest
from pydantic import SecretStr

from persys_pipelines import handles
from persys_pipelines import handles as setup_lib
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import TablePolicy, load_config
from persys_pipelines.lib.daily import summary
from persys_pipelines.lib.moves import core_main as moves
from persys_pipelines.lib.pg import ledger
from persys_pipelines.lib.tiering import lifecycle
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.lifecycle_helpers import assert_conserved, rows_text
from persys_pipelines_tests.pooler_fixture import POOL_SIZE, Pooler

LAST = dt.date(2024, 3, 31)
DAYS = 75
TABLES = {  # journal_entries is month-partitioned in core, tasks a plain table
    "journal_entries": TablePolicy(day_column="entry_date", core_days=0),
    "tasks": TablePolicy(day_column="completed_at", only_when={"status": "done"}, core_days=0),
}
WATCHED = ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout",
           "extra_float_digits", "default_transaction_read_only", "intervalstyle")


def pooled_cfg(tmp_path, tier_dsns, pooler: Pooler, *, main_too: bool = False):
    """persys.yaml with core (and main) through the pooler, `pooler: transaction` said
    explicitly (the pooler's port is not 6543)."""
    tiers = {
        "core": {"dsn": pooler.dsn(tier_dsns["core"]), "quota_mb": 500, "pooler": "transaction"},
        "main": ({"dsn": pooler.dsn(tier_dsns["main"]), "pooler": "transaction"} if main_too
                 else {"dsn": tier_dsns["main"]}),
        "archive": {"url": f"file://{tmp_path / 'home' / 'archive'}"},
    }
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", tiers=tiers)
    cfg = load_config(path)
    return cfg.model_copy(update={"tables": {**cfg.tables, **TABLES}})


def server_sessions(pooler: Pooler, direct_dsn: str) -> list[dict[str, str]]:
    """The watched settings on every server session of the pool: POOL_SIZE clients each hold
    a transaction open at once, so each sits on a server session of its own."""
    clients = [psycopg.connect(pooler.dsn(direct_dsn), prepare_threshold=None)
               for _ in range(POOL_SIZE)]
    try:
        seen = []
        for c in clients:
            values = c.execute("select pg_backend_pid(), " + ", ".join(
                f"current_setting('{name}')" for name in WATCHED)).fetchone()
            seen.append({"pid": values[0], **dict(zip(WATCHED, values[1:], strict=True))})
        assert len({s["pid"] for s in seen}) == POOL_SIZE  # really every server session
        return seen
    finally:
        for c in clients:
            c.close()


def server_defaults(direct_dsn: str) -> dict[str, str]:
    with psycopg.connect(direct_dsn) as conn:
        return dict(zip(WATCHED, conn.execute("select " + ", ".join(
            f"current_setting('{name}')" for name in WATCHED)).fetchone(), strict=True))


def leftovers(direct_dsn: str) -> tuple[int, int]:
    """Temporary tables and advisory locks anyone holds in the database (seen directly)."""
    with psycopg.connect(direct_dsn) as conn:
        temp = conn.execute("select count(*) from pg_class where relpersistence = 't'"
                            ).fetchone()[0]
        locks = conn.execute("select count(*) from pg_locks where locktype = 'advisory' and "
                             "database = (select oid from pg_database "
                             "where datname = current_database())").fetchone()[0]
    return temp, locks


def test_the_leak_check_sees_a_session_set(pgbouncer, make_database):
    """What the pooler does to a plain session SET: another client gets it (the check below
    is able to fail)."""
    direct = make_database("leak")
    with psycopg.connect(pgbouncer.dsn(direct), autocommit=True, prepare_threshold=None) as c:
        c.execute("set lock_timeout = '123ms'")
    try:
        assert "123ms" in [s["lock_timeout"] for s in server_sessions(pgbouncer, direct)]
    finally:  # put the pool back as it was for the other tests
        clients = [psycopg.connect(pgbouncer.dsn(direct), prepare_threshold=None)
                   for _ in range(POOL_SIZE)]
        for c in clients:
            c.execute("reset all")
            c.commit()
            c.close()


def test_move_through_the_transaction_pooler_leaks_nothing(pgbouncer, tmp_path, tier_dsns):
    cfg = pooled_cfg(tmp_path, tier_dsns, pgbouncer)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    assert core.transaction_pooled and not main.transaction_pooled
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=DAYS, seed=7, as_of=LAST)
    with main.connect() as conn:  # a trigger in main: journal's move compares checksums
        conn.execute("create function persys_test_keep() returns trigger language plpgsql "
                     "as $$ begin return new; end $$")
        conn.execute("create trigger keep before insert on journal_entries for each row "
                     "execute function persys_test_keep()")
    before = {t: rows_text(core, t) for t in TABLES}
    defaults = server_defaults(tier_dsns["core"])

    runs = {t: handles.run_table(cfg, core, main, t, LAST) for t in TABLES}

    for table, run in runs.items():
        assert run.rows > 0, table
        assert_conserved(core, main, table, before[table], ["id"])
    # core's checksum in the copy's own transaction where one is compared; a count elsewhere
    assert moves.SAME_TRANSACTION_NOTE in runs["journal_entries"].moves[0].notes
    assert runs["journal_entries"].checksum.startswith("typed2:")
    assert moves.SAME_TRANSACTION_NOTE not in runs["tasks"].moves[0].notes
    assert runs["tasks"].checksum.startswith("rows1:")
    assert runs["journal_entries"].partitions_dropped  # emptied months went at once
    with main.connect() as conn:
        entries = ledger.entries(conn, limit=100)
    assert {e.outcome for e in entries} <= {"moved", "nothing"}
    assert sum(e.rows for e in entries) == sum(r.rows for r in runs.values())
    for session in server_sessions(pgbouncer, tier_dsns["core"]):
        assert {k: session[k] for k in WATCHED} == defaults
    assert leftovers(tier_dsns["core"]) == (0, 0)


def test_summary_run_through_the_transaction_pooler(pgbouncer, tmp_path, tier_dsns):
    """The same summaries through the pooler as directly, stored in core."""
    cfg = pooled_cfg(tmp_path, tier_dsns, pgbouncer)
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=20, seed=3, as_of=LAST)
    first = LAST - dt.timedelta(days=6)
    direct_cfg = cfg.model_copy(update={"tiers": cfg.tiers.model_copy(update={
        "core": cfg.tiers.core.model_copy(update={"dsn": SecretStr(tier_dsns["core"]),
                                                  "pooler": "none"})})})

    pooled = summary.compute(handles.daily_handles(cfg), first, LAST)
    summary.store(handles.daily_handles(cfg), first, LAST, pooled)

    assert [s.day for s in pooled] == summary.days_between(first, LAST)
    assert pooled == summary.compute(handles.daily_handles(direct_cfg), first, LAST)
    assert summary.stored_days(handles.tiered_reader(direct_cfg), first, LAST) == set(
        summary.days_between(first, LAST))
    for session in server_sessions(pgbouncer, tier_dsns["core"]):
        assert {k: session[k] for k in WATCHED} == server_defaults(tier_dsns["core"])


def _mover(cfg, table: str, as_of: dt.date) -> None:
    """A second process moving the same table (os.fork: the same code, its own sessions)."""
    code = 0
    try:
        handles.run_table(cfg, resolve_tier(cfg, "core"), resolve_tier(cfg, "main"), table,
                            as_of)
    except BaseException as exc:  # noqa: BLE001 - reported through the exit code
        print(f"mover failed: {exc!r}", file=sys.stderr)
        code = 3
    os._exit(code)


@pytest.mark.parametrize("table", ["journal_entries", "tasks"])
def test_two_movers_of_one_table_through_the_pooler(pgbouncer, tmp_path, tier_dsns, table):
    """Two processes move the same table at once, core and main both behind the pooler (so
    the per-table lock is transaction-scoped): one waits for the other, nothing is lost or
    doubled, and each row moved is counted once in the ledger."""
    cfg = pooled_cfg(tmp_path, tier_dsns, pgbouncer, main_too=True)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=DAYS, seed=11, as_of=LAST)
    before = rows_text(core, table)
    with core.connect() as conn:
        due = lifecycle.planner.plan_table(conn, table, TABLES[table], cfg.timezone, LAST).rows
    assert due > 0

    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            _mover(cfg, table, LAST)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]

    assert codes == [0, 0]
    assert_conserved(core, main, table, before, ["id"])
    with core.connect() as conn:
        assert not lifecycle.planner.plan_table(conn, table, TABLES[table], cfg.timezone,
                                                LAST).days
    with main.connect() as conn:
        entries = [e for e in ledger.entries(conn, table, limit=100) if e.from_tier == "core"]
    assert {e.outcome for e in entries} <= {"moved", "nothing"}
    assert sum(e.rows for e in entries) == due
    spans = sorted((e.started_at, e.ended_at) for e in entries)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, "two movers of one table ran at the same time"
    for direct in tier_dsns.values():
        assert leftovers(direct) == (0, 0)


def test_pooler_mode_from_the_port_or_the_config(tmp_path, tier_dsns):
    """Port 6543 means the transaction pooler unless the config says otherwise; a wrong
    value is refused naming the key."""
    from persys_pipelines.lib.errors import ConfigError
    from persys_pipelines.lib.pg.tiers import PgTier

    url = "postgresql://postgres.abc@aws-0-eu.pooler.supabase.com:{}/postgres"
    assert PgTier("core", url.format(6543), False, None).transaction_pooled
    assert not PgTier("core", url.format(5432), False, None).transaction_pooled
    assert not PgTier("core", url.format(6543), False, None, pooler="session").transaction_pooled
    assert PgTier("core", url.format(7000), False, None, pooler="transaction").transaction_pooled
    tiers = {"core": {"dsn": tier_dsns["core"], "pooler": "pgbouncer"},
             "main": {"dsn": tier_dsns["main"]}}
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", tiers=tiers)
    with pytest.raises(ConfigError, match="tiers.core.pooler"):
        load_config(path)
