"""`imports:` in persys.yaml: where each kind of export goes (table, key column, columns) and
the inbox folder the `imports_inbox` sensor watches.

Each source yields one stream of rows (lib/imports/rows.STREAMS: measurements, transactions,
entries); `columns` maps the stream's fields onto the table's columns (a field left out, or
set to null, is not written). The defaults describe the sample schema. The table must be under
`tables:` (its policy routes each row to core, main or the archive by age) and the stream's
day field must map onto that table's `day_column`, so an import and the lifecycle agree on
every row's day. `persys doctor` checks the rest against the tables themselves.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Fields of each stream, in order (lib/imports/rows.py says what a row of each holds).
STREAMS: dict[str, tuple[str, ...]] = {
    "measurements": ("at", "ended_at", "metric", "value", "unit", "source", "type"),
    "transactions": ("date", "amount", "currency", "category", "merchant", "note", "account"),
    "entries": ("date", "at", "title", "body", "tags", "mood"),
}
KINDS = ("apple-health", "ofx", "csv", "ics", "dayone", "markdown")
STREAM_OF = {"apple-health": "measurements", "ofx": "transactions", "csv": "transactions",
             "ics": "entries", "dayone": "entries", "markdown": "entries"}
DAY_FIELD = {"measurements": "at", "transactions": "date", "entries": "date"}
_MEASUREMENTS = {"at": "measured_at", "metric": "metric", "value": "value", "unit": "unit",
                 "source": "source"}
_TRANSACTIONS = {"date": "occurred_on", "amount": "amount", "currency": "currency",
                 "category": "category", "merchant": "merchant", "note": "note"}
_ENTRIES = {"date": "entry_date", "title": "title", "body": "body", "tags": "tags",
            "mood": "mood", "at": "created_at"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImportTarget(_Strict):
    """One source's table: `key_column` gets the natural key's UUID (uuid or text column)."""

    table: str
    key_column: str = "id"
    columns: dict[str, str | None] = {}


class CsvFormat(_Strict):
    """How a bank's CSV is written; `auto` looks at the file (two passes, nothing kept)."""

    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"
    decimal: Literal["auto", ".", ","] = "auto"
    date_order: Literal["auto", "dmy", "mdy", "ymd"] = "auto"
    currency: str = Field("GBP", min_length=3, max_length=3)
    encoding: str = "utf-8-sig"
    # the file's header names (case-insensitive); null: the usual names are tried
    date: str | None = None
    amount: str | None = None
    debit: str | None = None  # banks that split money out and in over two columns
    credit: str | None = None
    description: str | None = None
    category: str | None = None


def _target(table: str, columns: dict[str, str]) -> ImportTarget:
    return ImportTarget(table=table, columns=columns)


class Imports(_Strict):
    inbox: str | None = None  # null: <home>/inbox
    apple_health: ImportTarget = Field(_target("health_metrics", _MEASUREMENTS),
                                       alias="apple-health")
    ofx: ImportTarget = _target("transactions", _TRANSACTIONS)
    csv: ImportTarget = _target("transactions", _TRANSACTIONS)
    ics: ImportTarget = _target("journal_entries", _ENTRIES)
    dayone: ImportTarget = _target("journal_entries", _ENTRIES)
    markdown: ImportTarget = _target("journal_entries", _ENTRIES)
    csv_format: CsvFormat = CsvFormat()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def target(self, kind: str) -> ImportTarget:
        return getattr(self, kind.replace("-", "_"))


def imports_problems(imports: Imports, tables: dict, kinds: tuple[str, ...] | None = None
                     ) -> list[str]:
    """Mapping problems found without a database: unknown fields, the table's policy, the day.

    At load only the sources persys.yaml names are checked (`kinds` None): a person who never
    imports needs no sample table; `persys import` and `doctor` check the one they use."""
    if kinds is None:
        kinds = tuple(k for k in KINDS if k.replace("-", "_") in imports.model_fields_set)
    problems = []
    for kind in kinds:
        key = f"imports.{kind}"
        target = imports.target(kind)
        stream = STREAM_OF[kind]
        fields = STREAMS[stream]
        unknown = [f for f in target.columns if f not in fields]
        if unknown:
            problems.append(f"{key}.columns.{unknown[0]}: not a field of {kind} rows; fields: "
                            f"{', '.join(fields)}")
        columns = [c for c in target.columns.values() if c]
        if target.key_column in columns or len(set(columns)) != len(columns):
            problems.append(f"{key}.columns: each column once, and not key_column "
                            f"({target.key_column})")
        policy = tables.get(target.table)
        if policy is None:
            problems.append(f"{key}.table: {target.table} is not under tables:; add its policy "
                            "(day_column, core_days, main_days) so imported rows are routed by "
                            "age, or map the import onto a table that has one")
            continue
        day_field = DAY_FIELD[stream]
        if target.columns.get(day_field) != policy.day_column:
            problems.append(f"{key}.columns.{day_field} must be {target.table}'s day_column "
                            f"({policy.day_column}): the import routes rows by that day")
    return problems
