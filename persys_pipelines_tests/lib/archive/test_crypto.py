"""AES-256-GCM archive encryption: rotation (newest encrypts, all decrypt) and rekey."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import SecretStr

from persys_pipelines import handles
from persys_pipelines.cli import main
from persys_pipelines.lib.archive import maintenance
from persys_pipelines.lib.archive.crypto import CryptoError, Keyring, new_key_text, parse_key
from persys_pipelines_tests.archive_helpers import LATER, rows_in_main, snapshot


def with_keys(cfg, *keys: str):
    secrets = [SecretStr(k) for k in keys]
    tier = cfg.tiers.archive.model_copy(update={"encryption_key": secrets})
    return cfg.model_copy(update={"tiers": cfg.tiers.model_copy(update={"archive": tier})})


def test_keyring_round_trip_and_errors():
    k1, k2 = new_key_text("k1"), new_key_text("k2")
    old, both = Keyring.from_texts([k1]), Keyring.from_texts([k1, k2])
    sealed, kid = old.encrypt(b"parquet bytes", "t/2024/01/x.parquet")
    assert kid == "k1" and b"parquet bytes" not in sealed
    assert both.decrypt(sealed, "t/2024/01/x.parquet") == (b"parquet bytes", "k1")
    assert both.encrypt(b"x", "k")[1] == "k2", "the last key is the newest"
    with pytest.raises(CryptoError, match="damaged or was altered"):
        both.decrypt(sealed, "t/2024/02/moved.parquet")
    with pytest.raises(CryptoError, match="key 'k1', which is not in"):
        Keyring.from_texts([k2]).decrypt(sealed, "t/2024/01/x.parquet")
    with pytest.raises(CryptoError, match=r"encryption_key\[0\]: decodes to 3 bytes"):
        parse_key("k:YWJj")
    assert repr(parse_key(k1)) == "Key('k1')", "the secret never shows"


def test_archive_with_a_rotated_key(cfg, capsys):
    k1, k2 = new_key_text("k1"), new_key_text("k2")
    rows_in_main(cfg)
    before = snapshot(cfg, "journal_entries")
    old = with_keys(cfg, k1)
    handles.archive_due(old, LATER, tables=["journal_entries"])
    files = sorted((cfg.home / "archive").rglob("*.parquet"))
    assert files and all(not f.read_bytes().startswith(b"PAR1") for f in files)
    rows = maintenance.manifest_rows(stores_of(old), "journal_entries")
    assert {e.key_id for _, e in rows} == {"k1"}

    rotated = with_keys(cfg, k1, k2)
    assert handles.verify_archive(rotated).ok
    assert len(handles.rekey_all(rotated)) == len(files)
    rows = maintenance.manifest_rows(stores_of(rotated), "journal_entries")
    assert {e.key_id for _, e in rows} == {"k2"}
    assert handles.rekey_all(rotated) == [], "rekey is idempotent"

    new_only = with_keys(cfg, k2)
    assert handles.verify_archive(new_only).ok
    report = handles.verify_archive(old)
    assert len(report.bad) == len(files)
    assert "not in tiers.archive.encryption_key" in report.bad[0][1]
    handles.restore(new_only, "journal_entries", dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert snapshot(cfg, "journal_entries") == before
    assert k1.split(":")[1] not in capsys.readouterr().out


def test_rekey_without_a_key_says_what_to_set(cfg, capsys):
    rows_in_main(cfg)
    assert main(["archive", "rekey"]) == 5  # ArchiveError.exit_code
    assert "tiers.archive.encryption_key is not set" in capsys.readouterr().err


def stores_of(cfg):
    from persys_pipelines.handles import archive_stores

    return archive_stores(cfg, check=False)
