"""AWS Budgets that warn before the charge: a FORECASTED notification next to the ACTUAL one.

An ACTUAL notification fires once the money is spent; a FORECASTED one fires when AWS's own
end-of-month forecast passes the line, days or weeks earlier. Both are free (AWS Budgets: two
budgets with alerts cost nothing; Cost Explorer costs $0.01 a request and is not used here).
`persys costs budget` shows each budget's limit, actual and forecast spend and its
notifications; `--apply` creates what is missing (the budget itself when `budget_name` names
none, then an ACTUAL and a FORECASTED notification at `alert_pct` of the limit, sent by AWS to
`alert_emails` and/or `sns_topic_arn`). `persys doctor` warns when a budget has no FORECASTED
notification. Everything goes through boto3's `budgets` client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import AwsCosts
from .costs import CostError, aws_client

KINDS = ("ACTUAL", "FORECASTED")
DEFAULT_NAME = "persys"


@dataclass(frozen=True)
class BudgetState:
    name: str
    limit_usd: float
    actual_usd: float
    forecast_usd: float | None
    kinds: tuple[str, ...]  # notification types present (ACTUAL, FORECASTED)

    @property
    def missing(self) -> list[str]:
        return [k for k in KINDS if k not in self.kinds]


def _call(what: str, fn, *args, **kwargs) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(*args, **kwargs)
    except (ClientError, BotoCoreError) as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise CostError(f"AWS Budgets {what} failed ({code}); check costs.aws.account_id, the "
                        "region and the credentials (budgets:ViewBudget, "
                        "budgets:ModifyBudget for --apply)") from None


def _amount(spend: dict, key: str) -> float | None:
    value = spend.get(key, {}).get("Amount")
    return None if value is None else float(value)


def states(aws: AwsCosts, client=None) -> list[BudgetState]:
    """The budgets persys watches (`budget_name`, else all) with their notifications."""
    client = client or aws_client("budgets", aws)
    pages = _call("describe_budgets",
                  lambda: [b for page in client.get_paginator("describe_budgets").paginate(
                      AccountId=aws.account_id) for b in page.get("Budgets", [])])
    if aws.budget_name:
        pages = [b for b in pages if b["BudgetName"] == aws.budget_name]
    out = []
    for b in pages:
        notes = _call("describe_notifications_for_budget",
                      client.describe_notifications_for_budget, AccountId=aws.account_id,
                      BudgetName=b["BudgetName"]).get("Notifications", [])
        spend = b.get("CalculatedSpend", {})
        out.append(BudgetState(
            b["BudgetName"], float(b.get("BudgetLimit", {}).get("Amount", 0)),
            _amount(spend, "ActualSpend") or 0.0, _amount(spend, "ForecastedSpend"),
            tuple(sorted({n["NotificationType"] for n in notes}))))
    return out


def _subscribers(aws: AwsCosts) -> list[dict[str, str]]:
    subs = [{"SubscriptionType": "EMAIL", "Address": a} for a in aws.alert_emails]
    if aws.sns_topic_arn:
        subs.append({"SubscriptionType": "SNS", "Address": aws.sns_topic_arn})
    return subs


def _notification(kind: str, pct: float) -> dict[str, Any]:
    return {"NotificationType": kind, "ComparisonOperator": "GREATER_THAN",
            "Threshold": pct, "ThresholdType": "PERCENTAGE"}


def ensure(aws: AwsCosts, client=None, *, apply: bool = False) -> list[str]:
    """What is (with `apply`: was) missing, one line each; nothing when all is in place."""
    client = client or aws_client("budgets", aws)
    found = states(aws, client)
    lines: list[str] = []
    subs = _subscribers(aws)
    if not found:
        name = aws.budget_name or DEFAULT_NAME
        lines.append(f"budget {name}: missing; {'created' if apply else 'would create'} it "
                     f"(COST, monthly, ${aws.monthly_limit_usd:.2f})")
        if apply:
            _need(subs)
            _call("create_budget", client.create_budget, AccountId=aws.account_id, Budget={
                "BudgetName": name, "BudgetType": "COST", "TimeUnit": "MONTHLY",
                "BudgetLimit": {"Amount": f"{aws.monthly_limit_usd:.2f}", "Unit": "USD"}},
                NotificationsWithSubscribers=[
                    {"Notification": _notification(k, aws.alert_pct), "Subscribers": subs}
                    for k in KINDS])
        return lines
    for b in found:
        for kind in b.missing:
            lines.append(f"budget {b.name}: no {kind} notification; "
                         f"{'added' if apply else 'would add'} one at {aws.alert_pct:g}% of "
                         f"${b.limit_usd:.2f}")
            if apply:
                _need(subs)
                _call("create_notification", client.create_notification,
                      AccountId=aws.account_id, BudgetName=b.name,
                      Notification=_notification(kind, aws.alert_pct), Subscribers=subs)
    return lines


def _need(subs: list) -> None:
    if not subs:
        raise CostError("costs.aws.alert_emails and sns_topic_arn are both empty: AWS needs "
                        "somewhere to send the budget alerts; set alert_emails: [you@example.org]")


def forecast_over(doc_aws: dict | None) -> list[dict]:
    """Budgets of the free-tier document whose forecast passes their limit."""
    return [b for b in (doc_aws or {}).get("budgets", [])
            if b.get("forecast_usd") is not None and b["limit_usd"] > 0
            and b["forecast_usd"] > b["limit_usd"]]
