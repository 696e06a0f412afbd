"""AWS Budgets with a FORECASTED notification next to the ACTUAL one, through boto3 against
moto's server on 127.0.0.1 (budgets, notifications and spend as AWS shapes them)."""

from __future__ import annotations

import uuid

import boto3
import pytest
import yaml
from pydantic import SecretStr

from persys_pipelines import handles
from persys_pipelines.cli import main as persys
from persys_pipelines.lib.config import AwsCosts
from persys_pipelines.lib.monitoring import budgets, costs
from persys_pipelines.lib.monitoring.alerts import cost_alerts
from persys_pipelines.lib.monitoring.costs import CostError
from persys_pipelines_tests.monitoring_fakes import fake_telegram


def account() -> str:
    return str(uuid.uuid4().int)[:12]  # moto keeps budgets per account: one per test


def client(endpoint: str):
    return boto3.client("budgets", region_name="us-east-1", endpoint_url=endpoint)


def kinds(endpoint: str, acct: str, name: str) -> list[str]:
    notes = client(endpoint).describe_notifications_for_budget(AccountId=acct, BudgetName=name)
    return sorted(n["NotificationType"] for n in notes["Notifications"])


def test_an_actual_only_budget_gets_a_forecasted_alert(moto_server):
    acct = account()
    client(moto_server).create_budget(AccountId=acct, Budget={
        "BudgetName": "mine", "BudgetType": "COST", "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": "5.00", "Unit": "USD"}}, NotificationsWithSubscribers=[{
            "Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                             "Threshold": 100, "ThresholdType": "PERCENTAGE"},
            "Subscribers": [{"SubscriptionType": "EMAIL", "Address": "me@example.org"}]}])
    aws = AwsCosts(account_id=acct, endpoint_url=moto_server, alert_emails=["me@example.org"])
    todo = budgets.ensure(aws)
    assert todo == ["budget mine: no FORECASTED notification; would add one at 80% of $5.00"]
    assert kinds(moto_server, acct, "mine") == ["ACTUAL"]  # a dry look changed nothing
    assert budgets.ensure(aws, apply=True) == [todo[0].replace("would add", "added")]
    assert kinds(moto_server, acct, "mine") == ["ACTUAL", "FORECASTED"]
    assert budgets.ensure(aws) == []
    (state,) = budgets.states(aws)
    assert (state.name, state.limit_usd, state.kinds) == ("mine", 5.0, ("ACTUAL", "FORECASTED"))


def test_a_missing_budget_is_created_with_both_alerts(moto_server):
    acct = account()
    aws = AwsCosts(account_id=acct, endpoint_url=moto_server, budget_name="persys-zero",
                   monthly_limit_usd=0.5, sns_topic_arn="arn:aws:sns:us-east-1:1:alerts")
    assert budgets.ensure(aws) == ["budget persys-zero: missing; would create it (COST, "
                                   "monthly, $0.50)"]
    budgets.ensure(aws, apply=True)
    assert kinds(moto_server, acct, "persys-zero") == ["ACTUAL", "FORECASTED"]
    b = client(moto_server).describe_budget(AccountId=acct, BudgetName="persys-zero")["Budget"]
    assert b["BudgetLimit"]["Amount"] in ("0.50", "0.5")


def test_apply_without_anyone_to_tell_is_refused(moto_server):
    aws = AwsCosts(account_id=account(), endpoint_url=moto_server, budget_name="x")
    with pytest.raises(CostError, match="alert_emails and sns_topic_arn are both empty"):
        budgets.ensure(aws, apply=True)


def test_a_forecast_over_the_limit_alerts_once_before_the_charge(moto_server, cfg):
    acct = account()
    client(moto_server).create_budget(AccountId=acct, Budget={
        "BudgetName": "p", "BudgetType": "COST", "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": "1.00", "Unit": "USD"},
        "CalculatedSpend": {"ActualSpend": {"Amount": "0.20", "Unit": "USD"},
                            "ForecastedSpend": {"Amount": "1.60", "Unit": "USD"}}})
    aws = AwsCosts(account_id=acct, endpoint_url=moto_server)
    doc = {"day": "2024-05-10", "aws": costs.aws_budgets(aws)}
    assert doc["aws"]["forecast_usd"] == 1.6 and doc["aws"]["mtd_usd"] == 0.2
    with fake_telegram() as tg:
        cfg = cfg.model_copy(update={
            "telegram": cfg.telegram.model_copy(update={"token": SecretStr("5:b"),
                                                        "chat_id": "1", "base_url": tg.base_url}),
            "notify": cfg.notify.model_copy(update={"telegram": True})})
        alerts = handles.notifier(cfg)
        cost_alerts(alerts, doc, threshold_usd=1.0)  # the actual $0.20 is under the threshold
        cost_alerts(alerts, doc, threshold_usd=1.0)
    assert [m["text"].splitlines()[0] for m in tg.messages] == [
        "📈 persys: AWS forecasts $1.60 this month"]
    assert "budget p of $1.00" in tg.messages[0]["text"]


def test_cli_and_doctor(moto_server, config_path, capsys, monkeypatch):
    acct = account()
    doc = yaml.safe_load(config_path.read_text())
    doc["costs"] = {"aws": {"account_id": acct, "endpoint_url": moto_server,
                            "budget_name": "home", "alert_emails": ["me@example.org"]}}
    config_path.write_text(yaml.safe_dump(doc))
    from persys_pipelines.lib.config import load_config
    from persys_pipelines.lib.monitoring.doctor import aws_budget_checks

    (finding,) = aws_budget_checks(load_config(config_path).costs.aws)
    assert finding.status == "WARN" and "costs budget --apply" in finding.detail
    assert persys(["costs", "budget"]) == 1
    assert "would create it" in capsys.readouterr().out
    assert persys(["costs", "budget", "--apply"]) == 0
    out = capsys.readouterr().out
    assert "home: limit $1.00, actual $0.00" in out and "alerts: ACTUAL, FORECASTED" in out
    assert aws_budget_checks(load_config(config_path).costs.aws)[0].status == "ok"
