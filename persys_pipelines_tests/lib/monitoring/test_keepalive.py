"""The Supabase pause guard: real queries of core on a schedule, and one alert when the project
is found paused (HTTP 540) or restricted (HTTP 402), against a fake Supabase on 127.0.0.1 and
the real core tier."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import yaml

from persys_pipelines import handles
from persys_pipelines.defs.monitoring.keepalive import supabase_pause_guard
from persys_pipelines.defs.resources import resources
from persys_pipelines.handles import resolve_tier, setup_tiers
from persys_pipelines.lib import supabase_rest
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.monitoring import keepalive
from persys_pipelines_tests.monitoring_fakes import fake_telegram
from persys_pipelines_tests.supabase_fakes import SERVICE_KEY, fake_supabase

T0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def configure(path, sb_url: str, tg_url: str, **core) -> None:
    doc = yaml.safe_load(path.read_text())
    doc["tiers"]["core"].update({"supabase_url": sb_url, "service_key": SERVICE_KEY, **core})
    doc["telegram"] = {"token": "42:pause-guard", "chat_id": "9", "base_url": tg_url}
    doc["notify"] = {"telegram": True}
    path.write_text(yaml.safe_dump(doc))


def test_project_state_reads_supabase_status_codes():
    with fake_supabase() as sb:
        assert supabase_rest.project_state(sb.base_url, SERVICE_KEY).state == "up"
        sb.rest_status = 540
        paused = supabase_rest.project_state(sb.base_url, SERVICE_KEY)
        assert (paused.state, paused.status) == ("paused", 540)
        assert "Restore project" in paused.detail and SERVICE_KEY not in paused.detail
        sb.rest_status = 402
        restricted = supabase_rest.project_state(sb.base_url, SERVICE_KEY)
        assert restricted.state == "restricted" and "does not lift it" in restricted.detail
        sb.rest_status = 500
        assert supabase_rest.project_state(sb.base_url, SERVICE_KEY).state == "error"
    gone = supabase_rest.project_state(sb.base_url, SERVICE_KEY, timeout_s=2)
    assert gone.state == "unreachable" and gone.status is None


def test_guard_queries_daily_alerts_once_when_paused_and_once_when_back(config_path):
    with fake_supabase() as sb, fake_telegram() as tg:
        configure(config_path, sb.base_url, tg.base_url)
        cfg = load_config(config_path)
        setup_tiers(cfg)
        core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
        alerts = handles.notifier(cfg)
        tick = lambda hours: keepalive.keepalive_tick(  # noqa: E731
            handles.watch(cfg), core, main, alerts, now=T0 + dt.timedelta(hours=hours))
        rest = lambda: sum(1 for m, p in sb.requests if p.startswith("rest/"))  # noqa: E731

        first = tick(0)
        assert first.due and first.ok and "select on daily_summaries ok" in first.detail
        assert rest() == 1
        assert not tick(1).due and not tick(23).due  # a third of keepalive_days: daily
        assert tick(24).due and rest() == 2
        sb.rest_status = 540  # a week without queries happened anyway (the machine was off)
        down = tick(48)
        assert not down.ok and down.state == "paused"
        assert [m["text"].splitlines()[0] for m in tg.messages] == [
            "🛑 persys: the Supabase project is paused"]
        assert "Restore project" in tg.messages[0]["text"]
        assert not tick(48.5).due  # down: looked at again within the hour, not every minute
        assert tick(49).due and len(tg.messages) == 1  # still paused: no second alert
        sb.rest_status = 200
        assert tick(50).ok
        assert len(tg.messages) == 2 and "answers again" in tg.messages[1]["text"]
        assert SERVICE_KEY not in "".join(m["text"] for m in tg.messages)


def test_guard_names_the_402_restriction(config_path):
    with fake_supabase(rest_status=402) as sb, fake_telegram() as tg:
        configure(config_path, sb.base_url, tg.base_url)
        cfg = load_config(config_path)
        setup_tiers(cfg)
        done = keepalive.keepalive_tick(handles.watch(cfg), resolve_tier(cfg, "core"),
                                        resolve_tier(cfg, "main"), handles.notifier(cfg),
                                        now=T0)
        assert done.state == "restricted"
        text = tg.messages[0]["text"]
        assert "HTTP 402" in text and "billing cycle's average" in text


def test_sensor_skips_a_core_that_is_not_supabase_and_guards_one_that_is(config_path):
    cfg = load_config(config_path)
    setup_tiers(cfg)
    with dg.build_sensor_context(resources=resources(str(config_path))) as ctx:
        result = supabase_pause_guard(ctx)
    assert "not a Supabase project" in result.skip_message
    with fake_supabase() as sb, fake_telegram() as tg:
        configure(config_path, sb.base_url, tg.base_url)
        with dg.build_sensor_context(resources=resources(str(config_path))) as ctx:
            result = supabase_pause_guard(ctx)
        assert result.skip_message.startswith("keepalive ok")
        with dg.build_sensor_context(resources=resources(str(config_path))) as ctx:
            assert "recent enough" in supabase_pause_guard(ctx).skip_message
        configure(config_path, sb.base_url, tg.base_url, keepalive_days=None)
        with dg.build_sensor_context(resources=resources(str(config_path))) as ctx:
            assert "keepalive_days is null" in supabase_pause_guard(ctx).skip_message


def test_unreachable_core_sql_is_reported_with_the_fix(config_path):
    with fake_supabase() as sb, fake_telegram() as tg:
        configure(config_path, sb.base_url, tg.base_url)
        doc = yaml.safe_load(config_path.read_text())
        doc["tiers"]["core"]["dsn"] = "postgresql://persys:pw-secret@127.0.0.1:9/none"
        config_path.write_text(yaml.safe_dump(doc))
        cfg = load_config(config_path)
        ok, state, detail = keepalive.check(handles.watch(cfg), resolve_tier(cfg, "core"))
    assert not ok and state == "unreachable" and "SQL:" in detail and "pw-secret" not in detail


def test_main_down_still_queries_core_and_says_so(config_path):
    with fake_supabase(rest_status=540) as sb, fake_telegram() as tg:
        configure(config_path, sb.base_url, tg.base_url)
        doc = yaml.safe_load(config_path.read_text())
        doc["tiers"]["main"]["dsn"] = "postgresql://persys:pw@127.0.0.1:9/none"
        config_path.write_text(yaml.safe_dump(doc))
        cfg = load_config(config_path)
        done = keepalive.keepalive_tick(handles.watch(cfg), resolve_tier(cfg, "core"),
                                        resolve_tier(cfg, "main"), handles.notifier(cfg),
                                        now=T0)
        assert done.due and done.state == "paused" and "select on" in done.detail
        assert any(r[1].startswith("rest/") for r in sb.requests)
        assert tg.messages[0]["text"].startswith("🛑 persys: the Supabase project is paused")
