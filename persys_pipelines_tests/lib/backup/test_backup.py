"""Backups of core and main: always encrypted, a namespace no table can collide with, restore
by merge that never deletes a row that exists nowhere else, --replace --yes, retention, verify
catching a flipped byte, rekey covering backups."""

from __future__ import annotations

import datetime as dt

import pytest
from psycopg import sql
from pydantic import SecretStr

from persys_pipelines import handles
from persys_pipelines.cli import main
from persys_pipelines.handles import (
    archive_stores,
    backup_key_path,
    load_sample_data,
    resolve_tier,
    setup_tiers,
)
from persys_pipelines.lib.archive.crypto import new_key_text
from persys_pipelines.lib.backup import snapshot
from persys_pipelines.lib.backup.verify import verify
from persys_pipelines.lib.pg import fingerprint as fp
from persys_pipelines.lib.pg.catalog import ident, table_columns
from persys_pipelines_tests.archive_helpers import rows_in_main

AS_OF = dt.date(2024, 4, 30)


def encrypted(cfg, key: str = "k1"):
    """The config with an archive key: backups then use the archive's keys."""
    tier = cfg.tiers.archive.model_copy(update={"encryption_key": [SecretStr(new_key_text(key))]})
    return cfg.model_copy(update={"tiers": cfg.tiers.model_copy(update={"archive": tier})})


def fingerprint(cfg, tier: str, table: str) -> fp.Fingerprint:
    with resolve_tier(cfg, tier).connect() as conn:
        return fp.of_table(conn, table, list(table_columns(conn, table)))


def wipe(cfg, tier: str, table: str) -> None:
    with resolve_tier(cfg, tier).connect() as conn:
        conn.execute(sql.SQL("delete from {}").format(ident(table)))
        conn.commit()


def test_main_round_trip_and_one_table_only(cfg):
    cfg = encrypted(cfg)
    rows_in_main(cfg, days=40)
    before = {t: fingerprint(cfg, "main", t) for t in ("journal_entries", "health_metrics")}
    assert all(f.rows > 0 for f in before.values())
    b = handles.backup(cfg, "main")
    assert b.manifest["key_id"] == "k1"
    assert {"journal_entries", "health_metrics", "persys.ledger"} <= set(b.manifest["tables"])
    key = b.manifest["tables"]["journal_entries"]["key"]
    assert key.startswith(".persys/backups/main/")
    assert archive_stores(cfg).active.get(key).startswith(b"PSYE1"), "encrypted"
    wipe(cfg, "main", "journal_entries")
    wipe(cfg, "main", "health_metrics")
    done = handles.restore_backup(cfg, b, ["journal_entries"])
    assert done[0].inserted == before["journal_entries"].rows
    assert fingerprint(cfg, "main", "journal_entries") == before["journal_entries"]
    assert fingerprint(cfg, "main", "health_metrics").rows == 0, "another table is untouched"
    handles.restore_backup(cfg, b)
    assert fingerprint(cfg, "main", "health_metrics") == before["health_metrics"]
    again = handles.restore_backup(cfg, b, ["health_metrics"])
    assert (again[0].deleted, again[0].inserted) == (0, 0), "unchanged rows are not rewritten"


def test_setup_makes_a_backup_key_and_says_where(cfg, config_path, capsys):
    assert main(["setup", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    path = backup_key_path(cfg)
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert str(path) in out and "keep a copy" in out
    b = handles.backup(cfg, "main")
    stored = archive_stores(cfg).active.get(b.manifest["tables"]["persys.ledger"]["key"])
    assert stored.startswith(b"PSYE1"), "no key configured: the home's key encrypts"
    path.unlink()
    with pytest.raises(snapshot.BackupError, match="always encrypted"):
        handles.backup(cfg, "main")


def test_restore_latest_keeps_rows_that_moved_since(cfg, config_path, capsys):
    """The issue's case: rows that moved core→main after the backup stay (merge), a row the
    backup holds and main lost comes back, and nothing is deleted without --replace --yes."""
    setup_tiers(cfg)
    load_sample_data(cfg, days=60, seed=5, as_of=AS_OF)
    core, mainr = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    handles.run_table(cfg, core, mainr, "journal_entries", AS_OF - dt.timedelta(days=40))
    handles.backup(cfg, "main")
    handles.run_table(cfg, core, mainr, "journal_entries", AS_OF)  # more rows reach main
    total = fingerprint(cfg, "core", "journal_entries").rows + fingerprint(
        cfg, "main", "journal_entries").rows
    with mainr.connect() as conn:  # one row of the backup lost by hand
        lost = conn.execute("delete from journal_entries where id = (select id from "
                            "journal_entries where entry_date < %s order by id limit 1) "
                            "returning id",
                            (AS_OF - dt.timedelta(days=50),)).fetchone()[0]
        conn.commit()
    capsys.readouterr()
    assert main(["backup", "restore", "--latest", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "journal_entries: 1 of the backup's" in out
    after = (fingerprint(cfg, "core", "journal_entries").rows
             + fingerprint(cfg, "main", "journal_entries").rows)
    assert after == total, "no row lost, none doubled"
    with mainr.connect() as conn:
        assert conn.execute("select count(*) from journal_entries where id = %s",
                            (lost,)).fetchone()[0] == 1
    assert main(["backup", "restore", "--latest", "--replace", "--config",
                 str(config_path)]) == 1
    assert "--yes" in capsys.readouterr().err


def test_merge_leaves_rows_held_by_another_tier(cfg):
    """A row of a core backup that moved to main since is not put back into core."""
    setup_tiers(cfg)
    load_sample_data(cfg, days=30, seed=5, as_of=AS_OF)
    b = handles.backup(cfg, "core")
    core, mainr = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    moved = handles.run_table(cfg, core, mainr, "journal_entries", AS_OF).rows
    assert moved > 0
    done = handles.restore_backup(cfg, b, ["journal_entries"])[0]
    assert (done.inserted, done.elsewhere) == (0, moved)
    assert not (set_of(cfg, "core") & set_of(cfg, "main"))


def set_of(cfg, tier: str) -> set:
    with resolve_tier(cfg, tier).connect() as conn:
        return {r[0] for r in conn.execute("select id from journal_entries")}


def test_replace_with_yes_makes_the_table_equal(cfg, config_path):
    setup_tiers(cfg)
    load_sample_data(cfg, days=30, seed=5, as_of=AS_OF)
    before = fingerprint(cfg, "core", "journal_entries")
    assert main(["backup", "run", "--tier", "core", "--config", str(config_path)]) == 0
    with resolve_tier(cfg, "core").connect() as conn:
        conn.execute("update journal_entries set mood = 1 where mood > 5")
        conn.commit()
    assert main(["backup", "restore", "--latest", "--tier", "core", "--table",
                 "journal_entries", "--replace", "--yes", "--config", str(config_path)]) == 0
    assert fingerprint(cfg, "core", "journal_entries") == before


def test_a_table_named_backups_never_touches_the_backups(cfg, make_database):
    """The archive's clean-up of a table named `backups` must not see persys's backups."""
    from persys_pipelines.lib.archive.maintenance import tables_in

    setup_tiers(cfg)
    b = handles.backup(cfg, "main")
    store = archive_stores(cfg).active
    assert tables_in(store, []) == []
    handles.repair_all(cfg.model_copy(update={"tables": {}}), apply=True)
    assert snapshot.list_backups(store, "main")[-1].id == b.id
    assert verify(store, handles.backup_target(cfg).ring, b).ok


def test_retention_keeps_n(cfg):
    cfg = cfg.model_copy(update={"backup": cfg.backup.model_copy(update={"keep": 2})})
    setup_tiers(cfg)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = [handles.backup(cfg, "main", now=start + dt.timedelta(days=i)).id for i in range(4)]
    store = archive_stores(cfg).active
    store.put(f".persys/backups/main/{snapshot.new_id(start)}X/orphan.parquet", b"crashed run")
    snapshot.expire(store, "main", 2)
    assert [b.id for b in snapshot.list_backups(store, "main")] == ids[-2:]
    left = {o.key.split("/")[3] for o in store.list(".persys/backups/main/")}
    assert left == set(ids[-2:]), "older and unfinished backups are gone"


def test_verify_catches_a_flipped_byte(cfg, config_path):
    rows_in_main(cfg, days=10)
    b = handles.backup(cfg, "main")
    where = handles.backup_target(cfg)
    assert verify(where.store, where.ring, b).ok
    key = b.manifest["tables"]["journal_entries"]["key"]
    data = bytearray(where.store.get(key))
    data[len(data) // 2] ^= 0x01
    where.store.put(key, bytes(data))
    result = verify(where.store, where.ring, b)
    assert [t for t, _ in result.bad] == ["journal_entries"]
    assert main(["backup", "verify", "--tier", "main", "--config", str(config_path)]) == 1
    # `archive verify` knows the backups too: the archive itself is clean, the backup is not
    assert main(["archive", "verify", "--config", str(config_path)]) == 1
    with pytest.raises(Exception, match="journal_entries"):
        handles.restore_backup(cfg, b, ["journal_entries"])


def test_rekey_then_drop_the_old_key_keeps_backups_readable(cfg):
    """The README's rotation: add a key, rekey, drop the old key. Backups must follow."""
    old = encrypted(cfg, "k1")
    rows_in_main(old, days=10)
    b = handles.backup(old, "main")
    both = old.model_copy(update={"tiers": old.tiers.model_copy(update={
        "archive": old.tiers.archive.model_copy(update={"encryption_key": [
            *old.tiers.archive.encryption_key, SecretStr(new_key_text("k2"))]})})})
    done = handles.rekey_all(both)
    assert any(b.manifest["tables"]["journal_entries"]["key"] in uri for uri in done)
    new_only = encrypted(cfg, "k2").model_copy(update={"tiers": both.tiers.model_copy(update={
        "archive": both.tiers.archive.model_copy(update={"encryption_key": [
            both.tiers.archive.encryption_key[-1]]})})})
    where = handles.backup_target(new_only)
    again = snapshot.find_backup(where.store, "main", b.id)
    assert again.manifest["key_id"] == "k2"
    assert verify(where.store, where.ring, again).ok
    assert handles.rekey_all(both) == [], "rekey is idempotent"


def test_a_lost_home_key_is_named_and_never_silently_replaced(cfg, config_path, capsys):
    """The home's backup key file deleted (a clean-up, a new disk): verify names that file
    and says to put the kept copy back; setup refuses to make a new key over the backups it
    could never read; with the copy back, everything reads again."""
    rows_in_main(cfg, days=5)
    b = handles.backup(cfg, "main")
    key = handles.backup_key_path(cfg)
    kept = key.read_bytes()
    key.unlink()
    assert main(["backup", "verify", "--tier", "main", "--config", str(config_path)]) == 1
    out = capsys.readouterr().out
    assert f"the home's backup key file {key}" in out and "put back the copy" in out
    with pytest.raises(Exception, match="backup key .* is missing, and backups made with it"):
        handles.setup_tiers(cfg)
    assert not key.exists(), "no new key was made over the old backups"
    key.write_bytes(kept)
    where = handles.backup_target(cfg)
    assert verify(where.store, where.ring, b).ok


def test_merge_gives_back_no_row_retention_let_go(cfg):
    """Rows a backup holds that are past the table's delete_days today stay deleted (the
    policy let them go since the backup); the lost rows it still keeps come back."""
    from persys_pipelines.lib.config import TablePolicy

    rows_in_main(cfg)
    backup = handles.backup(cfg, "main")
    cut = dt.date(2024, 3, 16)
    policy = cfg.tables["journal_entries"].model_dump() | {
        "delete_days": (cfg.today() - cut).days}
    cfg = cfg.model_copy(update={"tables": {**cfg.tables,
                                            "journal_entries": TablePolicy(**policy)}})
    with resolve_tier(cfg, "main").connect() as conn:
        old, new = conn.execute("select count(*) filter (where entry_date < %s), count(*) "
                                "filter (where entry_date >= %s) from journal_entries",
                                (cut, cut)).fetchone()
    assert old > 0 and new > 0
    wipe(cfg, "main", "journal_entries")
    done = handles.restore_backup(cfg, backup, ["journal_entries"])[0]
    assert (done.inserted, done.past_retention) == (new, old)
    with resolve_tier(cfg, "main").connect() as conn:
        assert conn.execute("select min(entry_date) from journal_entries").fetchone()[0] == cut
