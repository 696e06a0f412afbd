"""Monitoring sensors through Dagster's test contexts, against real tiers and a fake Telegram."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
import yaml

from persys_pipelines.defs.monitoring.failures import run_failure_notify_sensor
from persys_pipelines.defs.monitoring.health import health_check_sensor
from persys_pipelines.defs.monitoring.quota import EMERGENCY_TAG, core_quota_sensor
from persys_pipelines.defs.resources import resources
from persys_pipelines.handles import load_sample_data, resolve_tier, setup_tiers
from persys_pipelines.lib.config import load_config
from persys_pipelines_tests.monitoring_fakes import fake_telegram, http_endpoint

TOKEN = "999:monitoring-test-token"


def configure(path, tg_url: str, **changes) -> None:
    doc = yaml.safe_load(path.read_text())
    doc["telegram"] = {"token": TOKEN, "chat_id": "7", "base_url": tg_url}
    doc["notify"] = {"telegram": True}
    for key, value in changes.items():
        doc[key] = value
    path.write_text(yaml.safe_dump(doc))


def set_core_pct(path, pct: float) -> None:
    """Choose quota_mb so that the core tier's current size is `pct` % of it."""
    cfg = load_config(path)
    size_mb = resolve_tier(cfg, "core").size_bytes() / 1024 / 1024
    doc = yaml.safe_load(path.read_text())
    doc["tiers"]["core"]["quota_mb"] = round(size_mb * 100 / pct, 4)
    path.write_text(yaml.safe_dump(doc))


def tick(sensor, path, cursor):
    # `with`: the context's ephemeral instance is entered when the sensor reads it; left open,
    # Dagster's current defs-state storage would point at it after it is gone.
    with dg.build_sensor_context(cursor=cursor, resources=resources(str(path))) as ctx:
        result = sensor(ctx)
    requests = result if isinstance(result, list) else []
    return ctx.cursor, requests


def test_quota_sensor_warns_once_requests_one_emergency_and_does_not_flap(config_path, cfg):
    setup_tiers(cfg)
    load_sample_data(cfg, days=20, seed=1, as_of=dt.date(2024, 5, 20))
    sensor = core_quota_sensor("lifecycle_core_to_main")
    with fake_telegram() as tg:
        configure(config_path, tg.base_url)
        texts = lambda: [m["text"].splitlines()[0] for m in tg.messages]  # noqa: E731
        set_core_pct(config_path, 70)
        cursor, reqs = tick(sensor, config_path, None)
        assert reqs == [] and tg.messages == []
        set_core_pct(config_path, 85)
        cursor, reqs = tick(sensor, config_path, cursor)
        cursor, reqs2 = tick(sensor, config_path, cursor)  # still above: no second warning
        assert reqs == reqs2 == []
        assert len(texts()) == 1 and "core tier at 85.0%" in texts()[0]
        set_core_pct(config_path, 92)
        cursor, reqs = tick(sensor, config_path, cursor)
        cursor, again = tick(sensor, config_path, cursor)
        assert [r.run_key for r in reqs] == ["emergency-core-1"] and again == []
        assert reqs[0].job_name == "lifecycle_core_to_main"
        # the range starts at the oldest day in core (sample data: 2024-05-01..2024-05-20)
        assert reqs[0].tags["dagster/asset_partition_range_start"] == "2024-05-01"
        cutoff = dt.date.fromisoformat(reqs[0].tags[EMERGENCY_TAG])
        assert dt.date(2024, 5, 1) <= cutoff <= dt.datetime.now().date()
        assert len(texts()) == 2 and "🚨" in texts()[1]
        # hovering between the lines after the migration: the warning does not fire again
        for pct in (79, 82, 79, 84):
            set_core_pct(config_path, pct)
            cursor, reqs = tick(sensor, config_path, cursor)
            assert reqs == []
        assert len(tg.messages) == 2
        # a new critical crossing after recovery is a new emergency with a new key
        set_core_pct(config_path, 93)
        cursor, reqs = tick(sensor, config_path, cursor)
        assert [r.run_key for r in reqs] == ["emergency-core-2"]
        assert len(tg.messages) == 3
    with resolve_tier(cfg, "main").connect() as main:
        samples = main.execute("select count(*) from persys.usage where tier = 'core'").fetchone()
    # ten ticks within seconds: the history keeps one sample per tier per quarter-hour, so a
    # sensor ticking every minute does not grow persys.usage by half a million rows a year
    assert samples[0] == 1


def test_health_sensor_opens_and_resolves_an_incident(config_path):
    status = [200]
    with fake_telegram() as tg, http_endpoint(status) as url:
        configure(config_path, tg.base_url,
                  health={"endpoints": [{"name": "home", "url": url, "interval_s": 10}]})
        sensor = health_check_sensor()
        tick(sensor, config_path, None)
        status[0] = 500
        with resolve_tier(load_config(config_path), "main").connect() as main:
            main.execute("update persys.health_checks set at = at - interval '1 minute'")
            main.commit()
        tick(sensor, config_path, None)
        tick(sensor, config_path, None)  # not due yet: nothing checked, no second alert
        assert [m["text"].splitlines()[0] for m in tg.messages] == ["❌ persys: home is down"]


def failed_run(instance):
    @dg.asset(key=["main", "journal_entries"])
    def broken():
        raise RuntimeError("copy failed for postgresql://app:db-secret-pw@db.example.org/core")

    result = dg.materialize([broken], instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    event = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    return run, event


@pytest.mark.parametrize("telegram_down", [False, True])
def test_run_failure_sensor_notifies_job_asset_error_without_secrets(config_path, telegram_down):
    instance = dg.DagsterInstance.ephemeral()
    run, event = failed_run(instance)
    with fake_telegram() as tg:
        tg.fail = telegram_down
        configure(config_path, tg.base_url)
        ctx = dg.build_run_status_sensor_context(
            sensor_name="run_failure_notify_sensor", dagster_event=event,
            dagster_instance=instance, dagster_run=run,
            resources=resources(str(config_path)),
        ).for_run_failure()
        run_failure_notify_sensor(ctx)  # a failing Telegram must not raise
        if telegram_down:
            assert tg.messages == []
            return
    [msg] = tg.messages
    text = msg["text"]
    assert text.startswith(f"❌ persys: {run.job_name} failed")
    assert "main/journal_entries" in text and "copy failed for" in text
    assert "db-secret-pw" not in text and TOKEN not in text
