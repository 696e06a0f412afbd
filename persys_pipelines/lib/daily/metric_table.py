"""A day's metrics as a table a person reads: one row per metric, each cell plain words.

The same rows feed the `daily_summary` metadata table in the Dagster UI and the `persys today`
page. Statistics a metric has not earned are shown as such ("calibrating 5/14"), never as
numbers that look meaningful.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from .summary_text import money, number

COLUMNS = ("metric", "value", "usual", "z", "weekday", "14 vs 60 days", "goal", "record",
           "trend (28 d)", "change (120 d)", "anomaly")


def _with_unit(value, unit: str) -> str:
    if value is None:
        return "–"
    if len(unit) == 3 and unit.isupper():
        return money(float(value), unit)
    text = number(float(value))
    if not unit:
        return text
    return f"{text}{unit}" if unit.startswith("/") else f"{text} {unit}"


def rows(stats: Mapping[str, Mapping], order: list[str] | None = None
         ) -> list[dict[str, str]]:
    """One dict per metric (keys COLUMNS), in `order` (persys.yaml's; stored JSON has none)."""
    out = []
    names = [m for m in order or [] if m in stats] + [m for m in stats if m not in (order or [])]
    for metric in names:
        s = stats[metric]
        if not isinstance(s, Mapping):
            continue
        unit = s.get("unit") or ""
        calibrating = s.get("calibrating")
        row = {"metric": s.get("label") or metric, "value": _with_unit(s.get("value"), unit)}
        if calibrating:
            row["usual"] = f"calibrating {s.get('valid_days_60', 0)}/14"
            row.update(dict.fromkeys(("z", "weekday", "14 vs 60 days", "record"), "–"))
        else:
            row["usual"] = _with_unit(s.get("median_60"), unit)
            row["z"] = "–" if s.get("z") is None else f"{s['z']:+.1f}"
            row["weekday"] = _with_unit(s.get("weekday_median"), unit)
            row["14 vs 60 days"] = (f"{number(s['mean_14'])} vs {number(s['mean_60'])}"
                                    if s.get("mean_14") is not None
                                    and s.get("mean_60") is not None else "–")
            record = s.get("record")
            row["record"] = (f"{record['kind']} in {record['days']} d" if record else "–")
        goal = s.get("goal")
        met = {True: "met", False: "missed", None: "no value"}[goal.get("met")] if goal else ""
        row["goal"] = f"{met}, streak {goal.get('streak', 0)}" if goal else "–"
        t = s.get("trend")
        row["trend (28 d)"] = ("–" if not t else t["direction"] if t["direction"] == "no trend"
                               else f"{t['direction']} {number(t['slope_per_day'] * 7)}/week "
                               f"(p {t['p']:.3f})")
        c = s.get("change")
        if c:
            since = dt.date.fromisoformat(c["day"])
            row["change (120 d)"] = (f"since {since.day} {since:%b}: {number(c['before'])} → "
                                     f"{number(c['after'])}")
        else:
            row["change (120 d)"] = "–"
        row["anomaly"] = "yes" if s.get("anomaly") else "–"
        out.append({k: row.get(k, "–") for k in COLUMNS})
    return out
