"""Guessing the person's daily metrics from their tables' names, columns and types.

Each guess is a metric with a label, unit, which way is better, and its source (table, day
column, value, aggregation, filters, `by`), plus why it was guessed, so persys.yaml can say it.
Guesses follow what the names say and never invent data: a sleep table's `hours`, a `steps`
column, a watch export's `kind`/`value` rows, a to-do table's done flag, a payments table's
amount (in cents when the name says so, income only when there are negative amounts), a
journal's word count. Every source gets the person filter (`user_id = …`) when its table
references `auth.users`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from .inspect import (
    DONE_AT,
    DONE_FLAGS,
    TASK_TABLES,
    Column,
    Table,
    distinct_values,
    plain,
    sign_counts,
)


@dataclass(frozen=True)
class Guess:
    name: str  # the metric's key (the summary's vocabulary: sleep_hours, steps, mood, ...)
    label: str
    unit: str
    better: str  # higher | lower | neither
    source: dict  # {table, day_column, value, agg, where, by}
    why: str
    empty: bool = False  # its table has no rows yet: suggested, not switched on (a summary
                         # would say "0 tasks", "spent nothing" about data never recorded)


@dataclass
class Person:
    """The `auth.users` id the summaries are about (most rows), and who else is there."""

    value: str | None = None
    others: dict[str, int] = field(default_factory=dict)
    rows: int = 0  # the person's own rows across the tables


METRIC_INFO = {  # name → label, unit, better
    "sleep_hours": ("Sleep", "h", "higher"), "steps": ("Steps", "steps", "higher"),
    "resting_heart_rate": ("Resting heart rate", "bpm", "lower"),
    "heart_rate": ("Heart rate", "bpm", "neither"), "weight_kg": ("Weight", "kg", "neither"),
    "tasks_done": ("Tasks done", "tasks", "higher"),
    "tasks_created": ("Tasks created", "tasks", "neither"),
    "spend": ("Spend", "money", "lower"), "income": ("Income", "money", "higher"),
    "mood": ("Mood", "/10", "higher"), "journal_words": ("Journal words", "words", "higher"),
    "shadow_entries": ("Shadow-work entries", "entries", "neither"),
    "shadow_intensity": ("Shadow-work intensity", "/10", "lower"),
    "shadow_emotions": ("Shadow-work emotions", "entries", "neither"),
    "shadow_tags": ("Shadow-work tags", "entries", "neither"),
}
# a column named so is the metric (value → metric, aggregation)
COLUMN_METRICS = {
    "steps": ("steps", "sum"), "step_count": ("steps", "sum"),
    "resting_heart_rate": ("resting_heart_rate", "mean"),
    "resting_hr": ("resting_heart_rate", "mean"),
    "rhr": ("resting_heart_rate", "mean"), "heart_rate": ("heart_rate", "mean"),
    "avg_hr": ("heart_rate", "mean"), "bpm": ("heart_rate", "mean"),
    "weight_kg": ("weight_kg", "last"), "weight": ("weight_kg", "last"),
    "sleep_hours": ("sleep_hours", "sum"), "hours_slept": ("sleep_hours", "sum"),
    "mood_score": ("mood", "mean"), "mood_rating": ("mood", "mean"), "mood": ("mood", "mean"),
}
SLEEP_HOURS = ("hours", "duration_hours", "duration_h", "total_hours")
SLEEP_MINUTES = ("minutes", "duration_minutes", "duration_min", "total_minutes")
# a metric/value layout (one row per reading): the kind column's value → metric, aggregation
KIND_COLUMNS = ("kind", "metric", "type", "name", "measure", "measurement")
VALUE_COLUMNS = ("value", "reading", "amount", "quantity", "val")
KIND_METRICS = {
    "steps": ("steps", "sum"), "step_count": ("steps", "sum"),
    "sleep": ("sleep_hours", "sum"), "sleep_hours": ("sleep_hours", "sum"),
    "resting_heart_rate": ("resting_heart_rate", "mean"),
    "resting_hr": ("resting_heart_rate", "mean"),
    "heart_rate": ("heart_rate", "mean"), "hr": ("heart_rate", "mean"),
    "weight": ("weight_kg", "last"), "weight_kg": ("weight_kg", "last"),
}
MONEY_TABLES = ("payment", "transaction", "expense", "spend", "purchase", "spending", "money")
AMOUNTS = ("amount", "amount_cents", "value", "price", "cost", "total", "amount_pence", "sum")
CATEGORY = ("category", "kind", "type", "merchant_category")
CREATED_AT = ("created_at", "inserted_at", "created_on")
JOURNAL_TABLES = ("journal", "diary", "note", "entries", "entry")
WORDS = ("words", "word_count")
TEXTS = ("content", "body", "text", "entry", "note", "notes")


def person_of(tables: list[Table]) -> Person:
    """The id with most rows across the tables that reference `auth.users`."""
    totals: dict[str, int] = {}
    for t in tables:
        for who, n in t.people.items():
            totals[who] = totals.get(who, 0) + n
    if not totals:
        return Person()
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return Person(ranked[0][0], dict(ranked[1:]), ranked[0][1])


def guess(conn: psycopg.Connection, tables: list[Table], person: Person) -> list[Guess]:
    """One guess per metric (the first table with rows that answers it wins, else the first
    empty one), in the summary's order."""
    found: dict[str, Guess] = {}
    for table in sorted(tables, key=lambda t: t.rows == 0):
        if table.day_column is None:
            continue
        for g in _table_guesses(conn, table, person):
            if all(plain(c) for c in _names(g.source)):  # persys.yaml takes plain names
                found.setdefault(g.name, g)
    return [found[m] for m in METRIC_INFO if m in found]


def _names(source: dict) -> list[str]:
    """The column names a source writes into persys.yaml (value: the plain column it starts
    with, expressions here are built around one)."""
    value = str(source.get("value", "")).replace("greatest(-(", "").replace("greatest(", "")
    value = value.replace("regexp_count(coalesce(", "")
    head = value.split(" ")[0].split(",")[0].rstrip(")") if value else ""
    return [source["day_column"], *source.get("where", {}), *filter(None, [source.get("by"),
                                                                           head])]


def _named(table: Table, names: tuple[str, ...], *, number: bool | None = None
           ) -> Column | None:
    for name in names:
        column = table.column(name)
        if column is not None and (number is None or column.is_number == number):
            return column
    return None


def _has(table: Table, words: tuple[str, ...]) -> bool:
    return any(w in table.name.lower() for w in words)


def _make(table: Table, person: Person, name: str, why: str, *, value: str | None = None,
          agg: str = "sum", day: str | None = None, where: dict | None = None,
          by: str | None = None) -> Guess:
    source: dict = {"table": table.name, "day_column": day or table.day_column}
    if value is not None:
        source["value"] = value
    source["agg"] = agg
    filters = dict(where or {})
    if table.person_column and person.value:
        filters[table.person_column] = person.value
    if filters:
        source["where"] = filters
    if by:
        source["by"] = by
    label, unit, better = METRIC_INFO[name]
    return Guess(name, label, unit, better, source, why, empty=table.rows == 0)


def _table_guesses(conn: psycopg.Connection, t: Table, person: Person) -> list[Guess]:
    out: list[Guess] = []
    for column in t.columns:  # columns named for a metric
        hit = COLUMN_METRICS.get(column.name.lower())
        if hit and column.is_number:
            out.append(_make(t, person, hit[0], f"column {t.name}.{column.name}",
                             value=column.name, agg=hit[1]))
    if _has(t, ("sleep",)):
        hours = _named(t, SLEEP_HOURS, number=True)
        minutes = _named(t, SLEEP_MINUTES, number=True)
        if hours:
            out.append(_make(t, person, "sleep_hours", f"{t.name}.{hours.name} in a sleep "
                             "table", value=hours.name))
        elif minutes:
            out.append(_make(t, person, "sleep_hours", f"{t.name}.{minutes.name} (minutes) in "
                             "a sleep table", value=f"{minutes.name} / 60.0"))
    out += _readings(conn, t, person)
    if _has(t, TASK_TABLES):
        out += _tasks(t, person)
    if _has(t, MONEY_TABLES):
        out += _money(conn, t, person)
    if _has(t, JOURNAL_TABLES):
        words = _named(t, WORDS, number=True)
        text = _named(t, TEXTS, number=False)
        if words:
            out.append(_make(t, person, "journal_words", f"{t.name}.{words.name}",
                             value=words.name))
        elif text and text.base in ("text", "character varying"):
            out.append(_make(t, person, "journal_words", f"words of {t.name}.{text.name}",
                             value=f"regexp_count(coalesce({text.name}, ''), '\\S+')"))
    if _has(t, ("shadow",)):
        out.append(_make(t, person, "shadow_entries", f"rows of {t.name}", agg="count"))
        intensity = _named(t, ("intensity",), number=True)
        if intensity:
            out.append(_make(t, person, "shadow_intensity", f"{t.name}.intensity",
                             value="intensity", agg="mean"))
        if t.column("emotion"):
            out.append(_make(t, person, "shadow_emotions", f"{t.name} by emotion",
                             agg="count", by="emotion"))
        if t.column("tags"):
            out.append(_make(t, person, "shadow_tags", f"{t.name} by tags", agg="count",
                             by="tags"))
    return out


def _readings(conn: psycopg.Connection, t: Table, person: Person) -> list[Guess]:
    """A metric/value table (a watch export): one source per kind it holds."""
    kind = _named(t, KIND_COLUMNS, number=False)
    value = _named(t, VALUE_COLUMNS, number=True)
    if kind is None or value is None or not kind.base.startswith(("text", "character")):
        return []
    out = []
    for label in distinct_values(conn, t.name, kind.name):
        hit = KIND_METRICS.get(label.lower().strip())
        if hit:
            out.append(_make(t, person, hit[0], f"{t.name} rows with {kind.name} = {label!r}",
                             value=value.name, agg=hit[1], where={kind.name: label}))
    return out


def _tasks(t: Table, person: Person) -> list[Guess]:
    out = []
    done_at = _named(t, DONE_AT)
    flag = next((c for c in (t.column(n) for n in DONE_FLAGS) if c and c.base == "boolean"),
                None)
    if done_at is not None and done_at.is_day:
        where = {flag.name: True} if flag else None
        out.append(_make(t, person, "tasks_done", f"{t.name}.{done_at.name}", agg="count",
                         day=done_at.name, where=where))
    created = _named(t, CREATED_AT)
    if created is not None and created.is_day:
        out.append(_make(t, person, "tasks_created", f"{t.name}.{created.name}", agg="count",
                         day=created.name))
    return out


def _money(conn: psycopg.Connection, t: Table, person: Person) -> list[Guess]:
    amount = _named(t, AMOUNTS, number=True)
    if amount is None:
        return []
    cents = any(w in amount.name for w in ("cents", "pence"))
    value = f"{amount.name} / 100.0" if cents else amount.name
    category = _named(t, CATEGORY, number=False)
    by = category.name if category else None
    below, _ = sign_counts(conn, t.name, amount.name)
    if below:  # signed amounts: spending negative, income positive (the sample shape)
        return [
            _make(t, person, "spend", f"negative {t.name}.{amount.name}",
                  value=f"greatest(-({value}), 0)", by=by),
            _make(t, person, "income", f"positive {t.name}.{amount.name}",
                  value=f"greatest({value}, 0)"),
        ]
    return [_make(t, person, "spend", f"{t.name}.{amount.name}" + (" (cents)" if cents else ""),
                  value=value, by=by)]
