"""Daily monitoring assets: free-tier usage, uptime per endpoint, the Markdown report."""

import datetime as dt
import json

import dagster as dg

from ...lib.config import Config
from ...lib.monitoring import costs, health, report
from ...lib.pg.tiers import resolve_tier
from ..partitions import daily
from ..resources import PersysConfigResource
from ..retries import NETWORK_RETRY, terminal_errors
from .alerts import notifier

GROUP = "monitoring"
FREE_TIER = dg.AssetKey(["monitoring", "free_tier_usage"])
UPTIME = dg.AssetKey(["monitoring", "daily_uptime"])
REPORT = dg.AssetKey(["monitoring", "daily_report"])


def _day(context: dg.AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


def cost_alerts(cfg: Config, doc: dict) -> list[str]:
    """Alert once a month per source whose charge exceeds costs.threshold_usd."""
    month = doc["day"][:7]
    over = costs.over_threshold(doc, cfg.costs.threshold_usd)
    alerts = notifier(cfg)
    for source, amount in over.items():
        alerts.notify(f"cost:{source}:{month}", f"💸 persys: {source} charge ${amount:.2f}",
                      f"Month-to-date charge ${amount:.2f} exceeds the threshold "
                      f"${cfg.costs.threshold_usd:.2f} (costs.threshold_usd).")
    eleven = doc.get("elevenlabs")
    if eleven and eleven["credits_used"] > eleven["credit_limit"]:
        alerts.notify(f"cost:elevenlabs:{month}", "💸 persys: ElevenLabs over its free credits",
                      f"{eleven['credits_used']:,} of {eleven['credit_limit']:,} credits used.")
    return sorted(over)


def assets(cfg: Config) -> list[dg.AssetsDefinition]:
    parts = daily(cfg)

    @dg.asset(key=FREE_TIER, group_name=GROUP, partitions_def=parts, kinds={"python"},
              retry_policy=NETWORK_RETRY,  # AWS, object store; Cost Explorer reused per day
              description="Supabase MB vs 500, ElevenLabs credits, object-store bytes, AWS "
                          "month-to-date spend (Budgets; Cost Explorer at most once a day).")
    def free_tier_usage(context: dg.AssetExecutionContext,
                        persys_config: PersysConfigResource) -> dg.MaterializeResult:
        cfg = persys_config.load()
        with terminal_errors():
            doc = costs.collect(cfg, _day(context))
        path = cfg.home / "reports" / "free_tier_usage.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2))
        over = cost_alerts(cfg, doc)
        meta = {"supabase_mb": doc["supabase"]["mb"], "supabase_pct": doc["supabase"]["pct"],
                "over_threshold": ", ".join(over) or "none", "errors": len(doc["errors"])}
        if doc.get("aws"):
            meta["aws_mtd_usd"] = doc["aws"]["mtd_usd"]
        if doc.get("elevenlabs"):
            meta["elevenlabs_credits_used"] = doc["elevenlabs"]["credits_used"]
        return dg.MaterializeResult(metadata=meta)

    @dg.asset(key=UPTIME, group_name=GROUP, partitions_def=parts, kinds={"postgres"},
              description="Uptime % per health endpoint for the day (from the health sensor).")
    def daily_uptime(context: dg.AssetExecutionContext,
                     persys_config: PersysConfigResource) -> dg.MaterializeResult:
        cfg = persys_config.load()
        with resolve_tier(cfg, "main").connect() as main:
            up = health.uptime(main, _day(context), cfg.timezone)
        meta: dict = {f"{name}_uptime_pct": u["uptime_pct"] for name, u in up.items()}
        meta["endpoints"] = len(up)
        return dg.MaterializeResult(metadata=meta)

    @dg.asset(key=REPORT, group_name=GROUP, partitions_def=parts, deps=[FREE_TIER, UPTIME],
              kinds={"markdown"},
              description="The Markdown report (sizes and chart, moves, failures, forecast, "
                          "free-tier usage), written to <home>/reports/.")
    def daily_report(context: dg.AssetExecutionContext,
                     persys_config: PersysConfigResource) -> dg.MaterializeResult:
        cfg = persys_config.load()
        day = _day(context)
        folder = cfg.home / "reports"
        text = report.build(cfg, as_of=day, costs_doc=report.latest_costs(cfg),
                            chart_png=folder / f"usage-{day}.png")
        path = folder / f"report-{day}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path)),
                                              "report": dg.MetadataValue.md(text)})

    return [free_tier_usage, daily_uptime, daily_report]
