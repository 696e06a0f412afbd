"""persys.yaml's `costs:` (paid services: AWS budgets and spend, ElevenLabs credits) and
`instance:` (how long the Dagster instance keeps runs and ticks)."""

from __future__ import annotations

from pydantic import Field

from .strict import Strict as _Strict


class AwsCosts(_Strict):
    account_id: str
    budget_name: str | None = None  # null: every budget of the account
    region: str = "us-east-1"
    endpoint_url: str | None = None  # a stand-in (tests); null: AWS itself
    cost_explorer: bool = False  # metered: $0.01 per request, called at most once a day
    # AWS Budgets alerts before the charge (lib/monitoring/budgets.py, `persys costs budget`):
    # a FORECASTED notification next to the ACTUAL one, both at alert_pct of the limit, sent
    # by AWS to these addresses / this SNS topic. `persys costs budget --apply` creates the
    # budget (budget_name, default "persys") with monthly_limit_usd when it does not exist.
    monthly_limit_usd: float = Field(1.0, gt=0)
    alert_pct: float = Field(80, gt=0, le=1000)
    alert_emails: list[str] = []
    sns_topic_arn: str | None = None


class ElevenLabsCosts(_Strict):
    credit_limit: int = Field(10000, gt=0)  # the free tier's monthly credits


class DagsterInstanceRetention(_Strict):
    """`instance:`: the Dagster instance database stays bounded (defs/housekeeping)."""

    keep_runs_days: int = Field(30, ge=1)  # older runs (with their events) are deleted
    keep_ticks_days: int = Field(30, ge=1)  # schedule/sensor ticks that did something
    keep_skipped_ticks_days: int = Field(3, ge=1)  # ticks that only skipped


class Costs(_Strict):
    """`costs:`: free-tier usage and paid charges; alert above threshold_usd."""

    threshold_usd: float = Field(0.01, ge=0)
    aws: AwsCosts | None = None
    elevenlabs: ElevenLabsCosts | None = None
