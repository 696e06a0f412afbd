"""Restore drills (scratch schema, manifest and ledger compared) and a verify that only reads."""

from __future__ import annotations

import dataclasses

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive import drill as drill_lib
from persys_pipelines.lib.archive import stores as stores_lib
from persys_pipelines.lib.archive.manifest import read_manifest
from persys_pipelines_tests.archive_helpers import LATER, count, rows_in_main


def _archived(cfg) -> int:
    rows_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=["journal_entries"])
    return count(cfg, "journal_entries")


def test_a_drill_of_every_month_passes_and_leaves_main_as_it_was(cfg, capsys):
    from persys_pipelines.cli import main

    in_main = _archived(cfg)
    results = handles.drill(cfg, months=None)
    assert [(r.table, r.month, r.ok) for r in results] == [
        ("journal_entries", m, True) for m in ("2024-02", "2024-03", "2024-04")]
    assert results[0].rows == 31
    assert count(cfg, "journal_entries") == in_main
    assert drill_lib.leftover_schemas(resolve_tier(cfg, "main")) == []

    assert main(["archive", "drill", "--months", "2", "--seed", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if line.startswith("ok  journal_entries 2024-")]) == 2
    assert out[-1] == "drill: 2 files restored into a scratch schema, 0 bad"


def test_a_flipped_byte_is_bad_exits_1_and_leaves_no_scratch_schema(cfg, capsys):
    from persys_pipelines.cli import main

    _archived(cfg)
    path = sorted((cfg.home / "archive").rglob("*.parquet"))[1]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    assert main(["archive", "drill", "--all"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok  journal_entries 2024-02")
    assert out[1].startswith("BAD journal_entries 2024-03") and "sha256" in out[1]
    assert out[-1].endswith("1 bad")
    assert drill_lib.leftover_schemas(resolve_tier(cfg, "main")) == []


def test_a_checksum_mismatch_after_restore_is_bad_and_the_schema_is_dropped(cfg):
    """The file reads fine but its rows differ from what left main: the scratch schema held
    them, and is gone afterwards."""
    _archived(cfg)
    store = handles.archive_stores(cfg).active
    results = handles.drill(cfg, months=None)
    entry = read_manifest(store, "journal_entries").files[0]
    entry = dataclasses.replace(entry, fingerprint=f"typed1:{entry.rows}:0")
    bad = drill_lib.drill_file(resolve_tier(cfg, "main"), store, handles.keyring(cfg),
                               "journal_entries", entry)
    assert all(r.ok for r in results) and not bad.ok and "the manifest says" in bad.problem
    assert drill_lib.leftover_schemas(resolve_tier(cfg, "main")) == []


class WriteRefusingStore(stores_lib.FileStore):
    """A folder store that fails any write, as a read-only mount would (tests run as root,
    where chmod 0555 does not stop writes)."""

    writes: list[str] = []

    def put(self, key: str, data: bytes) -> None:
        self.writes.append(f"put {key}")
        raise OSError(30, "Read-only file system")

    def delete(self, key: str) -> None:
        self.writes.append(f"delete {key}")
        raise OSError(30, "Read-only file system")

    def check(self) -> None:
        self.writes.append("check (writes a probe)")
        raise stores_lib.StoreError("read-only")


def test_verify_only_reads_so_a_read_only_store_verifies(cfg, tmp_path):
    _archived(cfg)
    ro = WriteRefusingStore(cfg.home / "archive")
    before = sorted(p.name for p in (cfg.home / "archive").rglob("*"))
    report = handles.verify_archive(cfg, stores=stores_lib.ArchiveStores(ro, None, ro))
    assert report.ok and report.checked == 3 and not report.unreachable
    assert ro.writes == []
    results = drill_lib.drill(resolve_tier(cfg, "main"), stores_lib.ArchiveStores(ro, None, ro),
                              handles.keyring(cfg), list(cfg.tables), months=None)
    assert all(r.ok for r in results) and ro.writes == []
    assert sorted(p.name for p in (cfg.home / "archive").rglob("*")) == before


def test_check_readable_reports_a_missing_folder(tmp_path):
    store = stores_lib.FileStore(tmp_path / "gone")
    try:
        store.check_readable()
    except stores_lib.StoreError as exc:
        assert "does not exist" in str(exc)
    else:
        raise AssertionError("a missing folder is not readable")
    assert not (tmp_path / "gone").exists(), "the check must not create the folder"


def test_the_drill_job_succeeds_then_fails_on_a_damaged_file(cfg, config_path):
    import dagster as dg

    from persys_pipelines.defs.archive import definitions
    from persys_pipelines.defs.resources import resources

    _archived(cfg)
    defs = dg.Definitions.merge(definitions(cfg), dg.Definitions(resources=resources(
        str(config_path))))
    job = defs.resolve_job_def("archive_drill")
    assert job.execute_in_process().success
    for path in (cfg.home / "archive").rglob("*.parquet"):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    result = job.execute_in_process(raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("restore_drill")
    assert "BAD journal_entries" in failure.error.message
    assert drill_lib.leftover_schemas(resolve_tier(cfg, "main")) == []
