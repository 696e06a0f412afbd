"""The words of the briefing: short spoken sentences from a summary and a projection.

Every value is optional: a summary section or key that is missing, null or not a number simply
leaves its sentence out, so older rows, partial days and future summary keys never break the
briefing. Sentences carry a priority; when the whole set would run longer than the target, the
least important ones are left out (the greeting, a note and the closing always stay). Numbers
are written the way they are said ("42 pounds 10"), which both voices read naturally.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..daily.summary_text import IN_SECTIONS  # the metrics the section sentences say
from . import spoken

ALWAYS, HEADLINE, DETAIL, EXTRA = 0, 1, 2, 3

STATUS_WORDS = {"on track": "within your budget", "at risk": "so the budget is at risk",
                "likely over": "likely over budget", "over": "already over budget"}
CURRENCY_WORDS = {"GBP": ("pounds", "pence"), "EUR": ("euros", "cents"),
                  "USD": ("dollars", "cents")}


@dataclass(frozen=True)
class Script:
    text: str
    words: int
    seconds: float  # estimated at the local voice's words per minute
    left_out: int  # sentences dropped to fit the target length


def words_of(text: str) -> int:
    return len(text.split())


def num(section: Any, key: str) -> float | None:
    """section[key] as a float, or None when the section/key is missing or not a number."""
    if not isinstance(section, Mapping):
        return None
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def spoken_money(value: float, currency: str) -> str:
    major, minor = CURRENCY_WORDS.get(currency, (currency, ""))
    value = abs(value)
    whole = int(value)
    cents = round((value - whole) * 100)
    if cents == 100:
        whole, cents = whole + 1, 0
    if whole >= 100 or not cents or not minor:
        return f"{round(value):,} {major}"
    return f"{whole:,} {major} {cents:02d}" if whole else f"{cents} {minor}"


def _n(value: float, digits: int = 1) -> str:
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _plural(n: float, one: str, many: str) -> str:
    return f"{_n(n, 0)} {one if round(n) == 1 else many}"


def _day_phrase(day: dt.date) -> str:
    return f"{day:%A}, {day.day} {day:%B}"


def sentences(day: dt.date, summary: Mapping | None, projection: Mapping | None,
              currency: str, specs: Mapping | None = None,
              correlations: Sequence[Mapping] = ()) -> list[tuple[int, str]]:
    """(priority, sentence) in speaking order: the greeting, the day's most notable things
    (spoken.lead, ranked by evidence), then the day's numbers, goals and calibration.
    `specs`: metric → insight Spec (labels and units of the person's metrics);
    `correlations`: this week's findings (weekly.latest), new ones may lead."""
    s = summary if isinstance(summary, Mapping) else {}
    p = projection if isinstance(projection, Mapping) else {}
    specs = specs or {}
    out: list[tuple[int, str]] = [(ALWAYS, f"Good morning. Here is your briefing for "
                                           f"{_day_phrase(day)}.")]
    trends = p.get("trends") if isinstance(p.get("trends"), Mapping) else {}
    metrics = s.get("metrics") if isinstance(s.get("metrics"), Mapping) else {}
    if recorded(s) or any(isinstance(m, Mapping) and m.get("value") is not None
                          for m in metrics.values()):
        money_lines = _money(s.get("finance"), p.get("month_end_spend"), currency)
        budget_line = next((t for _, t in money_lines if t.startswith("At this pace")), None)
        lead = spoken.lead(day, metrics, specs, money=spoken_money,
                           budget=p.get("month_end_spend"), budget_text=budget_line,
                           correlations=correlations)
        out += [(HEADLINE, item.text) for item in lead]
        led = {t for _, t in out}
        said = {i.metric for i in lead if i.kind in ("anomaly", "unusual", "record")}
        out += _health(s.get("health"), trends, said)
        out += _tasks(s.get("productivity"), trends)
        out += [(pr, t) for pr, t in money_lines if t not in led]
        out += [] if "mood" in said else _mood(s.get("mood"))
        out += _shadow(s.get("shadow_work"))
        out += [(DETAIL, t) for t in spoken.own_metrics(metrics, specs, IN_SECTIONS,
                                                        money=spoken_money)]
        out += _goals(p.get("goals"), specs)
        out += _calibrating(metrics, specs)
    if len(out) == 1:
        text = "No summary has been made for this day yet." if summary is None else \
            "Nothing was recorded for this day."
        out.append((ALWAYS, text))
    return out


def recorded(s: Mapping) -> bool:
    """Did the day hold any rows? (a summary of an empty day still has zero counts)"""
    h, t, f, m, w = (s.get(k) for k in ("health", "productivity", "finance", "mood",
                                         "shadow_work"))
    return bool(
        any(num(h, k) is not None for k in ("sleep_hours", "steps", "resting_heart_rate",
                                            "weight_kg"))
        or any(num(t, k) for k in ("tasks_done", "tasks_created", "overdue"))
        or num(f, "spend") or num(f, "income") or num(f, "transactions")
        or num(m, "entries") or num(m, "mood_mean") is not None or num(w, "entries")
    )


def _health(h: Any, trends: Mapping, said: set | frozenset = frozenset()
            ) -> list[tuple[int, str]]:
    """`said`: metrics whose value the lead already spoke (not repeated here)."""
    out = []
    sleep = None if "sleep_hours" in said else num(h, "sleep_hours")
    steps = None if "steps" in said else num(h, "steps")
    if sleep is not None and steps is not None:
        out.append((HEADLINE, f"You slept {_n(sleep)} hours and walked {_n(steps, 0)} steps."))
    elif sleep is not None:
        out.append((HEADLINE, f"You slept {_n(sleep)} hours."))
    elif steps is not None:
        out.append((HEADLINE, f"You walked {_n(steps, 0)} steps."))
    avg = num(trends.get("sleep_hours"), "mean")
    if sleep is not None and avg is not None and abs(sleep - avg) >= 0.25:
        word = "longer" if sleep > avg else "shorter"
        out.append((DETAIL, f"Your sleep was {word} than your recent average of {_n(avg)} "
                            "hours."))
    rhr = None if "resting_heart_rate" in said else num(h, "resting_heart_rate")
    if rhr is not None:
        out.append((DETAIL, f"Your resting heart rate was {_n(rhr, 0)} beats per minute."))
    weight = None if "weight_kg" in said else num(h, "weight_kg")
    slope = num(trends.get("weight_kg"), "slope_per_day")
    if weight is not None and slope is not None and abs(7 * slope) >= 0.05:
        way = "down" if slope < 0 else "up"
        out.append((DETAIL, f"You weighed {_n(weight)} kilos, trending {way} about "
                            f"{_n(abs(7 * slope))} kilos a week."))
    elif weight is not None:
        out.append((EXTRA, f"You weighed {_n(weight)} kilos."))
    return out


def _tasks(t: Any, trends: Mapping) -> list[tuple[int, str]]:
    out = []
    done, new, overdue = num(t, "tasks_done"), num(t, "tasks_created"), num(t, "overdue")
    if done:
        text = f"You finished {_plural(done, 'task', 'tasks')}"
        text += f" and added {_n(new or 0, 0)} new." if new else "."
        out.append((HEADLINE, text))
    elif new:
        out.append((HEADLINE, f"You added {_plural(new, 'new task', 'new tasks')}."))
    if overdue:
        out.append((HEADLINE, f"{_plural(overdue, 'task is', 'tasks are')} overdue; "
                              "clearing one first would lighten the day."))
    avg = num(trends.get("tasks_done"), "mean")
    if avg is not None and done is not None:
        out.append((EXTRA, f"Lately you finish about {_n(avg)} tasks a day."))
    return out


def _money(f: Any, month_end: Any, currency: str) -> list[tuple[int, str]]:
    out = []
    currency = f.get("currency", currency) if isinstance(f, Mapping) else currency
    spend, income = num(f, "spend"), num(f, "income")
    others = f.get("spend_other_currencies") if isinstance(f, Mapping) else None
    other = " and ".join(spoken_money(v, c) for c, v in (others or {}).items()
                         if isinstance(v, int | float) and v > 0)
    if other:
        text = (f"You spent {spoken_money(spend, currency)}, and {other}." if spend else
                f"You spent {other}.")
        out.append((HEADLINE, text))
    elif spend:
        cats = f.get("spend_by_category") if isinstance(f.get("spend_by_category"), Mapping) \
            else {}
        top = [c for c, v in sorted(cats.items(), key=lambda kv: -(num(cats, kv[0]) or 0))
               if num(cats, c)][:2]
        text = f"You spent {spoken_money(spend, currency)}"
        # the category as said, not its key: "eating_out" → "eating out"
        text += (f", mostly on {' and '.join(c.replace('_', ' ') for c in top)}." if top
                 else ".")
        out.append((HEADLINE, text))
    elif isinstance(f, Mapping) and spend is not None and num(f, "transactions") == 0 \
            and not num(f, "other_currency_transactions"):
        out.append((DETAIL, "You spent nothing."))
    if income:
        out.append((DETAIL, f"Income came in at {spoken_money(income, currency)}."))
    mtd, budget = num(f, "month_to_date_spend"), num(f, "monthly_budget")
    if mtd is not None and budget:
        out.append((HEADLINE, f"So far this month you have spent {spoken_money(mtd, currency)}, "
                              f"{_n(100 * mtd / budget, 0)} percent of your budget of "
                              f"{spoken_money(budget, currency)}."))
    projected = num(month_end, "projected")
    if projected is not None:
        text = f"At this pace the month ends near {spoken_money(projected, currency)}"
        status = month_end.get("status") if isinstance(month_end.get("status"), str) else None
        text += f", {STATUS_WORDS.get(status, 'which is ' + status)}." if status else "."
        out.append((HEADLINE if status in ("at risk", "likely over", "over") else DETAIL, text))
    return out


def _mood(m: Any) -> list[tuple[int, str]]:
    mood, entries = num(m, "mood_mean"), num(m, "entries")
    if mood is not None and entries == 1:
        return [(HEADLINE, f"Your mood was {_n(mood)} out of 10 in your one journal entry.")]
    if mood is not None:
        across = f" across {_plural(entries, 'journal entry', 'journal entries')}" \
            if entries else ""
        return [(HEADLINE, f"Your mood averaged {_n(mood)} out of 10{across}.")]
    if entries:
        return [(DETAIL, f"You wrote {_plural(entries, 'journal entry', 'journal entries')}.")]
    return []


def _shadow(w: Any) -> list[tuple[int, str]]:
    if not isinstance(w, Mapping) or not num(w, "entries"):
        return []
    emotions = w.get("emotions") if isinstance(w.get("emotions"), Mapping) else {}
    names = [str(e) for e in list(emotions)[:3]]
    text = f"In shadow work you named {' and '.join(names)}" if names else \
        f"You did {_plural(num(w, 'entries') or 0, 'shadow work entry', 'shadow work entries')}"
    intensity = num(w, "intensity_mean")
    text += f", at an average intensity of {_n(intensity)}." if intensity is not None else "."
    return [(DETAIL, text)]


def _goals(goals: Any, specs: Mapping) -> list[tuple[int, str]]:
    """When each goal is reached at the current rate, with its 95% interval."""
    out = []
    for metric, g in (goals or {}).items() if isinstance(goals, Mapping) else ():
        spec = specs.get(metric)
        if spec is None or not isinstance(g, Mapping) or g.get("target") is None:
            continue
        target = spoken.spoken(float(g["target"]), spec, spoken_money)
        if g.get("status") == "on the way":
            latest = (f" and {_date_words(g['latest'])}" if g.get("latest")
                      else ", or later")
            out.append((EXTRA, f"At this rate your {spec.label} reaches {target} around "
                               f"{_date_words(g['date'])}, between {_date_words(g['earliest'])}"
                               f"{latest}."))
        elif g.get("status") == "not at this rate":
            out.append((EXTRA, f"At this rate your {spec.label} does not reach {target}."))
    return out


def _date_words(iso: str) -> str:
    d = dt.date.fromisoformat(iso)
    return f"{d.day} {d:%B}"


TOLD_AHEAD = (14, 7, 3, 1)  # days before a purge on which the briefing says it


def deletions_ahead(deletions: Sequence[tuple[str, str, str, dt.date]], today: dt.date
                    ) -> list[tuple[int, str]]:
    """Archived days the purge deletes in 14, 7, 3 or 1 days (the notification tells each file
    once; the briefing says it on those mornings), grouped by the day they go."""
    by_day: dict[dt.date, list[tuple[str, str, str, dt.date]]] = {}
    for d in deletions:
        by_day.setdefault(d[3], []).append(d)
    out = []
    for on, items in sorted(by_day.items()):
        left = (on - today).days
        if left not in TOLD_AHEAD:
            continue
        tables = sorted({t.replace("_", " ") for t, *_ in items})
        names = " and ".join([", ".join(tables[:-1]), tables[-1]] if len(tables) > 1
                             else tables)
        first, last = min(i[1] for i in items), max(i[2] for i in items)
        when = "Tomorrow" if left == 1 else f"In {left} days"
        span = (f"{_date_words(first)} {first[:4]}" if first == last else
                f"{_date_words(first)} {first[:4]} to {_date_words(last)} {last[:4]}")
        out.append((HEADLINE, f"{when}, retention deletes your {names} from {span}; only "
                              "their digest of totals will remain. To keep them, pin those "
                              "days with persys archive pin."))
    return out


def _calibrating(metrics: Mapping, specs: Mapping) -> list[tuple[int, str]]:
    from ..insight.notable import calibrating

    found = calibrating(metrics, specs)
    if not found:
        return []
    most = max(n for _, n in found)
    names = (" and ".join(label for label, _ in found) if len(found) <= 3
             else f"{len(found)} of your metrics")
    return [(DETAIL, f"I am still learning what is usual for {names}: {_n(most, 0)} of 14 "
                     "days so far, so I compare nothing yet.")]


def build(day: dt.date, summary: Mapping | None, projection: Mapping | None, *,
          currency: str = "GBP", target_seconds: float = 75, words_per_minute: int = 165,
          note: str | None = None, specs: Mapping | None = None,
          correlations: Sequence[Mapping] = (), max_characters: int | None = None,
          deletions: Sequence[tuple[int, str]] = ()) -> Script:
    """The briefing of `day`, at most about `target_seconds` long when spoken and, with
    `max_characters` (a paid voice spreading its credits), at most that many characters
    (the greeting, a note and the closing always stay). `deletions`: deletions_ahead's.
    """
    items = sentences(day, summary, projection, currency, specs, correlations)
    items[1:1] = deletions  # (deletions_ahead) after the greeting, before the day's news
    if note:
        items.insert(1, (ALWAYS, note))
    items.append((ALWAYS, "That is all for today. Have a good day."))
    budget = target_seconds * words_per_minute / 60
    chars_left = max_characters if max_characters is not None else math.inf
    keep = [False] * len(items)
    used = 0
    for priority in (ALWAYS, HEADLINE, DETAIL, EXTRA):
        for i, (prio, text) in enumerate(items):
            fits = used + words_of(text) <= budget and len(text) + 1 <= chars_left
            if prio == priority and (priority == ALWAYS or fits):
                keep[i] = True
                used += words_of(text)
                chars_left -= len(text) + 1
        if any(p == priority and not k for (p, _), k in zip(items, keep, strict=True)):
            break  # a less important sentence never replaces a more important one
    text = " ".join(t for (_, t), k in zip(items, keep, strict=True) if k)
    words = words_of(text)
    return Script(text=text, words=words, seconds=round(60 * words / words_per_minute, 1),
                  left_out=keep.count(False))
