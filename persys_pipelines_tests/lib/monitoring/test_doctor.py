"""`persys doctor` as a person runs it: their own Supabase-shaped core, every service through
its real client against a local fake, one line per check, exit 1 on any FAIL, no secret shown.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from persys_pipelines import handles
from persys_pipelines.cli import main
from persys_pipelines.lib.archive.marker import MARKER, ensure_marker
from persys_pipelines.lib.archive.stores import open_store
from persys_pipelines.lib.errors import ArchiveError
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.monitoring_fakes import fake_telegram, smtp_server
from persys_pipelines_tests.supabase_fakes import SERVICE_KEY, fake_supabase
from persys_pipelines_tests.supabase_fixture import (
    DAILY_SOURCES,
    METRICS,
    USERS,
    create_supabase_core,
)
from persys_pipelines_tests.voice_fakes import API_KEY, fake_elevenlabs

KEY = "k1:" + base64.b64encode(bytes(range(32))).decode()
BOT = "123456:persys-test-bot-token"
SMTP_PASSWORD = "smtp-pass-4567"
OWN_TABLES = {"journal": {"day_column": "written_at", "core_days": 3},
              "sleep_log": {"day_column": "night", "core_days": 3}}


def write(tmp_path: Path, tier_dsns: dict, *, tiers: dict | None = None,
          tables: dict | None = None, **extra) -> Path:
    home = tmp_path / "home"
    base = {"core": {"dsn": tier_dsns["core"]}, "main": {"dsn": tier_dsns["main"]},
            "archive": {"url": f"file://{tmp_path / 'archive'}", "encryption_key": KEY,
                        # backups apart from the data's disk (else a WARN: doctor/privacy.py)
                        "backup_url": "s3://persys-backups/home"}}
    for name, values in (tiers or {}).items():
        base[name] = {**base.get(name, {}), **values}
    extra.setdefault("daily", {"sources": DAILY_SOURCES,  # the fixture's journal is shared
                               "person": {"column": "user_id", "value": str(USERS[0])}})
    return write_config(tmp_path / "persys.yaml", tier_dsns, home, tiers=base,
                        tables=tables if tables is not None else OWN_TABLES, **extra)


def doctor(path: Path, capsys) -> tuple[int, str]:
    code = main(["doctor", "--config", str(path)])
    return code, capsys.readouterr().out


def lines(out: str, status: str) -> list[str]:
    return [x for x in out.splitlines() if x.startswith(status)]


def test_a_good_config_is_all_ok_and_validate_says_the_same(tmp_path, tier_dsns, capsys,
                                                            monkeypatch):
    """Every service configured and answering: exit 0, one ok line per thing, nothing
    written by doctor (the marker appears only after `persys setup`)."""
    create_supabase_core(tier_dsns["core"], days=3)
    monkeypatch.setenv("TEST_BOT", BOT)
    monkeypatch.setenv("TEST_ELEVEN", API_KEY)
    monkeypatch.setenv("TEST_SB_KEY", SERVICE_KEY)
    monkeypatch.setenv("TEST_SMTP", SMTP_PASSWORD)
    with fake_supabase() as sb, fake_telegram(token=BOT) as tg, \
            smtp_server(password=SMTP_PASSWORD) as box, fake_elevenlabs() as el:
        path = write(
            tmp_path, tier_dsns,
            tiers={"core": {"supabase_url": sb.base_url, "service_key": "env:TEST_SB_KEY"}},
            telegram={"token": "env:TEST_BOT", "chat_id": "42", "base_url": tg.base_url},
            notify={"email": {"smtp_host": box.host, "smtp_port": box.port, "starttls": False,
                              "username": "me", "password": "env:TEST_SMTP",
                              "from": "persys@example.org", "to": ["me@example.org"]}},
            voice={"engine": "elevenlabs", "store_url": "supabase://voice/persys",
                   "elevenlabs": {"api_key": "env:TEST_ELEVEN", "base_url": el.base_url}})
        assert main(["setup", "--config", str(path)]) == 0
        assert (tmp_path / "archive" / MARKER).is_file()
        capsys.readouterr()

        code, out = doctor(path, capsys)
        assert code == 0, out
        assert not lines(out, "FAIL") and not lines(out, "WARN"), out
        for expected in ("ok    core: connect", "ok    core: size", "ok    core: writable",
                         "ok    core: journal  (primary key (id), day column written_at)",
                         "ok    core: sleep_log", "ok    main: persys.ledger",
                         "ok    archive primary", "ok    encryption keys  (1 of 32 bytes (k1)",
                         "ok    supabase: rest", "ok    voice store  (supabase://voice/persys)",
                         "ok    telegram  (bot @persys_test_bot, chat 42)",
                         "ok    e-mail", "ok    elevenlabs  (0 of 10,000 characters used"):
            assert expected in out, expected
        # the person's own schema, as doctor reads it: FKs into auth, RLS, the trigger
        assert "core: journal references  (refers to auth.users; auth.users is not " \
               "recreated in main" in out
        assert "ok    core: journal rls" in out and "ok    core: journal trigger " \
               "journal_updated_at" in out
        assert box.messages == [] and tg.messages == []  # nothing sent, a login only
        assert box.logins == [("me", True)] and any(p.endswith("/getMe") for p in tg.paths)
        assert not [r for r in el.requests if "/text-to-speech/" in r["path"]]
        for secret in (BOT, API_KEY, SERVICE_KEY, SMTP_PASSWORD, KEY[3:]):
            assert secret not in out

        assert main(["setup", "--validate", "--config", str(path)]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == out.splitlines()[-1]


def test_a_wrong_password_fails_without_showing_it(tmp_path, tier_dsns, capsys):
    password = "hunter2-not-shown"
    user_dsn = tier_dsns["core"].replace("postgres:@", f"nobody_here:{password}@", 1)
    assert user_dsn != tier_dsns["core"]
    code, out = doctor(write(tmp_path, {**tier_dsns, "core": user_dsn}), capsys)
    assert code == 1
    (fail,) = [x for x in lines(out, "FAIL") if "core:" in x]  # (main is not set up here)
    assert fail.startswith("FAIL  core: connect") and "nobody_here" in fail
    assert "tiers.core.dsn" in fail and password not in out
    assert "ok    main: connect" in out  # the other tier is still checked


def test_an_unreachable_supabase_host_suggests_the_paused_project(tmp_path, tier_dsns,
                                                                  capsys):
    dsn = ("postgresql://postgres:pw-secret-1@db.abcdefghijkl.supabase.co:1/postgres"
           "?connect_timeout=2")
    code, out = doctor(write(tmp_path, {**tier_dsns, "core": dsn}), capsys)
    assert code == 1
    (fail,) = [x for x in lines(out, "FAIL") if "core:" in x]
    assert "core: connect" in fail and "Supabase project paused" in fail
    assert "restore it" in fail and "pw-secret-1" not in out


def test_broken_tables_each_fail_with_the_fix(tmp_path, tier_dsns, capsys):
    with psycopg.connect(tier_dsns["core"]) as conn:
        conn.execute("create table readings (taken_on date, value real)")  # no primary key
        conn.execute("create table notes (id int primary key, day text)")  # text day
    tables = {"readings": {"day_column": "taken_on", "core_days": 3},
              "notes": {"day_column": "day", "core_days": 3},
              "mood_log": {"day_column": "day", "core_days": 3}}
    path = write(tmp_path, tier_dsns, tables=tables, daily={"sources": dict.fromkeys(METRICS)})
    assert main(["setup", "--config", str(path)]) == 0
    capsys.readouterr()
    code, out = doctor(path, capsys)
    assert code == 1
    fails = {x.split("  ")[1]: x for x in lines(out, "FAIL")}
    assert set(fails) == {"core: readings", "core: notes", "core: mood_log"}, out
    assert "no primary key" in fails["core: readings"]
    assert "add one (alter table readings add primary key" in fails["core: readings"]
    assert "column 'day' is text; it must be a date or timestamptz" in fails["core: notes"]
    assert "missing; create it or drop it from persys.yaml" in fails["core: mood_log"]
    assert out.splitlines()[-1].endswith("3 failed")


def test_a_delete_trigger_writing_elsewhere_and_forced_rls_are_warned(tmp_path, tier_dsns,
                                                                      capsys):
    with psycopg.connect(tier_dsns["core"]) as conn:
        conn.execute("create role persys_doctor_app login")
        try:
            conn.execute("""
                create table events (id int primary key, day date not null);
                create table events_audit (id int, gone_at timestamptz default now());
                create function audit_delete() returns trigger language plpgsql as $$
                begin insert into events_audit (id) values (old.id); return old; end $$;
                create trigger events_audit after delete on events
                  for each row execute function audit_delete();
                alter table events enable row level security;
                alter table events force row level security;
                alter table events owner to persys_doctor_app;
                grant usage, create on schema public to persys_doctor_app;""")
            conn.commit()
            app_dsn = tier_dsns["core"].replace("postgres:@", "persys_doctor_app:@", 1)
            path = write(tmp_path, {**tier_dsns, "core": app_dsn},
                         tables={"events": {"day_column": "day", "core_days": 3}})
            code, out = doctor(path, capsys)
        finally:
            conn.rollback()
            conn.execute("drop owned by persys_doctor_app cascade")
            conn.execute("drop role persys_doctor_app")
            conn.commit()
    warns = "\n".join(lines(out, "WARN"))
    assert "core: events trigger events_audit" in warns
    assert "audit_delete() writes to a table" in warns and "grows core" in warns
    assert "core: events rls" in warns and "FORCE ROW LEVEL SECURITY" in warns
    assert "BYPASSRLS" in warns


def archived_once(cfg_path: Path, tier_dsns: dict, store_url: str) -> None:
    """Main's ledger says a month of journal went into the store at `store_url`."""
    with psycopg.connect(tier_dsns["main"]) as conn:
        conn.execute(
            "insert into persys.ledger (route, table_name, first_day, last_day, from_tier, "
            "to_tier, rows, state, detail) values ('main_archive', 'journal', '2024-01-01', "
            "'2024-01-31', 'main', 'archive', 10, 'done', %s)", (Jsonb({"store": store_url}),))


def test_an_unmounted_archive_folder_is_not_taken_for_an_empty_archive(tmp_path, tier_dsns,
                                                                       capsys):
    create_supabase_core(tier_dsns["core"], days=1)
    path = write(tmp_path, tier_dsns)
    assert main(["setup", "--config", str(path)]) == 0
    capsys.readouterr()
    store_url = f"file://{tmp_path / 'archive'}"
    archived_once(path, tier_dsns, store_url)
    (tmp_path / "archive" / MARKER).unlink()  # the NAS share is not mounted: an empty folder

    code, out = doctor(path, capsys)
    assert code == 1
    assert len(lines(out, "FAIL")) == 1, out
    (fail,) = lines(out, "FAIL")
    assert fail.startswith("FAIL  archive primary") and f"has no {MARKER} marker" in fail
    assert "records 1 month(s) archived into it" in fail and "Mount the share" in fail

    store = open_store(store_url)
    with psycopg.connect(tier_dsns["main"]) as conn, \
            pytest.raises(ArchiveError, match="Mount the share or fix tiers.archive.url"):
        ensure_marker(store, conn)
    assert not (tmp_path / "archive" / MARKER).exists()  # refused, nothing written

    assert main(["setup", "--config", str(path)]) == 0  # setup does not paper over it
    assert "NOT marked" in capsys.readouterr().out
    assert not (tmp_path / "archive" / MARKER).exists()


def test_bad_key_rejected_token_and_rejected_elevenlabs_key_fail(tmp_path, tier_dsns, capsys,
                                                                 monkeypatch):
    short = base64.b64encode(b"sixteen byte key").decode()
    code, out = doctor(write(tmp_path, tier_dsns, tiers={"archive": {
        "encryption_key": f"k1:{short}"}}), capsys)
    assert code == 1 and "decodes to 16 bytes, AES-256 needs 32" in out and short not in out

    create_supabase_core(tier_dsns["core"], days=1)
    monkeypatch.setenv("TEST_BOT", "999:revoked-token-value")
    monkeypatch.setenv("TEST_ELEVEN", "wrong-eleven-key-value")
    with fake_telegram(token=BOT) as tg, fake_elevenlabs() as el:
        path = write(tmp_path, tier_dsns,
                     telegram={"token": "env:TEST_BOT", "chat_id": "42",
                               "base_url": tg.base_url},
                     voice={"elevenlabs": {"api_key": "env:TEST_ELEVEN",
                                           "base_url": el.base_url}})
        main(["setup", "--config", str(path)])
        capsys.readouterr()
        code, out = doctor(path, capsys)
    assert code == 1
    fails = {x.split("  ")[1]: x for x in lines(out, "FAIL")}
    assert set(fails) == {"telegram", "elevenlabs"}, out
    assert "Telegram getMe failed: Unauthorized" in fails["telegram"]
    assert "check telegram.token" in fails["telegram"]
    assert "API key was rejected (401" in fails["elevenlabs"]
    assert "revoked-token-value" not in out and "wrong-eleven-key-value" not in out


def test_the_rest_probe_fails_on_a_rejected_key_and_a_paused_project(tmp_path, tier_dsns,
                                                                     capsys, monkeypatch):
    create_supabase_core(tier_dsns["core"], days=1)
    with fake_supabase() as sb:
        monkeypatch.setenv("TEST_SB_KEY", "not-the-service-key")
        path = write(tmp_path, tier_dsns, tiers={"core": {
            "supabase_url": sb.base_url, "service_key": "env:TEST_SB_KEY"}})
        main(["setup", "--config", str(path)])
        capsys.readouterr()
        code, out = doctor(path, capsys)
        assert code == 1
        assert len(lines(out, "FAIL")) == 1, out
        (fail,) = lines(out, "FAIL")
        assert "supabase: rest" in fail and "Invalid API key" in fail
        assert "check tiers.core.service_key" in fail and "not-the-service-key" not in out

        monkeypatch.setenv("TEST_SB_KEY", SERVICE_KEY)
        sb.rest_status = 503
        code, out = doctor(path, capsys)
        assert len(lines(out, "FAIL")) == 1, out
        (fail,) = lines(out, "FAIL")
        assert code == 1 and "Supabase project paused" in fail

        sb.rest_status = 200
        code, out = doctor(path, capsys)
        assert code == 0 and "ok    supabase: rest  (REST select on daily_summaries" in out
        assert ("GET", "rest/v1/daily_summaries") in sb.requests


def test_health_sensor_probes_supabase_when_configured(tmp_path, tier_dsns, monkeypatch):
    """No health.endpoints at all: the Supabase REST probe is checked anyway, and a paused
    project opens an incident that the next good probe resolves."""
    from persys_pipelines.handles import resolve_tier, setup_tiers
    from persys_pipelines.lib.config import load_config
    from persys_pipelines.lib.monitoring.watch import health_tick

    monkeypatch.setenv("TEST_SB_KEY", SERVICE_KEY)
    with fake_supabase() as sb:
        cfg = load_config(write(tmp_path, tier_dsns, tiers={"core": {
            "supabase_url": sb.base_url, "service_key": "env:TEST_SB_KEY"}}))
        setup_tiers(cfg)
        main, alerts = resolve_tier(cfg, "main"), handles.notifier(cfg)
        now = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
        sb.rest_status = 503
        (line,) = health_tick(handles.health_context(cfg), main, alerts, now)
        assert line.startswith("supabase: FAIL") and "paused" in line
        sb.rest_status = 200
        (line,) = health_tick(handles.health_context(cfg), main, alerts,
                              now + dt.timedelta(minutes=10))
        assert line.startswith("supabase: ok")
    with psycopg.connect(tier_dsns["main"]) as conn:
        assert conn.execute("select endpoint, resolved_at is not null from persys.incidents"
                            ).fetchall() == [("supabase", True)]


def test_daily_sources_the_database_cannot_serve_are_named(tmp_path, tier_dsns, capsys):
    """A typo in a column, the sample schema's default sources on tables the person does not
    have: each is a FAIL naming its daily.sources key, before the first morning run fails."""
    create_supabase_core(tier_dsns["core"], days=1)
    sources = {**DAILY_SOURCES, "mood": {**DAILY_SOURCES["mood"], "value": "mood_scor"}}
    path = write(tmp_path, tier_dsns, daily={"sources": sources})
    assert main(["setup", "--config", str(path)]) == 0
    capsys.readouterr()
    code, out = doctor(path, capsys)
    assert code == 1
    (fail,) = lines(out, "FAIL")
    assert fail.startswith("FAIL  daily.sources.mood.value ('mood_scor')")
    assert 'column "mood_scor" does not exist' in fail

    defaults = write(tmp_path, tier_dsns, daily={})  # the sample schema's sources
    code, out = doctor(defaults, capsys)
    assert code == 1
    assert ("FAIL  daily.sources.steps.table  (no table 'health_metrics' in this database; "
            "name an existing table or set the metric to null)") in out

    write(tmp_path, tier_dsns)
    code, out = doctor(path.parent / "persys.yaml", capsys)
    assert code == 0 and "ok    daily.sources  (3 metrics run on core: journal_words, mood, " \
        "sleep_hours; daily.person filters journal_words, mood, sleep_hours)" in out, out
