"""SMS through AWS SNS (boto3 against moto's server on 127.0.0.1): only the rare alerts,
never the routine ones, at most `monthly_cap` a month; and the rare-alert sensor that finds
backups failing twice in a row and core down for a quarter of an hour."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
import yaml
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from persys_pipelines import handles
from persys_pipelines.definitions import build_definitions
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.monitoring import rare
from persys_pipelines.lib.pg.schema import create_monitoring_tables

PHONE = "+447700900123"


def texts_sent() -> list[str]:
    backend = sns_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"]
    return [message for phone, message, *_ in backend.sms_messages.values() if phone == PHONE]


@pytest.fixture
def sms_config(config_path, moto_server, monkeypatch):
    monkeypatch.setenv("SMS_PHONE", PHONE)
    sns_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].sms_messages.clear()
    doc = yaml.safe_load(config_path.read_text())
    doc["notifications"] = {"sms": {"phone_number": "env:SMS_PHONE", "region": "eu-west-2",
                                    "endpoint_url": moto_server, "monthly_cap": 2}}
    doc["health"] = {"endpoints": [{"name": "core-db", "url": "tier:core"}]}
    config_path.write_text(yaml.safe_dump(doc))
    return config_path


def test_only_rare_alerts_go_by_sms_and_never_past_the_monthly_cap(sms_config):
    alerts = handles.notifier(load_config(sms_config))
    alerts.notify("quota:core:warn:1", "core at 81%")
    alerts.notify("forecast:core:90:1", "core reaches 90% soon")
    alerts.notify("run-failure:abc", "lifecycle failed")
    assert texts_sent() == []  # routine: never a text message

    alerts.notify("quota:core:critical:1", "🚨 core at 91%", "critical_pct is 90%")
    alerts.notify("quota:core:critical:1", "🚨 core at 91%", "again")  # the same alert: once
    alerts.notify("core-paused:7", "🚨 the core database is down", "HTTP 540")
    alerts.notify("backups-failing:r9", "🚨 backups are failing", "...")  # past the cap of 2
    assert texts_sent() == ["🚨 core at 91%\ncritical_pct is 90%",
                            "🚨 the core database is down\nHTTP 540"]
    with resolve_tier(load_config(sms_config), "main").connect() as conn:
        rows = conn.execute("select status, count(*) from persys.sms group by 1").fetchall()
        text = " ".join(str(r) for r in conn.execute("select * from persys.sms").fetchall())
    assert dict(rows) == {"sent": 2, "capped": 1}
    assert PHONE not in text  # the number is nowhere in the table
    assert PHONE not in repr(alerts.channels)


def test_failing_nights_need_three_consecutive_nights_without_success():
    day = dt.date(2025, 5, 10)

    def night(n: int, ok: bool, job: str = "lifecycle_core_to_main") -> rare.Outcome:
        return rare.Outcome(f"r{n}{ok}", job, day - dt.timedelta(days=n), ok, True)

    assert rare.failing_nights([night(0, False), night(1, False), night(2, False)]) == [
        ("lifecycle_core_to_main", day)]
    assert rare.failing_nights([night(0, False), night(1, False)]) == []  # two nights
    assert rare.failing_nights([night(0, False), night(1, False), night(3, False)]) == []  # gap
    retried = [night(0, False), night(0, True), night(1, False), night(2, False)]
    assert rare.failing_nights(retried) == []  # a retry that night succeeded
    by_hand = [rare.Outcome("x", "j", day - dt.timedelta(days=n), False, False) for n in range(3)]
    assert rare.failing_nights(by_hand) == []  # runs started by hand are not nights


def test_rare_alert_sensor_texts_failing_backups_and_a_core_down(sms_config, monkeypatch):
    monkeypatch.setenv("PERSYS_PERSON", "alice")  # a household's shared instance: hers only
    cfg = load_config(sms_config)
    defs = build_definitions(cfg, str(sms_config))
    sensor = defs.get_sensor_def("rare_alert_sensor")

    @dg.op
    def take_backup() -> None:
        raise RuntimeError("bucket gone")

    @dg.job(name="backup_tier")
    def backup_tier() -> None:
        take_backup()

    with dg.instance_for_test() as instance:
        for _ in range(2):  # bob's backups failing are not alice's to hear about
            backup_tier.execute_in_process(instance=instance, raise_on_error=False,
                                           tags={"persys/person": "bob"})
        backup_tier.execute_in_process(instance=instance, raise_on_error=False,
                                       tags={"persys/person": "alice"})
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
            sensor(ctx)
        assert texts_sent() == []  # one failed backup of hers is not "failing"
        backup_tier.execute_in_process(instance=instance, raise_on_error=False,
                                       tags={"persys/person": "alice"})
        with resolve_tier(cfg, "main").connect() as conn:
            create_monitoring_tables(conn)
            conn.execute("insert into persys.incidents (endpoint, opened_at, detail) values "
                         "('core-db', now() - interval '20 minutes', 'connection refused.')")
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
            sensor(ctx)
        sent = texts_sent()
        assert any(t.startswith("🚨 persys: backups are failing") for t in sent), sent
        assert any(t.startswith("🚨 persys: the core database is down") for t in sent), sent
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
            sensor(ctx)  # again: the outbox sends nothing twice
        assert len(texts_sent()) == 2
