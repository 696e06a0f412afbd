"""The odd values issue 21 found changed or refused, each on its own: each now archives and
restores exactly; a row dated ±infinity stops nothing; a value that cannot be kept exactly
(text that is not UTF-8) is refused for its month only, naming table, key, column and value."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest
import yaml
from psycopg import sql

from persys_pipelines import handles
from persys_pipelines.cli import main as cli
from persys_pipelines.handles import resolve_tier, setup_tiers
from persys_pipelines.lib.config import TablePolicy, load_config
from persys_pipelines.lib.monitoring import quota
from persys_pipelines.lib.tiering import reader
from persys_pipelines_tests.conftest import dsn_for
from persys_pipelines_tests.lib.archive.hostile import text_rows


def read(cfg, *args, **kwargs):
    """reader.read with the handles persys.yaml gives (handles.tiered_reader)."""
    return reader.read(handles.tiered_reader(cfg), *args, **kwargs)

ARCHIVE_AS_OF = dt.date(2024, 6, 1)
POLICY = TablePolicy(day_column="day", core_days=7, main_days=30)

CASES = {  # case → (column, its type, the odd value)
    "text array with lower bound 0": ("x", "text[]", "[0:1]={x,y}"),
    "int array with lower bound -5": ("x", "integer[]", "[-5:-4]={7,8}"),
    "two-dimensional array": ("x", "integer[]", "{{1,2},{3,4}}"),
    "NaN in double precision": ("x", "double precision", "NaN"),
    "numeric NaN": ("x", "numeric(10,2)", "NaN"),
    "BC date": ("x", "date", "0044-03-15 BC"),
    "five-digit year": ("x", "timestamp with time zone", "12345-01-01 00:00:00+00"),
    "-infinity timestamp": ("x", "timestamp without time zone", "-infinity"),
    "a column named _day": ("_day", "date", "2020-01-01"),
    "a column named t": ("t", "text", "t"),
}


def test_each_odd_value_archives_and_restores_exactly(cfg):
    """One table per case (one server for all: a case costs its own table, not a database);
    each case's odd row and a plain one in January, a plain row in February."""
    tables = {f"odd_{i}": case for i, case in enumerate(CASES)}
    cfg = cfg.model_copy(update={"tables": {**cfg.tables, **dict.fromkeys(tables, POLICY)}})
    setup_tiers(cfg)
    main = resolve_tier(cfg, "main")
    with main.connect() as conn:
        for table, case in tables.items():
            column, kind, value = CASES[case]
            conn.execute(sql.SQL("create table {} (id int primary key, day date not null, "
                                 "{} {})").format(sql.Identifier(table), sql.Identifier(column),
                                                  sql.SQL(kind)))
            conn.execute(sql.SQL("insert into {} values (1, '2024-01-05', %s), "
                                 "(2, '2024-01-06', null), (3, '2024-02-03', null)").format(
                sql.Identifier(table)), [value])
        conn.commit()
    before = {t: text_rows(main, t) for t in tables}

    results = handles.archive_due(cfg, ARCHIVE_AS_OF, tables=list(tables))

    for table, case in tables.items():
        done = [(r.month.month, r.rows, r.refused) for r in results if r.table == table]
        assert done == [(1, 2, None), (2, 1, None)], f"{case}: {done}"
        assert text_rows(main, table) == [], case
        handles.restore(cfg, table, dt.date(2024, 1, 1), dt.date(2024, 2, 29))
        assert text_rows(main, table) == before[table], case


def in_config(path, name: str, **policy):
    """persys.yaml at `path` with the table's policy added (the CLI reads the file)."""
    doc = yaml.safe_load(path.read_text())
    doc["tables"][name] = policy
    path.write_text(yaml.safe_dump(doc))
    return load_config(path)


def test_rows_dated_infinity_or_bc_stay_in_core_and_stop_nothing(config_path, capsys):
    """Such rows have no month: never due, left where they are, counted by `persys status`;
    every other row of the table, and every other table, moves as before."""
    cfg = in_config(config_path, "events", day_column="at", core_days=7, main_days=30)
    setup_tiers(cfg)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    with core.connect() as conn:
        conn.execute("create table events (id int primary key, at timestamptz)")
        conn.execute("insert into events values (1, '-infinity'), (2, 'infinity'), "
                     "(3, '0100-01-01 00:00+00 BC'), (4, '2024-01-10 12:00+00'), (5, null)")
        conn.execute("insert into journal_entries (entry_date, body, created_at) values "
                     "('-infinity', 'since forever', now()), "
                     "('2024-01-10', 'an ordinary day', now())")  # a partitioned table
        conn.commit()
    as_of = dt.date(2024, 4, 30)

    moved = {t: handles.run_table(cfg, core, main, t, as_of).rows
             for t in ("events", "journal_entries")}

    assert moved == {"events": 1, "journal_entries": 1}
    with core.connect() as conn:
        assert conn.execute("select count(*) from journal_entries").fetchone()[0] == 1
        conn.execute("insert into events values (6, '2024-01-11 08:00+00')")
        conn.commit()
    with main.connect() as conn:  # one in main too (a person's own write, a backup restore)
        conn.execute("insert into events values (7, '-infinity')")
        conn.commit()
    doc = handles.status(cfg, as_of)
    assert doc["tables"]["events"]["core"]["unplaced_day_rows"] == 3
    assert doc["tables"]["events"]["main"]["unplaced_day_rows"] == 1
    assert doc["tables"]["events"]["core"]["first_day"] == "2024-01-11"
    assert doc["lifecycle"]["tables"]["events"]["rows"] == 1
    assert doc["tables"]["journal_entries"]["core"]["unplaced_day_rows"] == 1
    assert [r.rows for r in handles.archive_due(cfg, ARCHIVE_AS_OF, tables=["events"])] == [1]
    with main.connect() as conn:
        assert conn.execute("select array_agg(id) from events").fetchone()[0] == [7]
    with core.connect() as conn:  # the quota's emergency plan reads days too
        plan = quota.emergency_plan(cfg.tables, cfg.timezone, conn, 10 << 20, 1, as_of)
    assert plan is not None and plan.first_day == dt.date(2024, 1, 11)

    frame = read(cfg, "events", None, dt.date(2024, 3, 31), include_undated=True)
    days = dict(zip(frame["id"], frame["day"], strict=True))
    assert {i: days[i] for i in (1, 2, 3, 5, 7)} == dict.fromkeys((1, 2, 3, 5, 7))
    at = dict(zip(frame["id"], frame["at"], strict=True))
    assert at[1] == "-infinity" and at[3].endswith(" BC"), "kept as PostgreSQL text"
    assert set(read(cfg, "events", None, dt.date(2024, 3, 31))["id"]) == {4, 6}

    capsys.readouterr()
    assert cli(["status", "--as-of", as_of.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "(3 rows in core dated ±infinity, BC or after 9999" in out
    assert cli(["status", "--json", "--as-of", as_of.isoformat()]) == 0
    assert json.loads(capsys.readouterr().out)["tables"]["events"]["main"][
        "unplaced_day_rows"] == 1


def test_widened_column_and_changed_timezone_still_restore(cfg):
    """A column widened after its months were archived, and a `timezone:` changed since: the
    file's own types and recorded days decide, every row comes back, none twice."""
    policy = TablePolicy(day_column="at", core_days=7, main_days=30)
    cfg = cfg.model_copy(update={"tables": {**cfg.tables, "meals": policy}})
    setup_tiers(cfg)
    main = resolve_tier(cfg, "main")
    with main.connect() as conn:
        conn.execute("create table meals (id int primary key, at timestamptz not null, "
                     "kcal numeric(6,2), name varchar(8))")
        conn.execute("insert into meals values "  # London: 23:30 on the 31st, 00:30 on the 1st
                     "(1, '2024-01-31 23:30+00', 512.5, 'late'), "
                     "(2, '2024-02-01 00:30+00', 9999.99, 'early'), "
                     "(3, '2024-02-15 12:00+00', null, 'lunch')")
        conn.commit()
    assert [r.rows for r in handles.archive_due(cfg, ARCHIVE_AS_OF, tables=["meals"])] == [1, 2]
    with main.connect() as conn:
        conn.execute("alter table meals alter kcal type numeric(12,4), alter name type text")
        conn.commit()
    tokyo = cfg.model_copy(update={"timezone": "Asia/Tokyo"})  # +09: row 1 is Feb 1 there

    one = handles.restore(tokyo, "meals", dt.date(2024, 1, 31), dt.date(2024, 1, 31))
    assert one.rows == 1, "cut by the day the file recorded (London), not Tokyo's"
    handles.restore(tokyo, "meals", dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    with main.connect() as conn:
        rows = conn.execute("select id, kcal::text, name from meals order by id").fetchall()
    assert rows == [(1, "512.5000", "late"), (2, "9999.9900", "early"), (3, None, "lunch")]


@pytest.fixture
def ascii_main(pg_admin_dsn, make_database, tmp_path, tier_dsns):
    """A config whose main is a SQL_ASCII database (text there may hold any bytes)."""
    name = f"t_ascii_{tmp_path.name[-20:]}".replace("-", "_").lower()
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} encoding 'SQL_ASCII' locale 'C' "
                             "template template0").format(sql.Identifier(name)))
    doc = {"home": str(tmp_path / "home"), "timezone": "Europe/London",
           "tiers": {"core": {"dsn": tier_dsns["core"]},
                     "main": {"dsn": dsn_for(pg_admin_dsn, name)},
                     "archive": {"url": f"file://{tmp_path / 'home' / 'archive'}"}},
           "tables": {t: {"day_column": "day", "core_days": 7, "main_days": 30}
                      for t in ("notes", "other")}}
    path = tmp_path / "persys.yaml"
    path.write_text(yaml.safe_dump(doc))
    yield load_config(path), path
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(name)))


def test_a_value_that_cannot_be_kept_is_refused_for_its_month_only(ascii_main, capsys):
    cfg, path = ascii_main
    setup_tiers(cfg)
    main = resolve_tier(cfg, "main")
    with main.connect() as conn:
        for table in ("notes", "other"):
            conn.execute(sql.SQL("create table {} (id int primary key, day date, body text)")
                         .format(sql.Identifier(table)))
            conn.execute(sql.SQL("insert into {} values (1, '2024-01-05', 'jan'), "
                                 "(2, '2024-02-05', 'feb'), (3, '2024-03-05', 'mar')")
                         .format(sql.Identifier(table)))
        conn.execute("insert into notes values (5, '2024-02-06', "
                     "convert_from(decode('41ff42', 'hex'), 'SQL_ASCII'))")
        conn.commit()

    assert cli(["archive", "run", "--config", str(path), "--as-of", "2024-06-01"]) == 1
    out = capsys.readouterr().out
    assert "REFUSED  notes 2024-02: notes: row (id)=(5) has body = A\\xffB" in out
    assert "not UTF-8" in out and "nothing was deleted" in out
    # January and March of notes, all of other
    assert "archived notes: 2 months, 2 files, 2 rows" in out
    assert "archived other: 3 months, 3 files, 3 rows" in out
    with main.connect() as conn:
        assert conn.execute("select array_agg(id order by id) from notes").fetchone()[0] == [2, 5]
        assert conn.execute("select count(*) from other").fetchone()[0] == 0

    backup = handles.backup(cfg, "main")
    assert "notes" in backup.refused and "(id)=(5)" in backup.refused["notes"]
    assert "persys.ledger" in backup.manifest["tables"], "the other tables are backed up"
