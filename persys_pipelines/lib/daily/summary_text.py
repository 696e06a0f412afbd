"""The daily summary as a person reads it: a few short sentences per day, money with its symbol.

Split from summary.py (which computes and stores the numbers) so wording changes stay apart
from the arithmetic; imports nothing of persys at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .summary import DaySummary

NO_DATA = "No data recorded for this day."

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def money(value: float, currency: str) -> str:
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{value:,.2f}" if symbol else f"{value:,.2f} {currency}"


def describe(s: DaySummary, currency: str) -> str:
    """A few short sentences; a day without any rows says so."""
    parts: list[str] = []
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
    if f and f["transactions"]:
        cats = sorted(f["spend_by_category"].items(), key=lambda kv: -kv[1])[:3]
        listed = ", ".join(f"{c} {money(v, currency)}" for c, v in cats)
        bits = []
        if f.get("spend") is not None:
            bits.append(f"spent {money(f['spend'], currency)}" + (f" ({listed})" if listed else ""))
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
    if not parts:
        return f"{s.day:%a %d %b %Y}: {NO_DATA}"
    return f"{s.day:%a %d %b %Y}: " + " ".join(parts)
