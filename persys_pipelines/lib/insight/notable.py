"""What is worth saying first about a day: every claim that passed its test, ranked by evidence.

Each candidate gets a score on one scale, roughly "how many robust standard deviations of
surprise": an anomaly or an unusual day scores its |z| (2.5 and up), a fresh change point the
size of the shift in noise units plus 2, a goal streak that just ended 2.5, a long streak
1 + weeks / 2 (at most 3: a habit kept is good news, rarely the day's news), a record
2 + log10(days), a 28-day trend with p < 0.01 2 − log10(p)/2 (the caller adds the budget at
risk and new correlations on the same scale). Nothing is a candidate that did not pass its
test, and nothing is claimed about a metric that is still calibrating.

Sentences name their own subject ("Your resting heart rate …"), never "that". Numbers are
formatted by the caller (`say(value, spec)`): written for the summary text, spoken for the
briefing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # analyse imports numpy; this module is read at definition load
    from .analyse import Spec

Say = Callable[[float, "Spec"], str]  # a value with its unit, as written or as spoken

UNUSUAL_Z, FRESH_CHANGE_DAYS, STREAK_MIN, TREND_P = 2.5, 14, 3, 0.01


@dataclass(frozen=True)
class Item:
    score: float
    kind: str  # anomaly, unusual, change, record, streak, streak_ended, trend, budget, ...
    metric: str | None
    text: str


def _subject(spec: Spec) -> str:
    return f"Your {spec.label}"


def _diff_words(value: float, usual: float, spec: Spec, say: Say) -> str:
    way = "above" if value > usual else "below"
    return f"{way} your usual {say(usual, spec)}"


def candidates(day: dt.date, stats: Mapping[str, Mapping], specs: Mapping[str, Spec],
               say: Say) -> list[Item]:
    """Every claim about the day's metrics that passed its test, best first."""
    items: list[Item] = []
    for metric, s in stats.items():
        spec = specs.get(metric)
        if spec is None or not isinstance(s, Mapping):
            continue
        items.extend(_for_metric(day, metric, s, spec, say))
    return sorted(items, key=lambda i: -i.score)


def _for_metric(day: dt.date, metric: str, s: Mapping, spec: Spec, say: Say) -> list[Item]:
    out: list[Item] = []
    value, z, usual = s.get("value"), s.get("z"), s.get("median_60")
    if s.get("calibrating"):
        return out
    record = s.get("record")
    record_words = ""
    if value is not None and isinstance(record, Mapping) and record.get("days", 0) >= 60:
        record_words = (f"the {record['kind']} in {record['days']} days" if not
                        record.get("of_history") else f"the {record['kind']} since records "
                        f"began {record['days']} days ago")
    if value is not None and z is not None and usual is not None and abs(z) >= UNUSUAL_Z:
        kind = "anomaly" if s.get("anomaly") else "unusual"
        far = "far " if abs(z) >= 4 else ""
        text = (f"{_subject(spec)} {spec.was} {say(value, spec)}, {far}"
                f"{_diff_words(value, usual, spec, say)}")
        text += f", {record_words}." if record_words else "."
        out.append(Item(abs(z) + (0.5 if kind == "anomaly" else 0), kind, metric, text))
    elif record_words:
        out.append(Item(2 + math.log10(record["days"]), "record", metric,
                        f"{_subject(spec)} of {say(value, spec)} was {record_words}."))
    change = s.get("change")
    if isinstance(change, Mapping) and change.get("days_ago", 99) <= FRESH_CHANGE_DAYS:
        before, after = change["before"], change["after"]
        noise = change.get("noise") or 0
        since = dt.date.fromisoformat(change["day"])
        way = "higher" if after > before else "lower"
        shift = abs(after - before) / noise if noise else 1.0
        out.append(Item(2 + shift, "change", metric,
                        f"Since {since.day} {since:%b} your {spec.label} has been "
                        f"{say(abs(after - before), spec)} {way} than before "
                        f"({say(before, spec)} → {say(after, spec)})."))
    goal = s.get("goal")
    if isinstance(goal, Mapping):
        if goal.get("met") is False and goal.get("streak_before", 0) >= 5:
            out.append(Item(2.5, "streak_ended", metric,
                            f"{_subject(spec)} goal was missed for the first time in "
                            f"{goal['streak_before']} days."))
        elif goal.get("met") and goal.get("streak", 0) >= STREAK_MIN:
            out.append(Item(1 + min(goal["streak"], 28) / 14, "streak", metric,
                            f"{_subject(spec)} goal was met {goal['streak']} days in a row."))
    trend = s.get("trend")
    if isinstance(trend, Mapping) and trend.get("direction") in ("increasing", "decreasing") \
            and (trend.get("p") or 1) < TREND_P and trend.get("slope_per_day"):
        rising = trend["direction"] == "increasing"
        week = abs(trend["slope_per_day"]) * 7
        out.append(Item(2 - math.log10(max(trend["p"], 1e-12)) / 2, "trend", metric,
                        f"Over four weeks your {spec.label} has been "
                        f"{'rising' if rising else 'falling'}, about {say(week, spec)} a week."))
    return out


def calibrating(stats: Mapping[str, Mapping], specs: Mapping[str, Spec]) -> list[tuple[str, int]]:
    """(label, valid days so far) of every metric still learning its usual."""
    return [(specs[m].label, int(s.get("valid_days_60") or 0)) for m, s in stats.items()
            if m in specs and isinstance(s, Mapping) and s.get("calibrating")]
