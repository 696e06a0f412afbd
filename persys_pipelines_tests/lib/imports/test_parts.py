"""A big Apple Health export is read by two processes: exactly the rows, tiers and counts one
reader gives, from an XML file or the Health app's zip; a file laid out otherwise, or broken
in its second half, is read (and refused) as one reader would."""

from __future__ import annotations

import datetime as dt
import logging
import os
import zipfile
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from persys_pipelines.lib.imports import apple_health, health_export, parts
from persys_pipelines.lib.imports.rows import ImportFileError, Tally
from persys_pipelines.lib.imports.synthetic import write_export
from persys_pipelines_tests.import_helpers import TODAY, keys_by_tier, project, run_import


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export with space.xml"
    write_export(path, 6_000, last_day=TODAY - dt.timedelta(days=1), days=500)
    return path


def _split_all(monkeypatch, readers: list[str]) -> None:
    """Every export is split (not only those of 64 MB), and each reading is recorded."""
    monkeypatch.setattr(health_export, "SPLIT_MIN", 0)
    real = parts.read_in_parts

    def recorded(*args, **kwargs):
        out = real(*args, **kwargs)
        readers.append("two" if out is not None else "one")
        return out

    monkeypatch.setattr("persys_pipelines.lib.imports.run.read_in_parts", recorded)


def test_two_readers_give_what_one_gives(cfg, tmp_path, export, monkeypatch):
    alone = [row for row in apple_health.parse(export, cfg.zone, Tally())]
    found = health_export.split(export)
    assert found is None  # 6,000 records are far below SPLIT_MIN: one reader
    readers: list[str] = []
    _split_all(monkeypatch, readers)
    halves = health_export.split(export)
    assert halves is not None and halves[0].end == halves[1].start
    shared = [row for part in halves
              for row in apple_health.parse(export, cfg.zone, Tally(), part)]
    assert Counter(shared) == Counter(alone)

    project(cfg)
    report = run_import(cfg, "apple-health", export)
    assert readers == ["two"]
    one = Tally()
    list(apple_health.parse(export, cfg.zone, one))
    assert (report.tally.records, report.tally.skipped, report.tally.seen,
            report.tally.dropped) == (one.records, one.skipped, one.seen, one.dropped)
    keys = keys_by_tier(cfg, "health_metrics")
    every = keys["core"] + keys["main"] + keys["archive"]
    assert len(every) == len(set(every)) == len({r[0] for r in alone})
    assert all(keys[t] for t in ("core", "main", "archive"))
    assert sum(report.spooled.planned.values()) == len(alone)
    again = run_import(cfg, "apple-health", export)
    assert sum(again.delivered.new.values()) == 0
    assert not any(p.name.endswith(parts.SECOND) for p in cfg.home.rglob("*"))


def test_the_health_apps_zip_is_shared_too(cfg, tmp_path, export, monkeypatch):
    readers: list[str] = []
    _split_all(monkeypatch, readers)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(export, "apple_health_export/export.xml")
    project(cfg)
    report = run_import(cfg, "apple-health", archive)
    assert readers == ["two"]
    one = Tally()
    assert report.spooled.rows == len(list(apple_health.parse(export, cfg.zone, one)))
    assert report.tally.records == one.records


def test_an_export_on_one_line_is_read_by_one_reader(cfg, tmp_path, export, monkeypatch):
    readers: list[str] = []
    _split_all(monkeypatch, readers)
    flat = tmp_path / "flat.xml"
    text = export.read_bytes()
    head, _, body = text.partition(b"<HealthData")
    flat.write_bytes(head + b"<HealthData" + body.replace(b"\n", b""))
    assert health_export.split(flat) is None
    project(cfg)
    report = run_import(cfg, "apple-health", flat)
    assert readers == ["one"] and report.tally.records > 0


def test_broken_second_half_is_refused_as_one_reader_refuses_it(cfg, tmp_path, export,
                                                                monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger=parts.__name__)
    text = export.read_bytes()
    cut = text.rindex(b"\n <Record", 0, len(text) * 3 // 4)
    broken = tmp_path / "broken.xml"
    broken.write_bytes(text[:cut] + b'\n <Record type="x" startDate="2025-01-01 00:00:00 +0000"'
                       b' endDate=2025' + text[cut:])
    project(cfg)
    with pytest.raises(ImportFileError) as alone:
        run_import(cfg, "apple-health", broken)
    readers: list[str] = []
    _split_all(monkeypatch, readers)
    with pytest.raises(ImportFileError) as shared:
        run_import(cfg, "apple-health", broken)
    assert health_export.split(broken) is not None
    assert readers == ["one"]  # the parts failed: the file was read again whole
    assert "the second reader stopped (persys_pipelines.lib.imports.rows.ImportFileError" \
        in caplog.text, caplog.text
    assert str(shared.value) == str(alone.value)
    line = text[:cut].count(b"\n") + 2
    assert f"line {line}" in str(shared.value), str(shared.value)
    assert keys_by_tier(cfg, "health_metrics") == {"core": [], "main": [], "archive": []}


def test_a_second_reader_whose_import_is_gone_stops(export, cfg):
    """A killed import's reader does not read on for a minute: it stops within a chunk of
    rows once its parent is not the import that started it."""
    rows = apple_health.parse(export, cfg.zone, Tally())
    alive = parts._while_alive(iter(rows), os.getppid())  # started by our parent: alive
    assert next(alive)
    gone = parts._while_alive(apple_health.parse(export, cfg.zone, Tally()), parent=1)
    with pytest.raises(SystemExit, match="the import that started this reader is gone"):
        list(gone)


def test_a_second_reader_that_cannot_start_costs_time_not_rows(cfg, tmp_path, export,
                                                               monkeypatch, caplog):
    readers: list[str] = []
    _split_all(monkeypatch, readers)
    project(cfg)
    one = Tally()
    rows = len(list(apple_health.parse(export, cfg.zone, one)))
    for python, said in ((tmp_path / "no python here", "no second reader ([Errno 2]"),
                         ("/bin/false", "the second reader stopped (exit status 1); reading "
                                        "the file again in one process")):
        monkeypatch.setattr(parts.sys, "executable", str(python))
        report = run_import(cfg, "apple-health", export, dry_run=True)
        assert readers.pop() == "one" and said in caplog.text, caplog.text
        assert (report.spooled.rows, report.tally.records) == (rows, one.records)


def test_the_readers_share_the_records_not_the_bytes(tmp_path, monkeypatch):
    """Records with many metadata entries take many bytes each: cut at half the bytes, the
    first reader would get a fifth of the records and the second would do most of the work."""
    monkeypatch.setattr(health_export, "SPLIT_MIN", 0)
    record = ('<Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" '
              'unit="count/min" startDate="2025-05-01 10:{m:02d}:00 +0100" '
              'endDate="2025-05-01 10:{m:02d}:00 +0100" value="{v}"')
    meta = "\n".join(f'  <MetadataEntry key="HKMetadataKeyNote{k}" value="{"x" * 40}"/>'
                     for k in range(10))
    heavy = [f" {record.format(m=n % 60, v=n)}>\n{meta}\n </Record>" for n in range(2000)]
    plain = [f" {record.format(m=n % 60, v=n)}/>" for n in range(2000, 11000)]
    path = tmp_path / "export.xml"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<HealthData locale="en_GB">\n'
                    + "\n".join(heavy + plain) + "\n</HealthData>\n")
    halves = health_export.split(path)
    assert halves is not None
    counts = [sum(1 for _ in apple_health.parse(path, ZoneInfo("UTC"), Tally(), part))
              for part in halves]
    assert sum(counts) == 11000
    by_bytes = sum(1 for line in path.read_bytes()[:path.stat().st_size // 2].splitlines()
                   if line.startswith(b" <Record"))
    assert by_bytes < 2000 and counts[0] > 3500  # a reader's work: records, then tags
