"""Restore safety and pins: restoring days again, or days without rows, changes nothing (the
month's file is never deleted for a same-key "remainder"); restored days stay in main until
their pin ends or the person unpins them, and `persys status` shows the pins."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

from psycopg.types.json import Jsonb

from persys_pipelines import handles
from persys_pipelines.cli import main
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive import manifest, pins
from persys_pipelines.lib.archive.format import read_parquet
from persys_pipelines.lib.monitoring import status as status_lib
from persys_pipelines.lib.moves import main_archive as archive
from persys_pipelines_tests.archive_helpers import LATER, count, rows_in_main

TABLE = "journal_entries"
MARCH_10, MARCH_12 = dt.date(2024, 3, 10), dt.date(2024, 3, 12)


def archive_state(cfg) -> tuple[list[dict], dict[str, bytes]]:
    """(manifest entries, key → stored bytes of every file) of the table in the active store."""
    store = handles.archive_stores(cfg).active
    files = {o.key: store.get(o.key) for o in store.list(f"{TABLE}/")
             if o.key.endswith(".parquet")}
    return manifest.read_manifest(store, TABLE).files, files


def ids_in_main(cfg) -> list[str]:
    with resolve_tier(cfg, "main").connect() as conn:
        return [str(r[0]) for r in conn.execute(f"select id from {TABLE}").fetchall()]


def assert_each_row_in_one_place(cfg, ids: list[str]) -> None:
    """Every row is in main or in one committed archive file, exactly once; verify is clean."""
    entries, files = archive_state(cfg)
    assert {e.key for e in entries} == set(files), "manifest and files agree"
    ring = handles.keyring(cfg)
    store = handles.archive_stores(cfg).active
    archived = []
    for entry in entries:
        plain, _ = manifest.load_file(store, ring, entry)
        archived += _uuid_texts(read_parquet(plain).column("id").to_pylist())
    assert Counter(ids_in_main(cfg) + archived) == Counter(ids)
    report = handles.verify_archive(cfg)
    assert report.ok and not report.orphans and not report.pending


def _uuid_texts(values: list[bytes]) -> list[str]:
    import uuid

    return [str(uuid.UUID(bytes=v)) for v in values]


def restores_in_ledger(cfg) -> int:
    with resolve_tier(cfg, "main").connect() as conn:
        return conn.execute("select count(*) from persys.ledger where from_tier = 'archive' "
                            "and to_tier = 'main'").fetchone()[0]


def test_restoring_the_same_days_twice_changes_nothing_the_second_time(cfg, capsys):
    rows_in_main(cfg)
    ids = ids_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    args = ["archive", "restore", TABLE, "--from", "2024-03-10", "--to", "2024-03-12"]
    assert main(args) == 0
    assert "pinned in main until" in capsys.readouterr().out
    restored = count(cfg, TABLE)
    assert restored > 0
    state, ledger_rows = archive_state(cfg), restores_in_ledger(cfg)
    assert_each_row_in_one_place(cfg, ids)

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "restored 0 rows" in out and "from 0 files" in out and "pinned" not in out
    assert archive_state(cfg) == state, "no file written, replaced or deleted"
    assert restores_in_ledger(cfg) == ledger_rows and count(cfg, TABLE) == restored
    assert_each_row_in_one_place(cfg, ids)
    assert main(["archive", "verify"]) == 0

    # a whole month twice: the second time there is no March file left to touch
    whole = handles.restore(cfg, TABLE, dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    assert whole.rows > 0 and not whole.remainders
    state = archive_state(cfg)
    again = handles.restore(cfg, TABLE, dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    assert (again.rows, again.files) == (0, []) and archive_state(cfg) == state
    assert_each_row_in_one_place(cfg, ids)


def test_restoring_a_day_without_rows_leaves_the_month_file_alone(cfg):
    rows_in_main(cfg)
    with resolve_tier(cfg, "main").connect() as conn:
        conn.execute(f"delete from {TABLE} where entry_date = '2024-03-15'")
        conn.commit()
    ids = ids_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    state, ledger_rows = archive_state(cfg), restores_in_ledger(cfg)
    march = [e for e in state[0] if e.month == "2024-03"]
    assert len(march) == 1 and march[0].min_day < "2024-03-15" < march[0].max_day

    got = handles.restore(cfg, TABLE, dt.date(2024, 3, 15), dt.date(2024, 3, 15))
    assert (got.rows, got.files, got.remainders, got.pinned_until) == (0, [], [], None)
    assert archive_state(cfg) == state, "the month's file is untouched"
    assert restores_in_ledger(cfg) == ledger_rows and count(cfg, TABLE) == 0
    with resolve_tier(cfg, "main").connect() as conn:
        assert pins.active_pins(conn, LATER) == [], "nothing restored, nothing pinned"
    assert_each_row_in_one_place(cfg, ids)


def test_crash_repair_never_deletes_a_file_whose_remainder_has_its_key(cfg):
    """A ledger entry left by an older restore that re-encoded a whole file (remainder key ==
    file key): neither the restore's swap nor the repair on the next run deletes the file."""
    import dataclasses

    from persys_pipelines.lib.moves import archive_main

    rows_in_main(cfg)
    ids = ids_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    target = handles.target(cfg)
    entries, files = archive_state(cfg)
    entry = entries[1]
    same = dataclasses.replace(entry, ledger_id=entry.ledger_id + 1000)
    archive_main.finish(target, TABLE, entry.key, same)
    assert archive_state(cfg) == (entries, files)

    tier = resolve_tier(cfg, "main")
    with tier.connect() as conn:
        conn.execute(
            "insert into persys.ledger (route, table_name, first_day, last_day, from_tier, "
            "to_tier, state, detail) values ('archive_main', %s, '2024-03-15', '2024-03-15', "
            "'archive', 'main', 'done', %s)",
            (TABLE, Jsonb({"key": entry.key, "store": target.store.url,
                           "entry_ledger_id": entry.ledger_id, "remainder": same.to_json()})))
        conn.commit()
    assert not handles.repair_all(cfg, [TABLE], apply=True)[0].archive
    assert archive_state(cfg) == (entries, files)
    assert_each_row_in_one_place(cfg, ids)


def test_restored_days_stay_in_main_until_unpinned(cfg, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    (tmp_path / "dh").mkdir()
    rows_in_main(cfg)
    ids = ids_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    got = handles.restore(cfg, TABLE, MARCH_10, MARCH_12)
    until = cfg.today() + dt.timedelta(days=pins.DEFAULT_PIN_DAYS)
    assert got.rows > 0 and got.pinned_until == until

    # the next archive run, as of a later day, leaves the pinned days in main
    assert archive.due_month_rows(resolve_tier(cfg, "main"), handles.spec(cfg, TABLE),
                                  LATER) == {}
    assert handles.archive_due(cfg, LATER, tables=[TABLE]) == []
    assert main(["lifecycle", "run", "--as-of", LATER.isoformat(), "--table", TABLE]) == 0
    capsys.readouterr()
    assert count(cfg, TABLE) == got.rows
    assert_each_row_in_one_place(cfg, ids)
    # the pin ends on its `until` day
    assert list(archive.due_month_rows(resolve_tier(cfg, "main"), handles.spec(cfg, TABLE),
                                       until)) == [dt.date(2024, 3, 1)]

    doc = handles.status(cfg, LATER)
    assert doc["pins"] == [{"table": TABLE, "first_day": "2024-03-10",
                            "last_day": "2024-03-12", "until": until.isoformat(),
                            "created_at": doc["pins"][0]["created_at"]}]
    assert f"{TABLE}" in status_lib.render(doc).split("Pinned in main")[1]
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pins"][0]["until"] == until.isoformat()

    # unpinning one day lets only that day go; unpinning the table lets the rest go
    changed = pins.unpin(resolve_tier(cfg, "main"), TABLE, dt.date(2024, 3, 11),
                         dt.date(2024, 3, 11))
    assert [(p.first_day, p.last_day) for p in changed] == [(MARCH_10, MARCH_12)]
    handles.archive_due(cfg, LATER, tables=[TABLE])
    with resolve_tier(cfg, "main").connect() as conn:
        left = {r[0] for r in conn.execute(f"select entry_date from {TABLE}").fetchall()}
        held = [(p.first_day, p.last_day) for p in pins.active_pins(conn, LATER, TABLE)]
    assert left == {MARCH_10, MARCH_12} and held == [(MARCH_10, MARCH_10), (MARCH_12, MARCH_12)]
    assert main(["archive", "unpin", TABLE]) == 0
    assert "unpin: 2 pins changed" in capsys.readouterr().out
    handles.archive_due(cfg, LATER, tables=[TABLE])
    assert count(cfg, TABLE) == 0
    assert_each_row_in_one_place(cfg, ids)
    assert main(["archive", "unpin", TABLE]) == 0
    assert "has no pin" in capsys.readouterr().out


def test_restore_with_pin_days_0_is_archived_again_and_bad_input_is_an_archive_error(cfg,
                                                                                    capsys):
    rows_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    assert main(["archive", "restore", TABLE, "--from", "2024-03-10", "--to", "2024-03-12",
                 "--pin-days", "0"]) == 0
    assert "pinned" not in capsys.readouterr().out
    assert count(cfg, TABLE) > 0
    handles.archive_due(cfg, LATER, tables=[TABLE])
    assert count(cfg, TABLE) == 0
    assert main(["archive", "restore", TABLE, "--from", "2024-03-10", "--to", "2024-03-12",
                 "--pin-days", "-1"]) == 5
    assert main(["archive", "unpin", TABLE, "--from", "2024-03-10"]) == 5
    err = capsys.readouterr()
    assert "--pin-days -1" in err.err + err.out and "--to" in err.err + err.out
