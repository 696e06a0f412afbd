"""Backups of core and main: round trip checksum-equal, per-table restore, --yes for core,
retention, verify catching a flipped byte."""

from __future__ import annotations

import datetime as dt

import pytest
from psycopg import sql
from pydantic import SecretStr

from persys_pipelines.cli import main
from persys_pipelines.lib.archive.crypto import new_key_text
from persys_pipelines.lib.archive.manifest import row_checksum
from persys_pipelines.lib.archive.stores import archive_stores
from persys_pipelines.lib.backup import snapshot
from persys_pipelines.lib.moves import backup_restore as restore_lib
from persys_pipelines.lib.pg.tiers import resolve_tier
from persys_pipelines.lib.provision import load_sample_data, setup_tiers
from persys_pipelines_tests.archive_helpers import rows_in_main

AS_OF = dt.date(2024, 4, 30)


def encrypted(cfg):
    """The config with an archive key: backups use the archive's keys."""
    tier = cfg.tiers.archive.model_copy(update={"encryption_key": [SecretStr(new_key_text("k1"))]})
    return cfg.model_copy(update={"tiers": cfg.tiers.model_copy(update={"archive": tier})})


def fingerprint(cfg, tier: str, table: str) -> tuple[int, str]:
    with resolve_tier(cfg, tier).connect() as conn:
        return row_checksum(conn, sql.Identifier(table))


def wipe(cfg, tier: str, table: str) -> None:
    with resolve_tier(cfg, tier).connect() as conn:
        conn.execute(sql.SQL("delete from {}").format(sql.Identifier(table)))
        conn.commit()


def test_main_round_trip_and_one_table_only(cfg):
    cfg = encrypted(cfg)
    rows_in_main(cfg, days=40)
    before = {t: fingerprint(cfg, "main", t) for t in ("journal_entries", "health_metrics")}
    assert all(n > 0 for n, _ in before.values())
    b = snapshot.run_backup(cfg, "main")
    assert b.manifest["key_id"] == "k1"
    assert {"journal_entries", "health_metrics", "persys.ledger"} <= set(b.manifest["tables"])
    stored = archive_stores(cfg).active.get(b.manifest["tables"]["journal_entries"]["key"])
    assert stored.startswith(b"PSYE1"), "encrypted with the archive's key"
    wipe(cfg, "main", "journal_entries")
    wipe(cfg, "main", "health_metrics")
    done = restore_lib.restore(cfg, b, ["journal_entries"])
    assert done[0].inserted == before["journal_entries"][0]
    assert fingerprint(cfg, "main", "journal_entries") == before["journal_entries"]
    assert fingerprint(cfg, "main", "health_metrics")[0] == 0, "another table is untouched"
    restore_lib.restore(cfg, b)
    assert fingerprint(cfg, "main", "health_metrics") == before["health_metrics"]
    again = restore_lib.restore(cfg, b, ["health_metrics"])
    assert (again[0].deleted, again[0].inserted) == (0, 0), "unchanged rows are not rewritten"


def test_core_round_trip_read_only_and_yes(cfg, config_path, capsys, make_database):
    setup_tiers(cfg)
    load_sample_data(cfg, days=30, seed=5, as_of=AS_OF)
    before = fingerprint(cfg, "core", "journal_entries")
    with resolve_tier(cfg, "core").connect() as conn:
        tables_before = conn.execute("select count(*) from pg_class").fetchone()[0]
    assert main(["backup", "run", "--tier", "core", "--config", str(config_path)]) == 0
    with resolve_tier(cfg, "core").connect() as conn:
        assert conn.execute("select count(*) from pg_class").fetchone()[0] == tables_before
    wipe(cfg, "core", "journal_entries")
    capsys.readouterr()
    assert main(["backup", "restore", "--latest", "--tier", "core", "--table",
                 "journal_entries", "--config", str(config_path)]) == 1
    assert "--yes" in capsys.readouterr().err
    assert fingerprint(cfg, "core", "journal_entries")[0] == 0, "refused: nothing restored"
    other = make_database("other")
    assert main(["backup", "restore", "--latest", "--tier", "core", "--table",
                 "journal_entries", "--into", other, "--config", str(config_path)]) == 0
    assert main(["backup", "restore", "--latest", "--tier", "core", "--table",
                 "journal_entries", "--yes", "--config", str(config_path)]) == 0
    assert fingerprint(cfg, "core", "journal_entries") == before
    assert main(["backup", "list", "--config", str(config_path)]) == 0
    assert "core" in capsys.readouterr().out


def test_retention_keeps_n(cfg):
    cfg = cfg.model_copy(update={"backup": cfg.backup.model_copy(update={"keep": 2})})
    setup_tiers(cfg)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = [snapshot.run_backup(cfg, "main", now=start + dt.timedelta(days=i)).id
           for i in range(4)]
    store = archive_stores(cfg).active
    store.put(f"backups/main/{snapshot.new_id(start)}X/orphan.parquet", b"crashed run")
    snapshot.expire(cfg, "main")
    assert [b.id for b in snapshot.list_backups(archive_stores(cfg).primary, "main")] == ids[-2:]
    left = {o.key.split("/")[2] for o in store.list("backups/main/")}
    assert left == set(ids[-2:]), "older and unfinished backups are gone"


def test_verify_catches_a_flipped_byte(cfg, config_path, capsys):
    rows_in_main(cfg, days=10)
    b = snapshot.run_backup(cfg, "main")
    assert restore_lib.verify(cfg, b).ok
    store = archive_stores(cfg).active
    key = b.manifest["tables"]["journal_entries"]["key"]
    data = bytearray(store.get(key))
    data[len(data) // 2] ^= 0x01
    store.put(key, bytes(data))
    result = restore_lib.verify(cfg, b)
    assert [t for t, _ in result.bad] == ["journal_entries"]
    assert main(["backup", "verify", "--tier", "main", "--config", str(config_path)]) == 1
    with pytest.raises(snapshot.BackupError):
        restore_lib.restore(cfg, b, ["journal_entries"])
