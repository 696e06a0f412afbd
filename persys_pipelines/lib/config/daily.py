"""`daily:` in persys.yaml: the morning run, budgets, and the person's own metrics.

`daily.metrics` names every metric the summary has (any name; the name is the person's), each
with a label, a unit, which way is better, an optional goal and its source. What is listed
exists, nothing else: no metric falls back to a sample table. A config without `daily.metrics`
keeps the old form: the sample schema's metrics (`config.sources.default_sources`), overlaid
with `daily.sources` (where `null` drops one), so an existing persys.yaml keeps working.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .sources import METRICS as SAMPLE_METRICS
from .sources import PersonFilter, Source, default_sources, resolve_sources

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Goal(_Strict):
    """A daily target: at least `min`, at most `max`, or between both."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Goal:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both (e.g. {min: 7, max: 9})")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) must be <= max ({self.max:g})")
        return self

    def met(self, value: float) -> bool:
        return ((self.min is None or value >= self.min)
                and (self.max is None or value <= self.max))

    def words(self, unit: str = "") -> str:
        u = f" {unit}" if unit else ""
        if self.min is not None and self.max is not None:
            return f"{self.min:g}–{self.max:g}{u}"
        return f"at least {self.min:g}{u}" if self.min is not None else f"at most {self.max:g}{u}"


class Metric(_Strict):
    """One of the person's metrics. `goal`: a number (a daily target in the direction of
    `better`) or `{min, max}`. `no_rows`: what a day without any row means, `zero` (nothing
    spent, no task done) or `missing` (the watch was not worn); default `zero` for `agg:
    count`, else `missing`. A unit of three capital letters (GBP) is a currency."""

    label: str | None = None
    unit: str = ""
    better: Literal["higher", "lower", "neither"] = "neither"
    goal: float | Goal | None = None
    no_rows: Literal["zero", "missing"] | None = None
    source: Source

    @field_validator("goal", mode="before")
    @classmethod
    def _goal_form(cls, value: object) -> object:
        """A mapping is a range: its own problem is the one to report, not "not a number"."""
        if isinstance(value, dict):
            try:
                return Goal.model_validate(value)
            except ValidationError as exc:
                raise ValueError("; ".join(
                    (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "")
                    + e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
        return value

    @model_validator(mode="after")
    def _goal(self) -> Metric:
        if isinstance(self.goal, int | float) and self.better == "neither":
            raise ValueError("a goal given as one number needs better: higher or lower; for "
                             "better: neither give a range, goal: {min: .., max: ..}")
        return self

    @property
    def target(self) -> Goal | None:
        """The goal as bounds (a number means at least it, or at most it when lower is better)."""
        if self.goal is None or isinstance(self.goal, Goal):
            return self.goal
        return Goal(min=self.goal) if self.better == "higher" else Goal(max=self.goal)

    @property
    def zero_when_empty(self) -> bool:
        return (self.no_rows or ("zero" if self.source.agg == "count" else "missing")) == "zero"

    @property
    def money(self) -> bool:
        return bool(CURRENCY.match(self.unit))

    def name_label(self, name: str) -> str:
        return self.label or name.replace("_", " ")


# The sample schema's metrics: (label, unit, better, goal, no_rows); the packaged persys.yaml
# lists the same (a test keeps them equal). "{currency}" is daily.currency.
SAMPLE_META: dict[str, tuple[str, str, str, object, str | None]] = {
    "sleep_hours": ("sleep", "h", "higher", {"min": 7, "max": 9}, None),
    "steps": ("steps", "steps", "higher", 8000, None),
    "resting_heart_rate": ("resting heart rate", "bpm", "lower", None, None),
    "heart_rate": ("heart rate", "bpm", "neither", None, None),
    "weight_kg": ("weight", "kg", "neither", None, None),
    "tasks_done": ("tasks done", "tasks", "higher", None, None),
    "tasks_created": ("tasks added", "tasks", "neither", None, None),
    "spend": ("spending", "{currency}", "lower", None, "zero"),
    "income": ("income", "{currency}", "higher", None, "zero"),
    "mood": ("mood", "/10", "higher", None, None),
    "journal_words": ("journal words", "words", "neither", None, None),
    "shadow_entries": ("shadow-work entries", "entries", "neither", None, None),
    "shadow_intensity": ("shadow-work intensity", "/10", "lower", None, None),
    "shadow_emotions": ("emotions named", "entries", "neither", None, None),
    "shadow_tags": ("shadow-work tags", "tags", "neither", None, None),
}


def sample_metric(name: str, source: Source, currency: str) -> Metric:
    label, unit, better, goal, no_rows = SAMPLE_META[name]
    return Metric(label=label, unit=unit.format(currency=currency), better=better,
                  goal=goal, no_rows=no_rows, source=source)


def default_metrics(currency: str) -> dict[str, Metric]:
    """The sample schema's metrics, as the packaged persys.yaml lists them."""
    return {n: sample_metric(n, s, currency) for n, s in default_sources(currency).items()}


class Daily(_Strict):
    """`daily:`: the morning summary/projection run, budgets, the freshness promise and the
    person's metrics."""

    morning_hour: int = Field(6, ge=0, le=23)  # the schedule runs for yesterday at this hour
    freshness_hour: int = Field(9, ge=0, le=23)  # yesterday's summary must exist by then
    currency: str = Field("GBP", min_length=3, max_length=3)
    monthly_budget: float | None = Field(2000, gt=0)  # spend, excluding income; null: none
    category_budgets: dict[str, float] = {}  # optional monthly budget per category
    projection_window_days: int = Field(30, ge=3, le=366)
    forecast_days: int = Field(7, ge=1, le=90)  # how far ahead trends are projected
    catch_up_days: int = Field(14, ge=1, le=366)  # how far back the catch-up sensor looks
    # name → the person's metric (label, unit, better, goal, source); null: the sample metrics
    metrics: dict[str, Metric] | None = None
    # the old form: sample metric → its source, null drops it (used when `metrics` is unset)
    sources: dict[str, Source | None] = {}
    person: PersonFilter | None = None  # whose rows every source counts (shared tables)
    # every source expression runs in a read-only transaction with this statement timeout
    statement_timeout_s: float = Field(30, gt=0, le=3600)

    def metric_defs(self) -> dict[str, Metric]:
        """Every metric the summary has: `metrics` as listed, else the old form."""
        if self.metrics is not None:
            return dict(self.metrics)
        return {n: sample_metric(n, s, self.currency)
                for n, s in resolve_sources(self.sources, self.currency).items()}

    def metric_sources(self) -> dict[str, Source]:
        """metric → its source (the person filter not yet applied: see daily.sources)."""
        return {n: m.source for n, m in self.metric_defs().items()}

    def source_key(self, metric: str) -> str:
        """Where a metric's source is written in persys.yaml (for messages)."""
        return (f"daily.metrics.{metric}.source" if self.metrics is not None
                else f"daily.sources.{metric}")


def daily_problems(daily: Daily) -> list[str]:
    """Cross-key problems of `daily:` (each names its key and the fix)."""
    problems = []
    if daily.metrics is not None and daily.sources:
        problems.append("daily.metrics and daily.sources are both set; daily.metrics lists "
                        "every metric with its source: move the sources there and remove "
                        "daily.sources")
    for name in daily.metrics or {}:
        if not NAME.match(name):
            problems.append(f"daily.metrics.{name}: a metric name is letters, digits and _ "
                            "(it is a key of the summary's JSON)")
    if daily.metrics is None:
        problems.extend(
            f"daily.sources.{name}: unknown metric; known metrics: {', '.join(SAMPLE_METRICS)}"
            f" (or list your own under daily.metrics)"
            for name in daily.sources if name not in SAMPLE_METRICS)
    return problems
