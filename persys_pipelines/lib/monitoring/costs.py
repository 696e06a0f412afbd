"""Free-tier usage and paid charges: Supabase MB, ElevenLabs credits, object-store bytes, AWS.

AWS month-to-date spend comes from AWS Budgets (`describe_budgets` is free). Cost Explorer
costs $0.01 per request, so it is called only when `costs.aws.cost_explorer` is true and at
most once per day: the day's answer is kept in main's `persys.costs` and reused.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ..config import AwsCosts, Costs
from ..errors import ServiceError
from ..pg.catalog import table_exists
from ..pg.schema import create_monitoring_tables
from ..pg.tiers import PgTier

log = logging.getLogger(__name__)

SUPABASE_FREE_MB = 500


class CostError(ServiceError):
    """A cost source could not be read; names the source and what to check."""


@dataclass(frozen=True)
class CostSources:
    """What the free-tier document reads: the tiers, core's quota (tiers.core.quota_mb), the
    `costs:` section and the archive store's URL (built at the config boundary)."""

    core: PgTier
    main: PgTier
    costs: Costs
    core_quota_mb: float | None
    archive_url: str


def supabase_usage(core: PgTier, quota_mb: float | None) -> dict[str, Any]:
    size = core.size_bytes()
    limit_mb = quota_mb or SUPABASE_FREE_MB
    return {"mb": round(size / 1024 / 1024, 2), "limit_mb": limit_mb,
            "pct": round(100 * size / 1024 / 1024 / limit_mb, 2)}


def elevenlabs_usage(src: CostSources, today: dt.date) -> dict[str, Any] | None:
    """Credits spent on ElevenLabs this month, from persys.voice_messages in core+main: a character
    is a credit, half a credit on the Flash/Turbo models (`voice` is `<voice id>/<model>`)."""
    from ..voice.plan import HALF_PRICE_MODELS

    if src.costs.elevenlabs is None:
        return None
    first = today.replace(day=1)
    used = 0
    for tier in (src.core, src.main):
        with tier.connect() as conn:
            if table_exists(conn, "voice_messages"):
                used += int(conn.execute(
                    sql.SQL("select coalesce(sum(case when split_part(voice, '/', 2) = any(%s) "
                            "then ceil(characters * 0.5) else characters end), 0) "
                            "from persys.voice_messages "
                            "where engine = 'elevenlabs' and day >= %s and day <= %s"),
                    (sorted(HALF_PRICE_MODELS), first, today),
                ).fetchone()[0])
    limit = src.costs.elevenlabs.credit_limit
    return {"credits_used": used, "credit_limit": limit, "pct": round(100 * used / limit, 2)}


def object_store_usage(url: str) -> dict[str, Any]:
    from ..archive.stores import StoreError, open_store

    try:
        objects = list(open_store(url).list())
    except StoreError as exc:
        return {"url": url, "error": str(exc)}
    return {"url": url, "bytes": sum(o.size for o in objects), "files": len(objects)}


def aws_client(service: str, aws: AwsCosts):
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(service, region_name=aws.region, endpoint_url=aws.endpoint_url,
                        config=BotoConfig(retries={"max_attempts": 3, "mode": "standard"},
                                          connect_timeout=5, read_timeout=30))


def aws_budgets(aws: AwsCosts, client=None) -> dict[str, Any]:
    """Month-to-date actual spend and AWS's end-of-month forecast per budget (free API)."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = client or aws_client("budgets", aws)
    try:
        pages = client.get_paginator("describe_budgets").paginate(AccountId=aws.account_id)
        budgets = [b for page in pages for b in page.get("Budgets", [])]
    except (ClientError, BotoCoreError) as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise CostError(f"AWS Budgets describe_budgets failed ({code}); check costs.aws."
                        "account_id, the region and the credentials") from None
    if aws.budget_name:
        budgets = [b for b in budgets if b["BudgetName"] == aws.budget_name]
        if not budgets:
            raise CostError(f"costs.aws.budget_name: no budget named {aws.budget_name!r} in "
                            f"account {aws.account_id}; create it or fix the name")
    out = []
    for b in budgets:
        spend = b.get("CalculatedSpend", {})
        forecast = spend.get("ForecastedSpend", {}).get("Amount")
        out.append({"name": b["BudgetName"],
                    "actual_usd": float(spend.get("ActualSpend", {}).get("Amount", 0)),
                    "forecast_usd": None if forecast is None else float(forecast),
                    "limit_usd": float(b.get("BudgetLimit", {}).get("Amount", 0))})
    forecasts = [b["forecast_usd"] for b in out if b["forecast_usd"] is not None]
    return {"budgets": out, "mtd_usd": max((b["actual_usd"] for b in out), default=0.0),
            "forecast_usd": max(forecasts) if forecasts else None}


def aws_cost_explorer(conn: psycopg.Connection, aws: AwsCosts, today: dt.date,
                      client=None) -> dict[str, Any] | None:
    """Month-to-date unblended cost; one metered request per day at most (cached in main)."""
    if not aws.cost_explorer:
        return None
    create_monitoring_tables(conn)
    row = conn.execute("select amount_usd, detail from persys.costs "
                       "where day = %s and source = 'aws_cost_explorer'", (today,)).fetchone()
    if row:
        return {"mtd_usd": float(row[0]), "cached": True, **row[1]}
    client = client or aws_client("ce", aws)
    end = today + dt.timedelta(days=1)  # End is exclusive
    response = client.get_cost_and_usage(
        TimePeriod={"Start": today.replace(day=1).isoformat(), "End": end.isoformat()},
        Granularity="MONTHLY", Metrics=["UnblendedCost"],
    )
    total = sum(float(r.get("Total", {}).get("UnblendedCost", {}).get("Amount", 0))
                for r in response.get("ResultsByTime", []))
    detail = {"requested_at": dt.datetime.now(dt.UTC).isoformat()}
    conn.execute("insert into persys.costs (day, source, amount_usd, detail) "
                 "values (%s, 'aws_cost_explorer', %s, %s) on conflict do nothing",
                 (today, total, json.dumps(detail)))
    conn.commit()
    return {"mtd_usd": total, "cached": False, **detail}


def collect(src: CostSources, today: dt.date, *, budgets_client=None, ce_client=None) -> dict:
    """The free-tier usage document; a source that fails is reported, not raised."""
    doc: dict[str, Any] = {"day": today.isoformat(), "threshold_usd": src.costs.threshold_usd,
                           "supabase": supabase_usage(src.core, src.core_quota_mb),
                           "elevenlabs": elevenlabs_usage(src, today),
                           "object_store": object_store_usage(src.archive_url), "aws": None,
                           "aws_cost_explorer": None, "errors": []}
    aws = src.costs.aws
    if aws is not None:
        try:
            doc["aws"] = aws_budgets(aws, budgets_client)
        except CostError as exc:
            doc["errors"].append(str(exc))
        try:
            with src.main.connect() as conn:
                doc["aws_cost_explorer"] = aws_cost_explorer(conn, aws, today, ce_client)
        except Exception as exc:  # botocore's errors vary; the source and kind are enough
            doc["errors"].append(f"AWS Cost Explorer failed ({type(exc).__name__})")
    return doc


class CostReader:
    """The cost sources of one persys.yaml, as the handle `CostReaderResource` hands out."""

    def __init__(self, sources: CostSources):
        self._sources = sources

    def __repr__(self) -> str:  # the sources carry keys
        return "CostReader()"

    def collect(self, today: dt.date, **clients: Any) -> dict:
        return collect(self._sources, today, **clients)


def charges(doc: dict) -> dict[str, float]:
    """Every paid amount the document knows, by source."""
    out = {}
    if doc.get("aws"):
        out["aws_budgets"] = doc["aws"]["mtd_usd"]
    if doc.get("aws_cost_explorer"):
        out["aws_cost_explorer"] = doc["aws_cost_explorer"]["mtd_usd"]
    return out


def over_threshold(doc: dict, threshold_usd: float) -> dict[str, float]:
    return {k: v for k, v in charges(doc).items() if v > threshold_usd}
