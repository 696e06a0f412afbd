"""The wording of the alerts the daily assets and schedules send (the sensors' are in
watch.py); each takes the notifier it sends through."""

from __future__ import annotations

import datetime as dt

from . import budgets, costs
from .notify import Delivery, Notifier


def cost_alerts(alerts: Notifier, doc: dict, threshold_usd: float) -> list[str]:
    """Alert once a month per source whose charge exceeds costs.threshold_usd; the sources."""
    month = doc["day"][:7]
    over = costs.over_threshold(doc, threshold_usd)
    for source, amount in over.items():
        alerts.notify(f"cost:{source}:{month}", f"💸 persys: {source} charge ${amount:.2f}",
                      f"Month-to-date charge ${amount:.2f} exceeds the threshold "
                      f"${threshold_usd:.2f} (costs.threshold_usd).")
    for b in budgets.forecast_over(doc.get("aws")):  # before the charge, not after it
        alerts.notify(f"cost-forecast:{b['name']}:{month}",
                      f"📈 persys: AWS forecasts ${b['forecast_usd']:.2f} this month",
                      f"AWS Budgets forecasts ${b['forecast_usd']:.2f} for {month} against the "
                      f"budget {b['name']} of ${b['limit_usd']:.2f} (actual so far "
                      f"${b['actual_usd']:.2f}). `persys costs budget` shows the budgets.")
    eleven = doc.get("elevenlabs")
    if eleven and eleven["credits_used"] > eleven["credit_limit"]:
        alerts.notify(f"cost:elevenlabs:{month}", "💸 persys: ElevenLabs over its free credits",
                      f"{eleven['credits_used']:,} of {eleven['credit_limit']:,} credits used.")
    return sorted(over)


def summary_missing_key(day: dt.date) -> str:
    return f"summary-missing:{day.isoformat()}"


def summary_missing(alerts: Notifier, day: dt.date, freshness_hour: int, timezone: str
                    ) -> list[Delivery]:
    """Yesterday's summary is still missing after daily.freshness_hour: once per day."""
    return alerts.notify(
        summary_missing_key(day), f"⚠️ persys: no summary for {day}",
        f"The daily summary of {day} is missing after {freshness_hour:02d}:00 {timezone}. "
        f"Materialize daily_summary for {day} (or check the morning job).")
