"""A large core→main range in two streams: two main transactions that settle as one copy,
and nothing left in both tiers (or in neither) once the next run settled a failure or a kill
between their commits."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import load_sample_data, resolve_tier, setup_tiers, spec
from persys_pipelines.lib.moves import core_main, settle, two_streams
from persys_pipelines.lib.pg import ledger
from persys_pipelines.lib.pg.session import pin_session
from persys_pipelines_tests.lifecycle_helpers import assert_conserved, rows_text

AS_OF = dt.date(2024, 4, 30)
FIRST, LAST = dt.date(2024, 2, 1), dt.date(2024, 3, 31)


@pytest.fixture
def world(cfg, monkeypatch):
    """Sample data over 90 days; every range of two days or more is split (no size floor)."""
    monkeypatch.setattr(two_streams, "TWO_STREAMS_FROM", 0)
    setup_tiers(cfg)
    load_sample_data(cfg, days=90, seed=5, as_of=AS_OF)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    return cfg, core, main


def _move(cfg, core, main) -> core_main.MoveResult:
    table = spec(cfg, "journal_entries")
    return handles.move_range(cfg, core, main, core_main.MoveRange(
        "journal_entries", table.policy, table.zone, FIRST, LAST))


class Killed(BaseException):
    """The mover stopped at a crash point (in-process: nothing after it runs)."""


def _killed_move(cfg, core, main, monkeypatch, point: str) -> None:
    """`_move`, stopped at core→main's crash point `point`."""

    def killed(self, at: str) -> None:
        if at == point:
            raise Killed

    with monkeypatch.context() as m:
        m.setattr(core_main.CORE_MAIN.__class__, "crash", killed)
        with pytest.raises(Killed):
            _move(cfg, core, main)


def _in_range(tier) -> int:
    with tier.connect() as conn:
        return conn.execute("select count(*) from journal_entries where entry_date between "
                            "%s and %s", (FIRST, LAST)).fetchone()[0]


def _entry(main) -> ledger.LedgerEntry:
    with main.connect() as conn:
        return ledger.entries(conn, "journal_entries", route="core_main")[0]


def test_the_split_day_halves_the_bytes_and_small_or_open_ranges_stay_one_stream(world,
                                                                                   monkeypatch):
    _, core, _ = world
    with core.connect() as conn:
        day = two_streams.split_day(conn, "journal_entries", FIRST, LAST)
        assert FIRST < day <= LAST and abs((day - dt.date(2024, 3, 1)).days) <= 2
        assert two_streams.split_day(conn, "journal_entries", None, LAST) is None
        assert two_streams.split_day(conn, "journal_entries", FIRST, FIRST) is None
        monkeypatch.setattr(two_streams, "TWO_STREAMS_FROM", 16 << 20)
        assert two_streams.split_day(conn, "journal_entries", FIRST, LAST) is None


def test_a_range_in_two_streams_moves_every_row_once_and_names_both_transactions(world):
    cfg, core, main = world
    before = rows_text(core, "journal_entries") + rows_text(main, "journal_entries")
    expected = _in_range(core)
    result = _move(cfg, core, main)
    assert result.rows == expected > 0 and _in_range(core) == 0 and _in_range(main) == expected
    assert_conserved(core, main, "journal_entries", before, ["id"])
    entry = _entry(main)
    assert entry.state == "done" and len(entry.detail["helper_xids"]) == 1
    assert 0 < entry.detail["helper_rows"] < expected
    assert entry.detail["helper_xids"][0] != entry.detail["main_xid"]


@pytest.mark.parametrize("days", [("2024-02-03", "2024-02-20"), ("2024-03-10", "2024-03-31")],
                         ids=["first half", "second half"])
def test_a_key_main_holds_already_sends_the_whole_range_through_the_staged_upsert(world,
                                                                                   days):
    """Either stream meets the key: the other is stopped (or ends), both roll back, and the
    range goes once through the staged upsert, core's version winning."""
    cfg, core, main = world
    with core.connect() as c, main.connect() as m:  # a row of that half, in main too
        row = c.execute("select * from journal_entries where entry_date between %s and %s "
                        "order by id limit 1", days).fetchone()
        cols = [d.name for d in c.execute("select * from journal_entries limit 0").description]
        m.execute(f"insert into journal_entries ({', '.join(cols)}) values "
                  f"({', '.join(['%s'] * len(cols))})", row)
        m.execute("update journal_entries set body = 'stale copy' where id = %s", (row[0],))
    before = rows_text(core, "journal_entries")
    expected = _in_range(core)
    result = _move(cfg, core, main)
    assert result.rows == expected and result.checksum.startswith("typed2:")
    assert rows_text(main, "journal_entries") == before - rows_text(core, "journal_entries")
    assert not _entry(main).detail["helper_xids"], "one stream: the staged way"


def test_a_failure_between_the_two_commits_leaves_half_a_copy_the_next_run_settles(
        world, monkeypatch):
    """The helper committed its half, the first stream's commit failed: both halves are
    still in core, one also in main; the next run settles that half (core lets go of it)
    and moves the other: every row once, the first entry ends `done` as repaired."""
    cfg, core, main = world
    before = rows_text(core, "journal_entries") + rows_text(main, "journal_entries")
    expected = _in_range(core)

    def broken(self) -> dict:
        raise RuntimeError("main went away before the first stream committed")

    with monkeypatch.context() as m:
        m.setattr(settle.Copied, "ledger_detail", broken)
        with pytest.raises(RuntimeError, match="went away"):
            _move(cfg, core, main)
    entry = _entry(main)
    assert entry.state == two_streams.HALF and 0 < entry.detail["helper_rows"] < expected
    assert _in_range(core) == expected and _in_range(main) == entry.detail["helper_rows"]
    result = _move(cfg, core, main)
    assert result.repaired == 1 and _in_range(core) == 0 and _in_range(main) == expected
    assert_conserved(core, main, "journal_entries", before, ["id"])
    with main.connect() as conn:
        done = ledger.entries(conn, "journal_entries", route="core_main")
    assert [e.state for e in done] == ["done", "done"] and done[1].detail["repaired"]
    assert done[1].rows == entry.detail["helper_rows"]


def test_a_mover_killed_between_the_two_commits_is_settled_by_the_next_run(world, monkeypatch):
    """Killed right after the helper committed (its half in main and in core), with the app
    editing a row of that half meanwhile: the next run settles the half (the edited row stays
    in core, main's copy of it goes), then moves what is left."""
    cfg, core, main = world
    before = rows_text(core, "journal_entries") + rows_text(main, "journal_entries")

    _killed_move(cfg, core, main, monkeypatch, "helper_committed")
    assert _entry(main).state == two_streams.HALF
    with core.connect() as app:
        key = app.execute("update journal_entries set body = 'edited' where id = (select id "
                          "from journal_entries where entry_date = %s order by id limit 1) "
                          "returning id", (LAST,)).fetchone()[0]
    before = before - Counter(r for r in before if r.startswith(f"({key},"))
    result = _move(cfg, core, main)
    assert result.repaired == 1 and _in_range(core) == 0
    with core.connect() as c, main.connect() as m:
        assert m.execute("select body from journal_entries where id = %s",
                         (key,)).fetchone()[0] == "edited", "core's edit moved, not the copy"
        assert c.execute("select count(*) from journal_entries where id = %s",
                         (key,)).fetchone()[0] == 0
    after = rows_text(core, "journal_entries") + rows_text(main, "journal_entries")
    assert after - Counter(r for r in after if r.startswith(f"({key},")) == before


def test_rows_the_app_changes_during_the_copy_stay_in_core_in_either_half(world,
                                                                          monkeypatch):
    """The app edits one row of each half after the copy's snapshot: both edits stay in core
    (core's truth), and main's stale copies go, whichever transaction wrote them."""
    cfg, core, main = world
    commit_helper = two_streams.commit_helper
    edited = []

    def app_writes_then_commit(dst, step, *half):
        with core.connect(autocommit=True) as app:
            pin_session(app)
            for lo, hi in ((FIRST, dt.date(2024, 2, 20)), (dt.date(2024, 3, 10), LAST)):
                edited.append(app.execute(
                    "update journal_entries set body = 'edited by the app' where id = (select "
                    "id from journal_entries where entry_date between %s and %s order by id "
                    "limit 1) returning id", (lo, hi)).fetchone()[0])
        return commit_helper(dst, step, *half)

    monkeypatch.setattr(two_streams, "commit_helper", app_writes_then_commit)
    expected = _in_range(core)
    result = _move(cfg, core, main)
    assert result.kept == 2 and result.rows == expected - 2
    with core.connect() as c, main.connect() as m:
        for key in edited:
            assert c.execute("select body from journal_entries where id = %s",
                             (key,)).fetchone()[0] == "edited by the app"
            assert m.execute("select count(*) from journal_entries where id = %s",
                             (key,)).fetchone()[0] == 0


@pytest.mark.parametrize("point", ["helper_committed", "main_committed"])
def test_a_month_an_unsettled_copy_covers_is_archived_only_once_it_is_settled(world,
                                                                              monkeypatch,
                                                                              point):
    """A move killed after main committed (half or all of it), the app editing a row of it
    in core, then an archive run before any core→main run: the month stays in main (its rows
    are still core's), and after the next move settles it, archiving keeps the app's
    version once, not main's stale copy beside it (the oracle found that duplicate)."""
    from persys_pipelines.lib.config import TablePolicy
    from persys_pipelines_tests.oracle.checker import read_everything

    cfg, core, main = world
    cfg = cfg.model_copy(update={"tables": {**cfg.tables, "journal_entries": TablePolicy(
        **{**cfg.tables["journal_entries"].model_dump(), "main_days": 20, "core_days": 0})}})

    _killed_move(cfg, core, main, monkeypatch, point)
    with core.connect() as app:
        key = str(app.execute("update journal_entries set body = 'edited' where id = (select "
                              "id from journal_entries where entry_date = '2024-03-30' order "
                              "by id limit 1) returning id").fetchone()[0])
    march = [dt.date(2024, 3, 1)]
    assert handles.archive_months(cfg, "journal_entries", march, as_of=AS_OF)[0].rows == 0
    _move(cfg, core, main)
    assert handles.archive_months(cfg, "journal_entries", march, as_of=AS_OF)[0].rows > 0
    copies = read_everything(cfg).rows["journal_entries"][key]
    assert len(copies) == 1 and copies[0][1][2] == "edited", copies


@pytest.mark.parametrize("point", ["helper_committed", "main_committed"])
def test_a_backup_of_main_leaves_out_an_unsettled_copy(world, monkeypatch, point):
    """A move killed after main committed (half or all of it), then a backup of main, the app
    deleting a row of the copy in core, the next move settling it (main's copy goes), then
    a merge of that backup: the row the app deleted stays deleted (the backup held main's
    copy of a row that was still core's: found by the oracle, the row back in the archive)."""
    cfg, core, main = world

    _killed_move(cfg, core, main, monkeypatch, point)
    in_main = _in_range(main)
    assert in_main > 0
    backup = handles.backup(cfg, "main")
    assert backup.manifest["tables"]["journal_entries"]["rows"] == 0, "only copies in main"
    with core.connect() as app:
        key = str(app.execute("delete from journal_entries where id = (select id from "
                              "journal_entries where entry_date = '2024-03-30' order by id "
                              "limit 1) returning id").fetchone()[0])
    _move(cfg, core, main)
    assert _in_range(core) == 0
    done = handles.restore_backup(cfg, backup, ["journal_entries"])[0]
    assert done.inserted == 0
    for tier in (core, main):
        with tier.connect() as conn:
            assert conn.execute("select count(*) from journal_entries where id = %s",
                                (key,)).fetchone()[0] == 0


@pytest.mark.parametrize("point", ["helper_committed", "main_committed"])
def test_settling_deletes_in_core_only_what_main_still_holds(world, monkeypatch, point):
    """A move killed after main committed, then one of main's copies lost there (a replacing
    backup restore, a hand delete) before the next move settles it: that row stays in core
    instead of being deleted as copied, and the same run then moves it; a row the app
    deleted meanwhile leaves main too (one each: the counts alone would agree)."""
    cfg, core, main = world

    _killed_move(cfg, core, main, monkeypatch, point)
    with main.connect() as conn:
        key = str(conn.execute("delete from journal_entries where id = (select id from "
                               "journal_entries where entry_date = '2024-03-30' order by id "
                               "limit 1) returning id").fetchone()[0])
    with core.connect() as app:  # and the app deletes another: the counts would agree
        gone = str(app.execute("delete from journal_entries where id = (select id from "
                               "journal_entries where entry_date = '2024-03-29' order by id "
                               "limit 1) returning id").fetchone()[0])
    _move(cfg, core, main)  # settles the killed copy (the row stays in core), then moves
    assert _in_range(core) == 0
    with main.connect() as conn:
        count = "select count(*) from journal_entries where id = %s"
        assert conn.execute(count, (key,)).fetchone()[0] == 1, "moved once, not lost"
        assert conn.execute(count, (gone,)).fetchone()[0] == 0, "deleted by the app"
