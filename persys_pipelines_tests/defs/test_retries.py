"""Steps that call out retry a transient failure (with backoff) and succeed on the next attempt;
an error only the person can fix fails at once, without retries."""

from __future__ import annotations

import dagster as dg

from persys_pipelines.definitions import build_definitions
from persys_pipelines.defs.monitoring.assets import FREE_TIER
from persys_pipelines.defs.retries import NETWORK_RETRY
from persys_pipelines.handles import setup_tiers
from persys_pipelines.lib.errors import ConfigError
from persys_pipelines.lib.monitoring import costs
from persys_pipelines.lib.pg.tiers import TierUnavailable

DAY = "2025-02-20"


def materialize_free_tier(cfg, config_path) -> dg.ExecuteInProcessResult:
    defs = build_definitions(cfg, str(config_path))
    # the resolved asset carries the Definitions' resources already
    return dg.materialize([defs.resolve_assets_def(FREE_TIER)], partition_key=DAY,
                          raise_on_error=False)


def flaky(real, fail_with: Exception, times: int):
    calls: list[int] = []

    def _call(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise fail_with
        return real(*args, **kwargs)

    return _call, calls


def test_a_transient_failure_is_retried_and_the_retry_succeeds(cfg, config_path, monkeypatch):
    setup_tiers(cfg)
    call, calls = flaky(costs.supabase_usage,
                        TierUnavailable("the core tier cannot be reached: timeout"), times=1)
    monkeypatch.setattr(costs, "supabase_usage", call)
    result = materialize_free_tier(cfg, config_path)
    assert result.success
    assert len(calls) == 2
    restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert len(restarts) == 1
    [mat] = result.asset_materializations_for_node("monitoring__free_tier_usage")
    assert mat.metadata["supabase_mb"].value > 0


def test_an_error_the_person_must_fix_is_not_retried(cfg, config_path, monkeypatch):
    setup_tiers(cfg)
    call, calls = flaky(costs.supabase_usage,
                        ConfigError("persys.yaml", ["tiers.core.dsn: fix it"]), times=5)
    monkeypatch.setattr(costs, "supabase_usage", call)
    result = materialize_free_tier(cfg, config_path)
    assert not result.success
    assert len(calls) == 1
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_the_policy_is_exponential_with_jitter():
    assert NETWORK_RETRY.max_retries == 3
    assert NETWORK_RETRY.backoff == dg.Backoff.EXPONENTIAL
    assert NETWORK_RETRY.jitter == dg.Jitter.PLUS_MINUS
