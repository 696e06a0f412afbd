"""OFX/QFX, bank CSV, .ics, Day One and Markdown: small files shaped as their programs and
banks write them, imported into the sample schema; the same file again adds nothing, a newer
export that overlaps adds only what is new."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import pytest

from persys_pipelines.lib.imports.rows import ImportFileError
from persys_pipelines_tests.import_helpers import (
    TODAY,
    keys_by_tier,
    project,
    rows_where,
    run_import,
)

OFX_BODY = """<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>
<DTSERVER>20250601120000<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>GBP<BANKACCTFROM><BANKID>123456<ACCTID>00012345<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20240101<DTEND>20250531
{txns}</BANKTRANLIST><LEDGERBAL><BALAMT>100.00<DTASOF>20250531</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""
TXN = ("<STMTTRN><TRNTYPE>{kind}<DTPOSTED>{day}<TRNAMT>{amount}<FITID>{fitid}"
       "<NAME>{name}<MEMO>Café card payment</STMTTRN>\n")
V1 = ("OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
      "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n")


def ofx_text(txns: list[tuple], header: str = V1) -> str:
    body = OFX_BODY.format(txns="".join(
        TXN.format(kind=k, day=d, amount=a, fitid=f, name=n) for k, d, a, f, n in txns))
    return header + body


TXNS = [("DEBIT", "20240105", "-12.50", "F1", "TESCO STORES"),
        ("DEBIT", "20250520120000[-5:EST]", "-3.20", "F2", "PRET A MANGER"),
        ("CREDIT", "20250525", "3100.00", "F3", "EMPLOYER LTD")]

# Headers as banks really write them (the list), each must give the same rows.
HEADERS = {
    "spec": V1,
    "one line": V1.replace("\n", " "),
    "space after colon": V1.replace(":", ": "),
    "xml declaration first": '<?xml version="1.0" encoding="utf-8"?>\n' + V1,
    "utf-8 in v1": V1.replace("ENCODING:USASCII", "ENCODING:UTF-8").replace(
        "CHARSET:1252", "CHARSET:UTF-8"),
    "no blank line before OFX": V1.rstrip("\n") + "\n",
}


@pytest.mark.parametrize("header", list(HEADERS))
def test_ofx_headers_as_banks_write_them(cfg, tmp_path, header):
    project(cfg)
    text = ofx_text(TXNS, HEADERS[header])
    if header == "one line":
        text = text.replace("\n", "")
    path = tmp_path / "statement.qfx"
    path.write_bytes(text.encode("utf-8" if "utf-8" in header else "cp1252"))
    report = run_import(cfg, "ofx", path)
    assert report.tally.records == 3
    main = rows_where(cfg, "main", "transactions")
    core = rows_where(cfg, "core", "transactions")
    assert len(main) == 1 and len(core) == 2  # 2024-01-05 is older than 30 days
    assert {r[6] for r in core + main} == {"Café card payment"}
    assert sorted(float(r[2]) for r in core + main) == [-12.5, -3.2, 3100.0]


def test_ofx_newer_statement_adds_only_new_transactions(cfg, tmp_path):
    project(cfg)
    first, second = tmp_path / "may.ofx", tmp_path / "june.ofx"
    first.write_text(ofx_text(TXNS))
    second.write_text(ofx_text(TXNS[1:] + [("DEBIT", "20250530", "-9.99", "F4", "NETFLIX")]))
    run_import(cfg, "ofx", first)
    report = run_import(cfg, "ofx", second)
    assert sum(report.delivered.new.values()) == 1
    assert sum(report.delivered.present.values()) == 2
    assert sum(len(v) for v in keys_by_tier(cfg, "transactions").values()) == 4


def test_broken_ofx_names_the_file(cfg, tmp_path):
    project(cfg)
    path = tmp_path / "broken.ofx"
    path.write_text(V1 + "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0")
    with pytest.raises(ImportFileError, match="broken.ofx"):
        run_import(cfg, "ofx", path)
    assert rows_where(cfg, "core", "transactions") == []


def test_csv_with_decimal_commas_and_day_first_dates(cfg, tmp_path):
    project(cfg)
    path = tmp_path / "konto.csv"
    path.write_text("Buchungstag;Verwendungszweck;Betrag;Saldo\n"
                    "05.01.2024;REWE Markt;-1.234,56;100,00\n"
                    "20.05.2025;Kaffee;-3,20;96,80\n"
                    "20.05.2025;Kaffee;-3,20;96,80\n"  # the same coffee twice: two rows
                    "25.05.2025;Gehalt;3.100,00;3.196,80\n", encoding="utf-8")
    report = run_import(cfg, "csv", path)
    assert report.tally.records == 4
    rows = rows_where(cfg, "core", "transactions") + rows_where(cfg, "main", "transactions")
    assert sorted(float(r[2]) for r in rows) == [-1234.56, -3.2, -3.2, 3100.0]
    assert {r[1] for r in rows} >= {dt.date(2024, 1, 5), dt.date(2025, 5, 25)}
    assert sum(run_import(cfg, "csv", path).delivered.new.values()) == 0


def test_csv_month_first_and_an_undecidable_order(cfg, tmp_path):
    project(cfg)
    path = tmp_path / "us.csv"
    path.write_text("Date,Description,Amount\n05/20/2025,Coffee,-3.20\n01/02/2025,Rent,"
                    "\"-1,250.00\"\n")
    run_import(cfg, "csv", path)
    rows = rows_where(cfg, "core", "transactions") + rows_where(cfg, "main", "transactions")
    assert {(r[1], float(r[2])) for r in rows} == {(dt.date(2025, 5, 20), -3.2),
                                                    (dt.date(2025, 1, 2), -1250.0)}
    vague = tmp_path / "vague.csv"
    vague.write_text("Date,Description,Amount\n01/02/2025,Rent,-1250.00\n")
    with pytest.raises(ImportFileError, match="date_order"):
        run_import(cfg, "csv", vague)


def test_calendar_with_recurring_events(cfg, tmp_path):
    project(cfg)
    path = tmp_path / "work.ics"
    path.write_text("\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN", "X-WR-CALNAME:Work",
        "BEGIN:VEVENT", "UID:standup@example", "DTSTAMP:20250101T000000Z",
        "DTSTART;TZID=Europe/London:20250505T093000", "DURATION:PT15M",
        "RRULE:FREQ=DAILY;COUNT=10", "EXDATE;TZID=Europe/London:20250507T093000",
        "SUMMARY:Stand-up", "END:VEVENT",
        "BEGIN:VEVENT", "UID:standup@example", "DTSTAMP:20250101T000000Z",
        "RECURRENCE-ID;TZID=Europe/London:20250506T093000",
        "DTSTART;TZID=Europe/London:20250506T110000", "DURATION:PT15M",
        "SUMMARY:Stand-up (moved)", "END:VEVENT",
        "BEGIN:VEVENT", "UID:dentist@example", "DTSTAMP:20250101T000000Z",
        "DTSTART;VALUE=DATE:20250715", "SUMMARY:Dentist (future)", "END:VEVENT",
        "END:VCALENDAR", ""]))
    report = run_import(cfg, "ics", path)
    assert report.tally.records == 9  # 10 daily, one excluded, one moved; the future skipped
    rows = rows_where(cfg, "main", "journal_entries")  # journal core_days 7: May is in main
    titles = sorted(r[3] for r in rows)
    assert titles.count("Stand-up") == 8 and "Stand-up (moved)" in titles
    assert sum(run_import(cfg, "ics", path).delivered.new.values()) == 0


def test_day_one_zip_and_markdown_notes(cfg, tmp_path):
    project(cfg)
    journal = {"metadata": {"version": "1.0"}, "entries": [
        {"uuid": "A1", "creationDate": "2025-05-30T23:30:00Z", "timeZone": "Asia/Tokyo",
         "text": "# Tokyo\n\nLanded.", "tags": ["travel"]},
        {"uuid": "B2", "creationDate": "2023-02-01T08:00:00Z", "text": "Old entry"}]}
    path = tmp_path / "dayone.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("Journal.json", json.dumps(journal))
    run_import(cfg, "dayone", path)
    core = rows_where(cfg, "core", "journal_entries")
    assert [(r[1], r[3]) for r in core] == [(dt.date(2025, 5, 31), "Tokyo")]  # Tokyo's day
    assert len(keys_by_tier(cfg, "journal_entries")["archive"]) == 1  # 2023: archived
    notes = tmp_path / "notes"
    (notes / "2025").mkdir(parents=True)
    (notes / "2025" / "2025-05-28 walk.md").write_text("# Walk\n\nBy the river.")
    (notes / "idea.md").write_text("---\ntitle: An idea\ndate: 2024-11-02\ntags: [ideas]\n"
                                   "mood: 7\n---\nBuild a shed.")
    (notes / "undated.md").write_text("no date anywhere")
    report = run_import(cfg, "markdown", notes)
    assert report.tally.dropped  # the undated note is counted, not lost silently
    main = rows_where(cfg, "main", "journal_entries", "title = 'An idea'")
    assert main and main[0][2] == 7 and main[0][5] == ["ideas"]
    (notes / "broken.md").write_text("---\ntitle: [unclosed\n---\nx")
    with pytest.raises(ImportFileError, match="broken.md"):
        run_import(cfg, "markdown", notes)


@pytest.mark.parametrize("kind,name,content", [
    ("apple-health", "export.xml", b""),
    ("apple-health", "export.xml", b'<?xml version="1.0"?>\n<HealthData locale="en">\n'
     b'<Record type="HKQuantityTypeIdentifierStepCount" source Name="x" '
     b'startDate="2025-05-01 10:00:00 +0100" endDate="2025-05-01 10:01:00 +0100" value="5"/>'),
    ("apple-health", "export.zip", b"PK\x03\x04truncated"),
    # a minute that is not one, after a good record of the same hour (the looked-up hour)
    ("apple-health", "export.xml", b'<?xml version="1.0"?>\n<HealthData locale="en">\n'
     b'<Record type="HKQuantityTypeIdentifierStepCount" sourceName="x" '
     b'startDate="2025-05-01 10:00:00 +0100" endDate="2025-05-01 10:01:00 +0100" value="5"/>\n'
     b'<Record type="HKQuantityTypeIdentifierStepCount" sourceName="x" '
     b'startDate="2025-05-01 10:75:00 +0100" endDate="2025-05-01 10:76:00 +0100" value="5"/>\n'
     b'</HealthData>\n'),
    ("ofx", "empty.ofx", b""),
    ("csv", "empty.csv", b""),
    ("ics", "empty.ics", b""),
    ("dayone", "Journal.json", b'{"entries": [{"uuid": "x", "creationDate": '),
])
def test_hostile_files_are_refused_whole(cfg, tmp_path, kind, name, content):
    project(cfg)
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=name.replace(".", r"\.")):
        run_import(cfg, kind, path)
    for table in ("health_metrics", "transactions", "journal_entries"):
        assert not any(keys_by_tier(cfg, table).values())


def test_truncated_zip_of_a_real_export(cfg, tmp_path):
    from persys_pipelines.lib.imports.synthetic import write_export

    project(cfg)
    xml = tmp_path / "export.xml"
    write_export(xml, 3000, last_day=TODAY, days=60)
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(xml, "apple_health_export/export.xml")
        z.writestr("apple_health_export/electrocardiograms/ecg_2025-05-01.csv", "x")
    cut = tmp_path / "export.zip"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ImportFileError, match="export.zip"):
        run_import(cfg, "apple-health", cut)
    assert not any(keys_by_tier(cfg, "health_metrics").values())
    report = run_import(cfg, "apple-health", whole)
    assert any("ECG" in what for what in report.tally.skipped)


def test_one_fitid_on_two_days_across_archived_months_is_one_row(cfg, tmp_path):
    """A bank that posts a transaction again a day later keeps its FITID: the key does not
    hold the day, so the later month's batch must see the earlier month's file, even one this
    same import has just written into the archive."""
    project(cfg)
    path = tmp_path / "statement.ofx"
    path.write_text(ofx_text([("DEBIT", "20230131", "-7.00", "F9", "BAKERY"),
                              ("DEBIT", "20230201", "-7.00", "F9", "BAKERY"),
                              ("DEBIT", "20230315", "-2.00", "F10", "NEWSAGENT")]))
    report = run_import(cfg, "ofx", path)
    keys = keys_by_tier(cfg, "transactions")
    assert len(keys["archive"]) == 2 and not keys["core"] and not keys["main"]
    assert sum(report.delivered.new.values()) == 2
