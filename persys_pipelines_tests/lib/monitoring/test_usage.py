"""Usage history: measured from the real tiers, recorded in main, read back in order."""

from __future__ import annotations

import datetime as dt

from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.monitoring import usage

T0 = dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC)


def test_measure_record_and_read_history(cfg):
    samples = usage.measure_all([resolve_tier(cfg, "core"), resolve_tier(cfg, "main")], at=T0)
    core = next(s for s in samples if s.tier == "core")
    assert core.bytes > 1024 * 1024  # an empty PostgreSQL database is already megabytes
    assert core.quota_bytes == 500 * 1024 * 1024
    assert 0 < core.pct < 100
    main = resolve_tier(cfg, "main")
    with main.connect() as conn:
        usage.record(conn, samples)
        usage.record(conn, samples)  # the same instant again: ignored
        later = usage.Usage("core", core.bytes + 10, core.quota_bytes, T0 + dt.timedelta(hours=1))
        usage.record(conn, [later])
        history = usage.history(conn, "core")
        assert [(h.at, h.bytes) for h in history] == [(T0, core.bytes), (later.at, later.bytes)]
        assert usage.history(conn, "core", since=T0 + dt.timedelta(minutes=1)) == [later]
        assert len(usage.history(conn, "main")) == 1


def test_history_is_empty_before_anything_was_recorded(cfg):
    with resolve_tier(cfg, "main").connect() as conn:
        assert usage.history(conn, "core") == []
