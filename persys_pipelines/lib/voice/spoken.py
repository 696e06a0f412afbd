"""The briefing's lead: the day's most notable things, ranked by evidence, said aloud.

The candidates are insight.notable's (an unusual day, a fresh change point, a record, a goal
streak, a 28-day trend), plus the budget at risk and a correlation found new this week, on the
same score. The three best open the briefing; each names its own subject and says its evidence
in plain words. Numbers are said as a person says them ("7 out of 10", "12 pounds 50").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..insight.notable import Item, candidates

if TYPE_CHECKING:  # analyse imports numpy; the definitions load this module
    from ..insight.analyse import Spec

LEAD = 3
SPOKEN_UNITS = {"h": "hours", "bpm": "beats per minute", "kg": "kilos", "min": "minutes",
                "km": "kilometres", "mmol/L": "millimoles per litre", "%": "percent"}
BUDGET_SCORES = {"at risk": 3.0, "likely over": 3.5, "over": 4.0}


def say_number(value: float) -> str:
    if abs(value) >= 100:
        return f"{round(value):,}"
    text = f"{value:,.1f}" if abs(value) >= 1 else f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def spoken(value: float, spec: Spec, money=None) -> str:
    """A value with its unit as said: "7.5 hours", "7 out of 10", "12 pounds 50"."""
    unit = spec.unit
    if len(unit) == 3 and unit.isupper():
        if money is not None:
            return money(value, unit)
        return f"{say_number(value)} {unit}"
    if unit.startswith("/"):
        return f"{say_number(value)} out of {unit[1:]}"
    return f"{say_number(value)} {SPOKEN_UNITS.get(unit, unit)}".rstrip()


def lead(day: dt.date, metrics: Any, specs: Mapping[str, Spec], *, money=None,
         budget: Any = None, budget_text: str | None = None,
         correlations: Sequence[Mapping] = ()) -> list[Item]:
    """The best LEAD items of the day, best first."""
    def say(value: float, spec: Spec) -> str:
        return spoken(value, spec, money)

    items = candidates(day, metrics if isinstance(metrics, Mapping) else {}, specs, say)
    status = budget.get("status") if isinstance(budget, Mapping) else None
    if status in BUDGET_SCORES and budget_text:
        items.append(Item(BUDGET_SCORES[status], "budget", "spend", budget_text))
    for f in correlations:
        if f.get("new") and f.get("spoken"):
            items.append(Item(2.0 - math.log10(max(float(f["q"]), 1e-12)) / 4, "correlation",
                              None, f["spoken"]))
    return sorted(items, key=lambda i: -i.score)[:LEAD]


def own_metrics(metrics: Any, specs: Mapping[str, Spec], skip: set[str], *, money=None
                ) -> list[str]:
    """"Your meditation was 20 minutes." for each metric the sections do not say."""
    if not isinstance(metrics, Mapping):
        return []
    out = []
    for name, s in metrics.items():
        spec = specs.get(name)
        if spec is None or name in skip or not isinstance(s, Mapping):
            continue
        value = s.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(f"Your {spec.label} {spec.was} {spoken(float(value), spec, money)}.")
    return out
