"""The move protocol and the lifecycle of one table: exact round-trips, any table, late rows,
only_when, local-day boundaries, schema differences, ledger and space returned."""

from __future__ import annotations

import datetime as dt

import pytest
from psycopg import sql

from persys_pipelines import handles
from persys_pipelines import handles as setup_lib
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import TablePolicy
from persys_pipelines.lib.moves import core_main as moves
from persys_pipelines.lib.pg import ledger, mirror
from persys_pipelines.lib.pg import partitions as space
from persys_pipelines.lib.pg.tables import day_range
from persys_pipelines.lib.tiering import planner
from persys_pipelines_tests.lifecycle_helpers import assert_conserved, rows_text

AS_OF = dt.date(2024, 6, 15)
ZONE = "Europe/London"


@pytest.fixture
def tiers(cfg):
    setup_lib.setup_tiers(cfg)
    return resolve_tier(cfg, "core"), resolve_tier(cfg, "main")


def with_table(cfg, name: str, policy: TablePolicy):
    return cfg.model_copy(update={"tables": {**cfg.tables, name: policy}})


USER_TABLE = """
create table readings (
    device text not null,
    seq integer not null,
    taken_at timestamptz not null,
    labels text[],
    payload jsonb,
    amount numeric(20,6),
    note text,
    primary key (device, seq)
)"""


def test_user_table_round_trips_exactly_with_composite_key(cfg, tiers):
    """A table the person made (composite key, text[], jsonb, numeric, NULLs, unicode) moves
    byte-exact; main's table is created from core's definition."""
    core, main = tiers
    with core.connect() as conn:
        conn.execute(USER_TABLE)
        conn.execute(
            """insert into readings values
               ('a', 1, '2024-05-01 23:30+01', '{x,"y z",NULL}', '{"k": [1, 2.50, null]}',
                12345678901234.123456, 'żółw 🐢 ''quoted'' \\ back'),
               ('a', 2, '2024-05-02 10:00+01', NULL, NULL, NULL, NULL),
               ('b', 1, '2024-05-03 00:30+01', '{}', '"just text"', -0.000001, ''),
               ('b', 2, '2024-06-14 09:00+01', '{new}', '{}', 1, 'stays')""")
    policy = TablePolicy(day_column="taken_at", core_days=7)
    cfg = with_table(cfg, "readings", policy)
    before = rows_text(core, "readings")

    run = handles.run_table(cfg, core, main, "readings", AS_OF)

    assert run.rows == 3 and run.days == 3
    assert rows_text(main, "readings") + rows_text(core, "readings") == before
    assert sum(rows_text(core, "readings").values()) == 1
    with main.connect() as conn:
        shape = mirror.table_shape(conn, "readings")
        assert shape.primary_key == ["device", "seq"]
        assert shape.columns["labels"] == "text[]" and shape.columns["amount"] == "numeric(20,6)"
        note = conn.execute("select note from readings where device='a' and seq=1").fetchone()[0]
        assert note == "żółw 🐢 'quoted' \\ back"
        entry = ledger.entries(conn, "readings")[0]
    assert entry.outcome == "moved" and entry.rows == 3 and entry.fingerprint == run.checksum
    assert assert_conserved(core, main, "readings", before, ["device", "seq"]) is None


def test_schema_difference_is_a_clear_error_and_moves_nothing(cfg, tiers):
    core, main = tiers
    for tier, kind in ((core, "numeric"), (main, "double precision")):
        with tier.connect() as conn:
            conn.execute(f"create table m (id int primary key, day date not null, v {kind})")
    with core.connect() as conn:
        conn.execute("insert into m values (1, '2024-01-01', 1.5)")
    cfg = with_table(cfg, "m", TablePolicy(day_column="day", core_days=1))
    with pytest.raises(mirror.SchemaMismatch, match=r"table m, column 3: core has 'v numeric' "
                                                   r"but main has 'v double precision'"):
        handles.run_table(cfg, core, main, "m", AS_OF)
    assert sum(rows_text(core, "m").values()) == 1


def test_late_rows_for_a_moved_day_move_next_run(cfg, tiers):
    core, main = tiers
    with core.connect() as conn:
        conn.execute("""insert into transactions (occurred_on, amount, category)
                        values ('2024-04-01', -3, 'x'), ('2024-04-02', -4, 'y')""")
    assert handles.run_table(cfg, core, main, "transactions", AS_OF).rows == 2
    with core.connect() as conn:  # a bank feed delivers a late row for a moved day
        conn.execute("insert into transactions (occurred_on, amount, category) "
                     "values ('2024-04-01', -5, 'late')")
    run = handles.run_table(cfg, core, main, "transactions", AS_OF)
    assert (run.rows, sorted(run.plan.days)) == (1, [dt.date(2024, 4, 1)])
    assert sum(rows_text(main, "transactions").values()) == 3
    assert not rows_text(core, "transactions")


def test_only_when_keeps_open_tasks_and_undated_rows_in_core(cfg, tiers):
    core, main = tiers
    with core.connect() as conn:
        conn.execute("""insert into tasks (title, status, completed_at) values
                        ('done long ago', 'done', '2024-03-01 12:00+00'),
                        ('open, no day', 'open', null),
                        ('reopened but dated', 'open', '2024-03-02 12:00+00'),
                        ('done recently', 'done', '2024-06-10 12:00+00')""")
    run = handles.run_table(cfg, core, main, "tasks", AS_OF)
    assert run.rows == 1
    with core.connect() as conn:
        left = sorted(r[0] for r in conn.execute("select title from tasks"))
    assert left == ["done recently", "open, no day", "reopened but dated"]
    assert run.space is not None and run.space.rewritten  # plain table, plenty of room


def test_local_day_boundaries_around_midnight_and_dst(cfg, tiers):
    """23:30 and 00:30 local on both sides of midnight and of the spring-forward night:
    the cutoff day (local) decides, not UTC."""
    core, main = tiers
    stamps = {  # local time → UTC instant
        "2024-03-30 23:30": "2024-03-30 23:30+00",  # GMT
        "2024-03-31 00:30": "2024-03-31 00:30+00",  # still GMT (clocks go forward at 01:00)
        "2024-03-31 23:30": "2024-03-31 22:30+00",  # BST
        "2024-04-01 00:30": "2024-03-31 23:30+00",  # BST: UTC still says 31 March
    }
    with core.connect() as conn:
        for local, utc in stamps.items():
            conn.execute("insert into health_metrics (measured_at, metric, value, unit, source) "
                         "values (%s, 'm', 1, 'u', %s)", (utc, local))
    cfg = cfg.model_copy(update={"tables": {**cfg.tables, "health_metrics": TablePolicy(
        day_column="measured_at", core_days=0)}})
    with core.connect() as conn:
        plan = planner.plan_table(conn, "health_metrics", cfg.tables["health_metrics"], ZONE,
                                  dt.date(2024, 4, 1))
    assert plan.days == {dt.date(2024, 3, 30): 1, dt.date(2024, 3, 31): 2}
    run = handles.run_table(cfg, core, main, "health_metrics", dt.date(2024, 4, 1))
    assert run.rows == 3
    with core.connect() as conn:
        assert [r[0] for r in conn.execute("select source from health_metrics")] == [
            "2024-04-01 00:30"]
    # the month partitions hold rows by local month: 1 April 00:30 BST is in April's
    with core.connect() as conn:
        assert space.month_partitions(conn, "health_metrics")[dt.date(2024, 4, 1)]
        n = conn.execute("select count(*) from health_metrics_p2024_04").fetchone()[0]
    assert n == 1


def test_sample_data_lifecycle_keeps_recent_days_returns_space(cfg, tiers):
    core, main = tiers
    setup_lib.load_sample_data(cfg, days=120, seed=3, as_of=AS_OF)
    before = {t: rows_text(core, t) for t in cfg.tables}
    size_before = core.size_bytes()
    runs = {t: handles.run_table(cfg, core, main, t, AS_OF) for t in cfg.tables}
    for t, policy in cfg.tables.items():
        pk = ["id"] if t not in ("daily_summaries", "daily_projections", "voice_messages") \
            else ["day"]
        assert_conserved(core, main, t, before[t], pk)
        with core.connect() as conn:
            again = planner.plan_table(conn, t, policy, ZONE, AS_OF)
        assert not again.days, t
        with core.connect() as conn:
            left = day_range(conn, t, policy, ZONE)
        assert left.first_day is None or left.first_day >= AS_OF - dt.timedelta(policy.core_days)
    assert runs["journal_entries"].plan.cutoff == dt.date(2024, 6, 8)
    assert 100 < runs["journal_entries"].days <= 120 - 8
    assert sorted(runs["health_metrics"].partitions_dropped) == [
        "health_metrics_p2024_02", "health_metrics_p2024_03", "health_metrics_p2024_04"]
    returned = sum(r.bytes_returned for r in runs.values())
    assert returned > 0 and core.size_bytes() < size_before
    with main.connect() as conn:
        outcomes = {e.outcome for e in ledger.entries(conn, limit=1000)}
        n = conn.execute("select count(*) from persys.ledger").fetchone()[0]
    assert outcomes == {"moved"} and n >= 4 * 5  # one move per table and month


def test_plain_table_rewrite_skipped_when_space_is_short(cfg, tiers):
    core, _ = tiers
    tight = core.__class__(core.name, core.dsn, core.embedded, core.size_bytes() + 1000)
    with core.connect() as conn:
        conn.execute("insert into tasks (title, status, completed_at) "
                     "select 'x', 'done', '2024-01-01' from generate_series(1, 500)")
    with core.connect(autocommit=True) as conn:
        conn.execute("delete from tasks where ctid in (select ctid from tasks limit 250)")
        result = space.return_space(tight, conn, "tasks", AS_OF, 250)
    assert not result.rewritten and "VACUUM FULL skipped: needs" in result.note


def test_rows_in_default_partition_get_their_month(cfg, tiers):
    """A row written before its month's partition existed lands in DEFAULT; the nightly
    preparation creates the empty months ahead and the partition route gives the row's month
    a partition (moving it out of DEFAULT), so its space can be returned later."""
    from persys_pipelines.lib.moves import partition

    core, main = tiers
    with core.connect() as conn:
        conn.execute("insert into journal_entries (entry_date, body) values ('2024-02-03', 'b')")
        assert conn.execute("select count(*) from journal_entries_pdefault").fetchone()[0] == 1
    with core.connect(autocommit=True) as conn:
        created, waiting = space.prepare_partitions(
            conn, "journal_entries", cfg.tables["journal_entries"], ZONE, AS_OF)
        assert "journal_entries_p2024_07" in created and waiting == [dt.date(2024, 2, 1)]
    done = partition.from_default(handles.engine(cfg, main=main), core,
                                  handles.spec(cfg, "journal_entries"), waiting)
    assert done.created == ["journal_entries_p2024_02"] and done.rows == 1
    with core.connect(autocommit=True) as conn:
        assert conn.execute(sql.SQL("select count(*) from journal_entries_p2024_02")
                            ).fetchone()[0] == 1
        assert conn.execute("select count(*) from journal_entries_pdefault").fetchone()[0] == 0


def test_whole_months_are_truncated_and_a_concurrent_writer_loses_nothing(cfg, tiers):
    """A range covering whole month partitions truncates them instead of deleting row by row;
    a row another session is writing into such a month during the move is not waited for:
    its insert succeeds, the row stays in core (that month is then deleted row by row) and
    the next move takes it. Nothing is lost or doubled."""
    import threading

    core, main = tiers
    with core.connect() as conn:
        space.ensure_months(conn, "journal_entries", cfg.tables["journal_entries"], ZONE,
                            [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)])
        conn.execute("""insert into journal_entries (entry_date, body)
                        select d::date, 'day ' || d::date from generate_series(
                        '2024-01-01'::date, '2024-02-29'::date, interval '1 day') d""")
        conn.commit()
    before = rows_text(core, "journal_entries")
    writer = core.connect()
    writer.execute("insert into journal_entries (entry_date, body) values "
                   "('2024-02-10', 'written while the move runs')")  # not yet committed
    rng = moves.MoveRange("journal_entries", cfg.tables["journal_entries"], ZONE,
                          dt.date(2024, 1, 1), dt.date(2024, 2, 29))
    out: dict = {}
    mover = threading.Thread(target=lambda: out.update(r=handles.move_range(cfg, core, main, rng)))
    mover.start()
    mover.join(timeout=1.5)
    writer.commit()  # the app's statement never failed; its transaction commits fine
    writer.close()
    mover.join(timeout=120)
    result = out["r"]
    assert result.rows == 60 and result.partitions_dropped == ["journal_entries_p2024_01"]
    assert [r for r in rows_text(core, "journal_entries") if "written while" in r]
    assert before - rows_text(main, "journal_entries") == {}
    again = handles.move_range(cfg, core, main, rng)
    assert again.rows == 1 and sum(rows_text(core, "journal_entries").values()) == 0
    after_main = rows_text(main, "journal_entries")
    assert sum(after_main.values()) == 61
    assert any("written while the move runs" in row for row in after_main)


def test_a_table_nobody_writes_keeps_only_its_recent_months(cfg, tiers):
    """voice_messages without a briefing: every run makes its months ahead, and the empty
    months behind the cutoff go again; ten years of runs must not leave 120 partitions that
    every statement on the table plans."""
    core, main = tiers
    for month in range(1, 13):
        run = handles.run_table(cfg, core, main, "voice_messages", dt.date(2024, month, 15))
    with core.connect() as conn:
        months = sorted(space.month_partitions(conn, "voice_messages"))
    assert months[0] >= dt.date(2024, 11, 1), months
    assert run.partitions_dropped == ["voice_messages_p2024_10"]
