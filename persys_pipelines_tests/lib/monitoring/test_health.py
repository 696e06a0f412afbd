"""Health checks against a local HTTP endpoint and the real tiers; incidents and uptime."""

from __future__ import annotations

import datetime as dt

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import HealthEndpoint
from persys_pipelines.lib.monitoring import health
from persys_pipelines_tests.monitoring_fakes import http_endpoint

T0 = dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)


def test_incident_opens_once_and_resolves_and_uptime_counts(cfg):
    status = [200]
    with http_endpoint(status) as url, resolve_tier(cfg, "main").connect() as main:
        ep = HealthEndpoint(name="home", url=url, interval_s=60)
        results = []
        for i, code in enumerate([200, 503, 503, 200]):
            status[0] = code
            r = health.check(handles.health_context(cfg), ep, at=T0 + dt.timedelta(minutes=i))
            results.append(r)
            transitions = health.record(main, [r])
            if i == 1:
                expected = [(False, "RuntimeError: HTTP 503")]
                assert [(t.ok, t.detail) for t in transitions] == expected
                assert health.is_healthy(main, "home") is False
                assert [i["endpoint"] for i in health.open_incidents(main)] == ["home"]
            elif i == 2:
                assert transitions == []  # still down: the same incident
            elif i == 3:
                assert [t.ok for t in transitions] == [True]
        assert [r.ok for r in results] == [True, False, False, True]
        assert health.is_healthy(main, "home") is True
        assert health.open_incidents(main) == []
        opened, resolved = main.execute(
            "select opened_at, resolved_at from persys.incidents").fetchone()
        assert (opened, resolved) == (T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=3))
        assert health.uptime(main, T0.date(), "Europe/London") == {
            "home": {"checks": 4, "ok": 2, "uptime_pct": 50.0}}
        # due: checked at T0+3 min with a 60 s interval
        assert health.due(main, [ep], T0 + dt.timedelta(minutes=3, seconds=30)) == []
        assert health.due(main, [ep], T0 + dt.timedelta(minutes=4)) == [ep]


def test_tier_archive_and_unreachable_endpoints(cfg):
    ctx = handles.health_context(cfg)
    ok_core = health.check(ctx, HealthEndpoint(name="core", url="tier:core"))
    ok_archive = health.check(ctx, HealthEndpoint(name="nas", url="archive:primary"))
    no_secondary = health.check(ctx, HealthEndpoint(name="nas2", url="archive:secondary"))
    refused = health.check(ctx, HealthEndpoint(name="x", url="http://user:pw@127.0.0.1:9/h",
                                               timeout_s=2))
    assert ok_core.ok and ok_archive.ok
    assert not no_secondary.ok and "secondary_url" in no_secondary.detail
    assert not refused.ok and refused.detail == "ConnectError" and "pw" not in refused.detail
    with resolve_tier(cfg, "main").connect() as main:
        assert health.is_healthy(main, "core") is None  # never recorded


def test_archive_fails_over_on_the_health_sensors_open_incident(config_path, tmp_path):
    import shutil

    import yaml

    from persys_pipelines.handles import archive_stores
    from persys_pipelines.lib.config import load_config
    from persys_pipelines.lib.monitoring.watch import health_tick

    blocker = tmp_path / "nas-mount"  # a file where the mounted folder should be: "down"
    doc = yaml.safe_load(config_path.read_text())
    doc["tiers"]["archive"] = {"url": f"file://{blocker}/archive",
                               "secondary_url": f"file://{tmp_path}/usb-disk"}
    doc["health"] = {"endpoints": [{"name": "nas", "url": "archive:primary", "interval_s": 10}]}
    config_path.write_text(yaml.safe_dump(doc))
    cfg = load_config(config_path)
    assert archive_stores(cfg).active.url == cfg.archive_url  # no health state: primary is up

    shutil.rmtree(blocker)
    blocker.write_text("not a folder")
    main, alerts = resolve_tier(cfg, "main"), handles.notifier(cfg)
    ctx = handles.health_context(cfg)
    health_tick(ctx, main, alerts, now=T0)  # the sensor finds the primary down: incident opened
    assert handles.known_down(cfg, "archive:primary").startswith("nas down since 2024-05-01")
    blocker.unlink()  # the mount is back, but the sensor has not looked again yet
    stores = archive_stores(cfg, down=handles.known_down(cfg, "archive:primary"))  # as the asset
    assert stores.active is stores.secondary and "nas down since" in stores.primary_error

    health_tick(ctx, main, alerts, now=T0 + dt.timedelta(seconds=30))  # next check: resolved
    assert handles.known_down(cfg, "archive:primary") is None
    assert archive_stores(cfg).active.url == cfg.archive_url
