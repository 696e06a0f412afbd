"""Daily monitoring assets: free-tier usage, uptime per endpoint, the Markdown report."""

import datetime as dt
import json

import dagster as dg

from ... import handles
from ...lib.config import Config
from ...lib.monitoring import health
from ...lib.monitoring.alerts import cost_alerts
from ..partitions import daily
from ..resources import (
    CostReaderResource,
    NotifierResource,
    PersysConfigResource,
    PostgresTierResource,
)
from ..retries import NETWORK_RETRY, terminal_errors

GROUP = "monitoring"
FREE_TIER = dg.AssetKey(["monitoring", "free_tier_usage"])
UPTIME = dg.AssetKey(["monitoring", "daily_uptime"])
REPORT = dg.AssetKey(["monitoring", "daily_report"])


def _day(context: dg.AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


def assets(cfg: Config) -> list[dg.AssetsDefinition]:
    parts = daily(cfg)

    @dg.asset(key=FREE_TIER, group_name=GROUP, partitions_def=parts, kinds={"python"},
              retry_policy=NETWORK_RETRY,  # AWS, object store; Cost Explorer reused per day
              description="Supabase MB vs 500, ElevenLabs credits, object-store bytes, AWS "
                          "month-to-date spend (Budgets; Cost Explorer at most once a day).")
    def free_tier_usage(context: dg.AssetExecutionContext, persys_config: PersysConfigResource,
                        cost_reader: CostReaderResource, notifier: NotifierResource
                        ) -> dg.MaterializeResult:
        cfg = persys_config.load()
        with terminal_errors():
            doc = cost_reader.handle().collect(_day(context))
        path = cfg.home / "reports" / "free_tier_usage.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2))
        over = cost_alerts(notifier.handle(), doc, cfg.costs.threshold_usd)
        meta = {"supabase_mb": doc["supabase"]["mb"], "supabase_pct": doc["supabase"]["pct"],
                "over_threshold": ", ".join(over) or "none", "errors": len(doc["errors"])}
        if doc.get("aws"):
            meta["aws_mtd_usd"] = doc["aws"]["mtd_usd"]
        if doc.get("elevenlabs"):
            meta["elevenlabs_credits_used"] = doc["elevenlabs"]["credits_used"]
        return dg.MaterializeResult(metadata=meta)

    @dg.asset(key=UPTIME, group_name=GROUP, partitions_def=parts, kinds={"postgres"},
              description="Uptime % per health endpoint for the day (from the health sensor).")
    def daily_uptime(context: dg.AssetExecutionContext, persys_config: PersysConfigResource,
                     main: PostgresTierResource) -> dg.MaterializeResult:
        cfg = persys_config.load()
        with main.handle().connect() as conn:
            up = health.uptime(conn, _day(context), cfg.timezone)
        meta: dict = {f"{name}_uptime_pct": u["uptime_pct"] for name, u in up.items()}
        meta["endpoints"] = len(up)
        return dg.MaterializeResult(metadata=meta)

    @dg.asset(key=REPORT, group_name=GROUP, partitions_def=parts, deps=[FREE_TIER, UPTIME],
              kinds={"markdown"},
              description="The Markdown report (sizes and chart, moves, failures, forecast, "
                          "free-tier usage), written to `reports/` in persys's home folder.")
    def daily_report(context: dg.AssetExecutionContext,
                     persys_config: PersysConfigResource) -> dg.MaterializeResult:
        cfg = persys_config.load()
        day = _day(context)
        folder = cfg.home / "reports"
        text = handles.report(cfg, as_of=day, chart_png=folder / f"usage-{day}.png")
        path = folder / f"report-{day}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path)),
                                              "report": dg.MetadataValue.md(text)})

    return [free_tier_usage, daily_uptime, daily_report]
