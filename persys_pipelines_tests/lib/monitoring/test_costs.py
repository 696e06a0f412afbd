"""Free-tier usage and AWS spend through moto's server (Budgets, Cost Explorer) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt

import boto3
import httpx
import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import AwsCosts, ElevenLabsCosts
from persys_pipelines.lib.monitoring import costs

ACCOUNT = "123456789012"
TODAY = dt.date(2024, 5, 20)


def make_budget(endpoint: str, name: str, spend: str, limit: str = "1.00") -> None:
    client = boto3.client("budgets", region_name="us-east-1", endpoint_url=endpoint)
    client.create_budget(AccountId=ACCOUNT, Budget={
        "BudgetName": name, "BudgetType": "COST", "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": limit, "Unit": "USD"},
        "CalculatedSpend": {"ActualSpend": {"Amount": spend, "Unit": "USD"}},
    })


def test_budgets_month_to_date_and_threshold(moto_server):
    make_budget(moto_server, "persys-zero", "0.0300")
    make_budget(moto_server, "other", "5.00", "10.00")
    aws = AwsCosts(account_id=ACCOUNT, budget_name="persys-zero", endpoint_url=moto_server)
    doc = costs.aws_budgets(aws)
    assert doc == {"budgets": [{"name": "persys-zero", "actual_usd": 0.03, "forecast_usd": None,
                                "limit_usd": 1.0}], "mtd_usd": 0.03, "forecast_usd": None}
    assert costs.over_threshold({"aws": doc}, 0.01) == {"aws_budgets": 0.03}
    assert costs.over_threshold({"aws": doc}, 0.05) == {}
    with pytest.raises(costs.CostError, match="no budget named 'missing'"):
        costs.aws_budgets(aws.model_copy(update={"budget_name": "missing"}))


def test_cost_explorer_is_called_at_most_once_a_day(moto_server, cfg):
    queued = {"results": [
        {"ResultsByTime": [{"TimePeriod": {"Start": "2024-05-01", "End": "2024-05-21"},
                            "Total": {"UnblendedCost": {"Amount": "0.0200", "Unit": "USD"}},
                            "Groups": [], "Estimated": True}]},
        {"ResultsByTime": [{"Total": {"UnblendedCost": {"Amount": "9.99", "Unit": "USD"}}}]},
    ]}
    r = httpx.post(f"{moto_server}/moto-api/static/ce/cost-and-usage-results", json=queued)
    assert r.status_code == 201
    aws = AwsCosts(account_id=ACCOUNT, endpoint_url=moto_server, cost_explorer=True)
    calls = []
    client = boto3.client("ce", region_name="us-east-1", endpoint_url=moto_server)
    client.meta.events.register("provide-client-params.ce.GetCostAndUsage",
                                lambda **kw: calls.append(kw["params"]))
    with resolve_tier(cfg, "main").connect() as main:
        first = costs.aws_cost_explorer(main, aws, TODAY, client)
        again = costs.aws_cost_explorer(main, aws, TODAY, client)
        assert len(calls) == 1  # the second answer came from persys.costs, not a paid request
        assert calls[0]["TimePeriod"] == {"Start": "2024-05-01", "End": "2024-05-21"}
        assert first["mtd_usd"] == 0.02 and not first["cached"]
        assert again["mtd_usd"] == 0.02 and again["cached"]
        tomorrow = costs.aws_cost_explorer(main, aws, TODAY + dt.timedelta(days=1), client)
        assert len(calls) == 2 and tomorrow["mtd_usd"] == 9.99
        off = aws.model_copy(update={"cost_explorer": False})
        assert costs.aws_cost_explorer(main, off, TODAY + dt.timedelta(days=2), client) is None
        assert len(calls) == 2


def test_collect_free_tier_usage(cfg, moto_server):
    make_budget(moto_server, "collect-budget", "0.00")
    cfg = cfg.model_copy(update={"costs": cfg.costs.model_copy(update={
        "aws": AwsCosts(account_id=ACCOUNT, budget_name="collect-budget",
                        endpoint_url=moto_server),
        "elevenlabs": ElevenLabsCosts(),
    })})
    with resolve_tier(cfg, "core").connect() as core:
        from persys_pipelines.lib.pg.schema import create_personal_tables

        create_personal_tables(core)
        core.execute("insert into persys.voice_messages (day, engine, characters) values "
                     "('2024-05-02', 'elevenlabs', 1200), ('2024-05-03', 'espeak', 900), "
                     "('2024-04-30', 'elevenlabs', 5000)")
        # Flash costs half a credit a character
        core.execute("insert into persys.voice_messages (day, engine, voice, characters) values "
                     "('2024-05-04', 'elevenlabs', 'JBFqnCBsd6RMkjVDRZzb/eleven_flash_v2_5', "
                     "1001)")
        core.commit()
    (cfg.home / "archive" / "t").mkdir(parents=True)
    (cfg.home / "archive" / "t" / "a.parquet").write_bytes(b"x" * 1000)
    doc = costs.collect(handles.cost_sources(cfg), TODAY)
    assert doc["supabase"]["limit_mb"] == 500 and 0 < doc["supabase"]["pct"] < 100
    assert doc["elevenlabs"] == {"credits_used": 1701, "credit_limit": 10000, "pct": 17.01}
    assert doc["object_store"]["bytes"] == 1000 and doc["object_store"]["files"] == 1
    assert doc["aws"]["mtd_usd"] == 0.0 and doc["errors"] == []
    assert costs.over_threshold(doc, 0.01) == {}
