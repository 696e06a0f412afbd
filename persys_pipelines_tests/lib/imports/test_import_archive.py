"""Archive-bound imported rows go straight into archive files, never through main's table;
where the table or the month does not allow it, they go the staged way (main, then
main→archive), and the tiers end up the same."""

from __future__ import annotations

import datetime as dt
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive import format as fmt
from persys_pipelines.lib.archive import pins
from persys_pipelines.lib.errors import ArchiveError
from persys_pipelines.lib.imports.synthetic import write_export
from persys_pipelines.lib.moves import import_archive
from persys_pipelines.lib.pg import mirror
from persys_pipelines_tests.import_helpers import TODAY, keys_by_tier, project, run_import


def _export(tmp_path):
    path = tmp_path / "export.xml"
    write_export(path, 8_000, last_day=TODAY - dt.timedelta(days=1), days=500)
    return path


def _routes(cfg) -> dict[str, int]:
    """Rows the import's ledger entries wrote, by the tier each entry wrote into."""
    with resolve_tier(cfg, "main").connect() as conn:
        return dict(conn.execute(
            "select to_tier, sum(rows)::int from persys.ledger where route = 'import' "
            "and state = 'done' group by 1").fetchall())


def test_archive_bound_rows_never_touch_mains_table(cfg, tmp_path):
    project(cfg)
    path = _export(tmp_path)
    report = run_import(cfg, "apple-health", path)
    keys = keys_by_tier(cfg, "health_metrics")
    assert keys["archive"] and _routes(cfg) == {t: len(keys[t]) for t in keys}
    with resolve_tier(cfg, "main").connect() as conn:  # no main→archive step: no DELETE
        moved = conn.execute("select count(*) from persys.ledger where route = 'main_archive' "
                             "and state = 'done' and detail->>'deleted' is not null").fetchone()
        files = conn.execute("select count(*) from persys.ledger where route = 'main_archive' "
                             "and state = 'done'").fetchone()[0]
    assert files == len(report.delivered.archived["health_metrics"]) >= 2, moved


def test_a_trigger_on_mains_table_sends_them_the_staged_way(cfg, tmp_path):
    project(cfg)
    path = _export(tmp_path)
    with resolve_tier(cfg, "core").connect() as core, resolve_tier(cfg, "main").connect() as main:
        mirror.ensure_destination(core, main, "health_metrics", "measured_at", "core", "main")
        main.execute("create function persys_test_touch() returns trigger language plpgsql as "
                     "$$ begin return new; end $$")
        main.execute("create trigger touch before insert on health_metrics for each row "
                     "execute function persys_test_touch()")
        main.commit()
    run_import(cfg, "apple-health", path)
    keys = keys_by_tier(cfg, "health_metrics")
    every = keys["core"] + keys["main"] + keys["archive"]
    assert keys["archive"] and len(every) == len(set(every))
    routes = _routes(cfg)
    assert "archive" not in routes  # through main, then main→archive
    assert routes == {"core": len(keys["core"]), "main": len(keys["main"]) + len(keys["archive"])}


def test_a_row_whose_day_is_outside_its_month_goes_the_staged_way(cfg, tmp_path, monkeypatch):
    """If PostgreSQL's day of a row (its zone rules) ever disagreed with the reader's, the
    file would claim a month the row is not in: that batch is written the staged way."""
    project(cfg)
    path = _export(tmp_path)
    real, shifted = import_archive.main_archive.export_from, []

    def a_day_later(conn, spec, rows, pg_types=None, pkey=None):
        data = real(conn, spec, rows, pg_types, pkey)
        if shifted:
            return data
        shifted.append(True)
        name = fmt.day_of(data.schema)
        later = pc.cast(pc.add(data.column(name), pa.scalar(dt.timedelta(days=40))),
                        data.schema.field(name).type)
        return data.set_column(data.schema.get_field_index(name), name, later)

    monkeypatch.setattr(import_archive.main_archive, "export_from", a_day_later)
    run_import(cfg, "apple-health", path)
    keys = keys_by_tier(cfg, "health_metrics")
    every = keys["core"] + keys["main"] + keys["archive"]
    assert shifted and keys["archive"] and len(every) == len(set(every))
    routes = _routes(cfg)
    assert routes["archive"] + routes["main"] == len(keys["archive"]) + len(keys["main"])
    assert routes["main"] > len(keys["main"])  # one month went through main
    with resolve_tier(cfg, "main").connect() as conn:
        staged_way = conn.execute("select count(*) from persys.ledger where route = 'import' "
                                  "and detail ? 'staged_way'").fetchone()[0]
    assert staged_way == 1


def test_an_archive_share_that_is_not_mounted_is_refused_not_filled(cfg, tmp_path):
    """The archive folder empty of its marker while main's ledger says files went there (a
    NAS share not mounted): the import writes no file into the empty folder underneath."""
    project(cfg)
    first = tmp_path / "first.xml"
    write_export(first, 3_000, last_day=TODAY - dt.timedelta(days=200), days=300)
    run_import(cfg, "apple-health", first)
    archive = cfg.home / "archive"
    assert (archive / ".persys-archive").exists()
    for item in archive.iterdir():  # the share's mount point, empty
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    with pytest.raises(ArchiveError, match="no .persys-archive marker"):
        run_import(cfg, "apple-health", _export(tmp_path))
    assert not any(p.suffix == ".parquet" for p in archive.rglob("*"))


def test_a_month_with_pinned_days_keeps_them_in_main(cfg, tmp_path):
    """`persys archive pin` (or a restore) keeps days in main: an import's rows of them stay
    in main too, the rest of the month's rows go into the archive as usual."""
    project(cfg)
    path = _export(tmp_path)
    day = TODAY - dt.timedelta(days=400)
    pins.keep(resolve_tier(cfg, "main"), "health_metrics", day, day, TODAY + dt.timedelta(days=30))
    run_import(cfg, "apple-health", path)
    keys = keys_by_tier(cfg, "health_metrics")
    every = keys["core"] + keys["main"] + keys["archive"]
    assert keys["archive"] and len(every) == len(set(every))
    with resolve_tier(cfg, "main").connect() as conn:
        in_main = conn.execute("select count(*) from health_metrics where "
                               "(measured_at at time zone %s)::date = %s",
                               (cfg.timezone, day)).fetchone()[0]
        month_routes = conn.execute(
            "select to_tier from persys.ledger where route = 'import' and state = 'done' "
            "and first_day = %s", (day.replace(day=1),)).fetchall()
    assert in_main > 0  # the pinned day's rows
    assert [r[0] for r in month_routes] == ["main"]  # its month went the staged way
    assert _routes(cfg)["archive"] > 0  # other months straight into files


def test_a_unique_index_on_other_columns_sends_them_the_staged_way(cfg, tmp_path):
    """A unique index on other columns than the key checks a row against rows of other
    keys: in main it would refuse what a file would take. One that holds the key column
    (the key is unique anyway) does not stand in the way."""
    project(cfg)
    with resolve_tier(cfg, "core").connect() as core, resolve_tier(cfg, "main").connect() as main:
        mirror.ensure_destination(core, main, "health_metrics", "measured_at", "core", "main")
        main.execute("create unique index keyed on health_metrics (measured_at, id)")
        main.commit()
        spec = handles.spec(cfg, "health_metrics")
        months = [dt.date(2024, 1, 1)]
        assert import_archive.direct(main, spec, "id", TODAY, months) == set(months)
        main.execute("create unique index one_a_time on health_metrics (metric, measured_at, "
                     "value)")
        main.commit()
        assert import_archive.direct(main, spec, "id", TODAY, months) == set()
    run_import(cfg, "apple-health", _export(tmp_path))
    keys = keys_by_tier(cfg, "health_metrics")
    assert keys["archive"] and "archive" not in _routes(cfg)


def test_a_batch_that_fails_stops_the_rest_and_running_again_completes(cfg, tmp_path,
                                                                       monkeypatch):
    """Batches go through two workers: when one fails, no batch starts after it, the
    running one finishes, the error reaches the person, and the next run writes exactly what
    is missing (no key twice, none lost)."""
    from persys_pipelines.lib.moves import import_rows

    project(cfg)
    path = _export(tmp_path)
    real, started = import_rows._deliver_one, []

    def failing(locked, handles_, batch, *args):
        started.append(batch.month)
        if len(started) == 3:
            raise ArchiveError("the archive share went away")
        return real(locked, handles_, batch, *args)

    monkeypatch.setattr(import_rows, "_deliver_one", failing)
    with pytest.raises(ArchiveError, match="went away"):
        run_import(cfg, "apple-health", path)
    assert len(started) <= 4  # the third failed: at most the one running beside it finished
    monkeypatch.setattr(import_rows, "_deliver_one", real)
    report = run_import(cfg, "apple-health", path)
    keys = keys_by_tier(cfg, "health_metrics")
    every = [k for tier in keys.values() for k in tier]
    assert len(every) == len(set(every)) == report.spooled.rows - sum(
        report.delivered.repeated.values())
    assert len(keys["archive"]) > 0 and sum(report.delivered.new.values()) < len(every)
