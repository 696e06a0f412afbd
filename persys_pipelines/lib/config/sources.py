"""`daily.sources:` in persys.yaml: where each number of the daily summary comes from.

Each metric the summary uses maps to `{table, day_column, value, agg, where, by}`; the
defaults describe the sample schema `persys setup --sample-data` creates, so an unchanged
config gives exactly the summaries it always gave. A metric set to `null` has no source: its
sentence leaves the summary text and the briefing.

`value` is a column or an SQL expression over the table's columns. It is checked here, at load,
by a small tokenizer (plain identifiers, literals, operators; no `;`, no comments, no dollar
quoting, no subqueries), and parsed by PostgreSQL in `persys doctor`
(`lib/daily/sources.check_sources`). It is the one piece of SQL a person writes into the config;
`where` values are bound as parameters and never become SQL text.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

AGGS = ("sum", "mean", "min", "max", "count", "last")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# metric → what it means (the README lists these); the summary JSON keys are in summary.py
METRICS = {
    "sleep_hours": "hours slept", "steps": "steps walked",
    "resting_heart_rate": "resting heart rate", "heart_rate": "mean heart rate",
    "weight_kg": "weight", "tasks_done": "tasks completed", "tasks_created": "tasks created",
    "spend": "money spent (positive numbers), `by` a category",
    "income": "money received (positive numbers)",
    "mood": "mood on a 0-10 scale", "journal_words": "words written in the journal",
    "shadow_entries": "shadow-work entries", "shadow_intensity": "shadow-work intensity",
    "shadow_emotions": "shadow-work entries, `by` the emotion named",
    "shadow_tags": "shadow-work entries, `by` a tag (an array column is unnested)",
}
# words a value expression may use that are not columns (besides function names before `(`)
KEYWORDS = {
    "and", "or", "not", "is", "null", "true", "false", "case", "when", "then", "else", "end",
    "in", "between", "like", "ilike", "distinct", "from", "at", "time", "zone", "interval",
    "cast", "as", "array", "both", "leading", "trailing", "similar", "to", "escape", "isnull",
    "notnull", "unknown", "symmetric", "collate", "day", "hour", "minute", "second", "epoch",
    "year", "month",
}
FORBIDDEN = {"select", "with", "insert", "update", "delete", "into", "union", "values",
             "table", "lateral", "returning", "drop", "create", "alter", "grant", "copy"}
TOKEN = re.compile(r"""
    (?P<space>\s+) | (?P<string>'(?:[^']|'')*') | (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<quoted>"(?:[^"]|"")+") | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>::|<=|>=|<>|!=|\|\||[-+*/%^<>=(),.\[\]~])
""", re.VERBOSE)


class PersonFilter(BaseModel):
    """Whose rows a source counts, on a table several people share (`user_id` → auth.users):
    `{column: user_id, value: <your id>}`; the value is bound as a parameter, never SQL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    value: str | int

    @field_validator("column")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("must be a plain column name (letters, digits, _)")
        return value


class Source(BaseModel):
    """One metric's source; `value` may be omitted with `agg: count` (rows are counted).
    `person` filters the rows of one person (else `daily.person` applies, where the table
    has that column)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    day_column: str
    value: str | None = None
    agg: Literal["sum", "mean", "min", "max", "count", "last"] = "sum"
    where: dict[str, str | int | float | bool] = {}
    by: str | None = None
    person: PersonFilter | None = None

    def with_person(self, default: PersonFilter | None, columns: set[str] | None = None
                    ) -> Source:
        """The source with its person filter folded into `where` (its own, else `default`
        when `columns` is None or holds the default's column); `where` wins on a clash."""
        person = self.person
        if person is None and default is not None and (columns is None
                                                        or default.column in columns):
            person = default
        if person is None or person.column in self.where:
            return self.model_copy(update={"person": None})
        return self.model_copy(update={"person": None,
                                       "where": {**self.where, person.column: person.value}})

    @field_validator("table", "day_column", "by")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME.match(value):
            raise ValueError("must be a plain column or table name (letters, digits, _)")
        return value

    @field_validator("where")
    @classmethod
    def _where(cls, value: dict) -> dict:
        bad = [k for k in value if not NAME.match(k)]
        if bad:
            raise ValueError(f"filter column(s) {', '.join(map(repr, bad))} must be plain "
                             "column names; values are compared for equality")
        return value

    @field_validator("value")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        if value is not None:
            referenced_columns(value)  # raises ValueError naming the problem
        return value

    def columns(self) -> list[str]:
        """The table's columns this source reads (value's columns, day, filters, by)."""
        out = [self.day_column, *(referenced_columns(self.value) if self.value else []),
               *self.where, *([self.by] if self.by else []),
               *([self.person.column] if self.person else [])]
        return list(dict.fromkeys(out))


def referenced_columns(expression: str) -> list[str]:
    """Columns an expression names; ValueError when it is not a plain expression."""
    if not expression.strip():
        raise ValueError("is empty; give a column name or an SQL expression over the columns")
    if ";" in expression or "--" in expression or "/*" in expression or "$" in expression:
        raise ValueError("may not hold `;`, comments or `$`; give one SQL expression")
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expression):
        m = TOKEN.match(expression, pos)
        if m is None:
            raise ValueError(f"cannot read {expression[pos:pos + 10]!r}; use columns, "
                             "numbers, 'strings', operators and function calls")
        if m.lastgroup != "space":
            tokens.append((m.lastgroup or "", m.group()))
        pos = m.end()
    depth, columns = 0, []
    for i, (kind, text) in enumerate(tokens):
        depth += text == "("
        depth -= text == ")"
        if depth < 0:
            raise ValueError("has an unmatched `)`")
        word = text.strip('"').lower() if kind in ("word", "quoted") else ""
        if kind == "word" and word in FORBIDDEN:
            raise ValueError(f"may not use {text!r} (no subqueries or statements): give an "
                             "expression over this table's columns")
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        prev = tokens[i - 1][1] if i else ""
        if kind == "quoted" or (kind == "word" and word not in KEYWORDS and nxt != "("
                                and prev not in ("::", ".") and nxt != "."):
            columns.append(text.strip('"') if kind == "quoted" else word)
    if depth:
        raise ValueError("has an unmatched `(`")
    return list(dict.fromkeys(columns))


def default_sources(currency: str) -> dict[str, Source]:
    """The sample schema's sources; `spend`/`income` count only the configured currency."""
    def health(metric: str, agg: str) -> Source:
        return Source(table="health_metrics", day_column="measured_at", value="value",
                      agg=agg, where={"metric": metric})

    money = {"currency": currency}
    shadow = {"table": "shadow_work", "day_column": "entry_date"}
    return {
        "sleep_hours": health("sleep_hours", "sum"),
        "steps": health("steps", "sum"),
        "resting_heart_rate": health("resting_heart_rate", "mean"),
        "heart_rate": health("heart_rate", "mean"),
        "weight_kg": health("weight_kg", "last"),
        "tasks_done": Source(table="tasks", day_column="completed_at", agg="count",
                             where={"status": "done"}),
        "tasks_created": Source(table="tasks", day_column="created_at", agg="count"),
        "spend": Source(table="transactions", day_column="occurred_on",
                        value="greatest(-amount, 0)", where=money, by="category"),
        "income": Source(table="transactions", day_column="occurred_on",
                         value="greatest(amount, 0)", where=money),
        "mood": Source(table="journal_entries", day_column="entry_date", value="mood",
                       agg="mean"),
        "journal_words": Source(table="journal_entries", day_column="entry_date",
                                value=r"regexp_count(coalesce(body, ''), '\S+')"),
        "shadow_entries": Source(agg="count", **shadow),
        "shadow_intensity": Source(value="intensity", agg="mean", **shadow),
        "shadow_emotions": Source(agg="count", by="emotion", **shadow),
        "shadow_tags": Source(agg="count", by="tags", **shadow),
    }


def resolve_sources(given: dict[str, Source | None], currency: str) -> dict[str, Source]:
    """Defaults overlaid with the config's entries; `null` removes a metric."""
    out: dict[str, Source | None] = {**default_sources(currency), **given}
    return {k: v for k, v in out.items() if v is not None}
