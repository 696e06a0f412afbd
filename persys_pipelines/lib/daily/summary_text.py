"""The daily summary as a person reads it: a few short sentences per day, money with its symbol.

Split from summary.py (which computes and stores the numbers) so wording changes stay apart
from the arithmetic; imports nothing of persys at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..insight.analyse import Spec
    from .summary import DaySummary

NO_DATA = "No data recorded for this day."
LEAD = 3  # the most notable things of the day open the text
# metrics the section sentences below already say (the rest get an "Also:" list)
IN_SECTIONS = {"sleep_hours", "steps", "resting_heart_rate", "heart_rate", "weight_kg",
               "tasks_done", "tasks_created", "spend", "income", "mood", "journal_words",
               "shadow_entries", "shadow_intensity", "shadow_emotions", "shadow_tags"}

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def money(value: float, currency: str) -> str:
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{value:,.2f}" if symbol else f"{value:,.2f} {currency}"


def number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    text = f"{value:,.2f}" if abs(value) < 1 else f"{value:,.1f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def written(value: float, spec: Spec) -> str:
    """A value with its unit as read: £12.50, 7.5 h, 7/10, 8,200 steps."""
    if spec.unit and len(spec.unit) == 3 and spec.unit.isupper():
        return money(value, spec.unit)
    if spec.unit.startswith("/"):
        return f"{number(value)}{spec.unit}"
    return f"{number(value)} {spec.unit}".rstrip()


def lead(s: DaySummary, specs: Mapping[str, Spec]) -> list[str]:
    """The day's most notable claims (insight.notable), best first."""
    from ..insight.notable import candidates

    return [i.text for i in candidates(s.day, s.metrics, specs, written)[:LEAD]]


def describe(s: DaySummary, currency: str, specs: Mapping[str, Spec] | None = None) -> str:
    """A few short sentences: the most notable things first, then the day's numbers, then the
    metrics still calibrating; a day without any rows says so."""
    specs = specs or {}
    parts: list[str] = lead(s, specs) if s.metrics and specs else []
    h = s.health
    if h:
        bits = []
        if h.get("sleep_hours") is not None:
            bits.append(f"slept {h['sleep_hours']:.1f} h")
        if h.get("steps") is not None:
            bits.append(f"{h['steps']:,} steps")
        if h.get("resting_heart_rate") is not None:
            bits.append(f"resting heart rate {h['resting_heart_rate']:.0f}")
        if h.get("weight_kg") is not None:
            bits.append(f"weight {h['weight_kg']:.1f} kg")
        if bits:
            parts.append("Health: " + ", ".join(bits) + ".")
    p = s.productivity
    if p and (p.get("tasks_done") or p.get("tasks_created") or p.get("overdue")):
        bits = [f"{p[k]} {word}" for k, word in (("tasks_done", "done"), ("tasks_created", "new"),
                                                  ("overdue", "overdue")) if p.get(k) is not None]
        parts.append("Tasks: " + ", ".join(bits) + ".")
    f = s.finance
    if f and (f["transactions"] or f.get("other_currency_transactions")):
        cats = sorted(f["spend_by_category"].items(), key=lambda kv: -kv[1])[:3]
        listed = ", ".join(f"{c} {money(v, currency)}" for c, v in cats)
        other = " and ".join(money(v, c) for c, v in (f.get("spend_other_currencies") or {})
                             .items())
        bits = []
        if f.get("spend") is not None and (f["spend"] or not other):
            bits.append(f"spent {money(f['spend'], currency)}" + (f" ({listed})" if listed else "")
                        + (f", and {other}" if other else ""))
        elif other:
            bits.append(f"spent {other}")
        if f.get("income"):
            bits.append(f"income {money(f['income'], currency)}")
        text = "Money: " + (", ".join(bits) or f"{f['transactions']} transactions")
        parts.append(text + ".")
    if f and f.get("monthly_budget") and f.get("month_to_date_spend") is not None and (
            f["transactions"] or parts):
        parts.append(f"Month to date {money(f['month_to_date_spend'], currency)} of "
                     f"{money(f['monthly_budget'], currency)} ({f['budget_used_pct']:.0f}%).")
    m = s.mood
    if m:
        mood = f"mood {m['mood_mean']:.1f}/10, " if m.get("mood_mean") is not None else ""
        words = f", {m['journal_words']:,} words" if m.get("journal_words") is not None else ""
        parts.append(f"Journal: {mood}{m['entries']} entr{'y' if m['entries'] == 1 else 'ies'}"
                     f"{words}.")
    w = s.shadow_work
    if w:
        emotions = ", ".join(w["emotions"]) or "no emotion named"
        parts.append(f"Shadow work: {w['entries']} entr{'y' if w['entries'] == 1 else 'ies'} "
                     f"({emotions}).")
    own = [f"{specs[m].label} {written(st['value'], specs[m])}" for m, st in s.metrics.items()
           if m not in IN_SECTIONS and m in specs and isinstance(st, Mapping)
           and st.get("value") is not None]
    if own:
        parts.append(("Also: " if parts else "Your metrics: ") + ", ".join(own) + ".")
    if not parts:
        return f"{s.day:%a %d %b %Y}: {NO_DATA}"
    learning = calibration_words(s.metrics, specs)
    if learning:
        parts.append(learning + ".")
    return f"{s.day:%a %d %b %Y}: " + " ".join(parts)


def calibration_words(stats: Mapping, specs: Mapping[str, Spec]) -> str:
    """"Still learning your usual for …", honest and short; "" when nothing calibrates."""
    from ..insight.notable import calibrating

    found = calibrating(stats, specs)
    if not found:
        return ""
    most = max(n for _, n in found)
    if len(found) == len([m for m in stats if m in specs]) and len(found) > 1:
        return f"Still learning your usual for every metric ({most} of 14 days so far)"
    if len(found) > 3:
        return (f"Still learning your usual for {len(found)} metrics (at most {most} of 14 "
                "days so far)")
    return "Still learning your usual for " + " and ".join(
        f"{label} ({n} of 14 days)" for label, n in found)
