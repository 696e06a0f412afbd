"""How each PostgreSQL column is carried in an archive file, and what the file says about it.

A column takes the typed path (an Arrow type Parquet stores natively, read by Arrow without a
Python object per value) when every value of the month fits that type exactly. A value that
does not is found one of two ways, neither costing a month of ordinary values anything:
- the parse refuses it: a date or timestamp outside years 1-9999 (±infinity, BC, a
  five-digit year: Arrow's parser and Python's datetime stop at 9999 and know no infinity), a
  `text[]` with explicit bounds (`[0:1]={x,y}`) or nested (decode.py), an array of more than
  one dimension or a `double precision[]` holding NaN or ±Infinity (the JSON reader);
- where a parse would take it silently, `guard`, SQL evaluated once per row in the export:
  numeric NaN in a `numeric(p,s)` column (Arrow reads it as NULL) and an array of numbers or
  booleans whose lower bound is not 1 (`array_to_json` drops the bounds).
A month holding such a value carries that column as its PostgreSQL text form instead (`text`),
which PostgreSQL reads back exactly; the other columns and months keep the typed path.

The file records every column's PostgreSQL type (`persys.pg_types`), and for a domain its base
type (`persys.pg_base_types`), so a restore or a reader needs nothing but the file. The day
column the archive adds is `_day`, or, for a table with a column of that name, the first of
`__day`, `___day`, … that none has (`day_field`): the field that is not a table column.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, replace

from psycopg import sql

from ..lazy import lazy_module
from .decode import ArchiveFormatError

pa = lazy_module("pyarrow")

DAY = "_day"
PG_TYPES_META = b"persys.pg_types"
BASE_TYPES_META = b"persys.pg_base_types"
TABLE_META = b"persys.table"


@functools.cache
def _scalars() -> dict[str, pa.DataType]:
    """PostgreSQL scalar type → Arrow type (built on first use: pyarrow loads lazily)."""
    return {"smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(),
            "real": pa.float32(), "double precision": pa.float64(), "boolean": pa.bool_(),
            "text": pa.string(), "date": pa.date32(),
            "timestamp with time zone": pa.timestamp("us", tz="UTC"),
            "timestamp without time zone": pa.timestamp("us")}


_JSON_ELEMENTS = {"text", "smallint", "integer", "bigint", "double precision", "boolean",
                  "character varying"}
_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    arrow_type: pa.DataType
    how: str  # plain | uuid | text_list | json_list | text (PostgreSQL text form as a string)
    base: str | None = None  # a domain's base type (what its values are)

    @property
    def kind(self) -> str:
        return self.base or self.pg_type

    def select(self) -> sql.Composable:
        ident = sql.Identifier(self.name)
        if self.how == "json_list":
            return sql.SQL("array_to_json({})::text").format(ident)
        if self.how in ("uuid", "text", "text_list") or self.kind in ("jsonb", "json"):
            return sql.SQL("{}::text").format(ident)
        return ident

    def guard(self) -> sql.Composable | None:
        """SQL true for a value the typed path would take without a word but not exactly
        (module doc); None for a type whose parse refuses every such value."""
        ident = sql.Identifier(self.name)
        if self.how == "plain" and pa.types.is_decimal(self.arrow_type):
            return sql.SQL("{} = 'NaN'::numeric").format(ident)
        if self.how == "json_list":
            return sql.SQL("array_lower({}, 1) <> 1").format(ident)
        return None

    def as_text(self) -> Column:
        return replace(self, arrow_type=pa.string(), how="text")

    @property
    def csv_type(self) -> pa.DataType:
        return self.arrow_type if self.how == "plain" else pa.string()


def column_for(name: str, pg_type: str, base: str | None = None) -> Column:
    """The typed path for a column of `pg_type` (a domain's: of its `base` type)."""
    kind = base or pg_type
    stem = re.sub(r"\(.*\)", "", kind)
    if kind in _scalars():
        return Column(name, pg_type, _scalars()[kind], "plain", base)
    if stem in ("character", "character varying") and not kind.endswith("[]"):
        return Column(name, pg_type, pa.string(), "plain", base)
    if kind in ("jsonb", "json"):
        return Column(name, pg_type, pa.string(), "plain", base)
    if kind == "uuid":
        return Column(name, pg_type, pa.binary(16), "uuid", base)
    match = _NUMERIC.fullmatch(kind)
    if match and int(match[1]) <= 38 and int(match[2]) <= int(match[1]):
        return Column(name, pg_type, pa.decimal128(int(match[1]), int(match[2])), "plain", base)
    if kind.endswith("[]") and not kind.endswith("[][]"):
        element = re.sub(r"\(.*\)", "", kind[:-2])
        if element in ("text", "character varying"):
            return Column(name, pg_type, pa.list_(pa.string()), "text_list", base)
        if element in _JSON_ELEMENTS:
            return Column(name, pg_type, pa.list_(_scalars()[element]), "json_list", base)
    return Column(name, pg_type, pa.string(), "text", base)


def columns_for(pg_types: dict[str, str], bases: dict[str, str] | None = None) -> list[Column]:
    bases = bases or {}
    return [column_for(n, t, bases.get(n)) for n, t in pg_types.items()]


def day_field(names) -> str:
    """The name of the archive's day column for a table with these columns (module doc)."""
    name = DAY
    while name in names:
        name = "_" + name
    return name


def arrow_schema(table: str, columns: list[Column]) -> pa.Schema:
    fields = [pa.field(c.name, c.arrow_type) for c in columns]
    fields.append(pa.field(day_field({c.name for c in columns}), pa.date32()))
    meta = {PG_TYPES_META: json.dumps({c.name: c.pg_type for c in columns}).encode(),
            TABLE_META: table.encode()}
    bases = {c.name: c.base for c in columns if c.base}
    if bases:
        meta[BASE_TYPES_META] = json.dumps(bases).encode()
    return pa.schema(fields, metadata=meta)


def pg_types_of(schema: pa.Schema) -> dict[str, str]:
    meta = schema.metadata or {}
    if PG_TYPES_META not in meta:
        raise ArchiveFormatError(
            "the file carries no persys.pg_types metadata: not a persys archive")
    return json.loads(meta[PG_TYPES_META])


def base_types_of(schema: pa.Schema) -> dict[str, str]:
    """Column → the type its values are read as: its domain's base type, else its own."""
    meta = schema.metadata or {}
    return pg_types_of(schema) | json.loads(meta.get(BASE_TYPES_META, b"{}"))


def day_of(schema: pa.Schema) -> str:
    """The file's day column: the one field that is not a table column (`_day` in a table
    that records no columns)."""
    if PG_TYPES_META not in (schema.metadata or {}):
        return DAY
    return day_field(pg_types_of(schema))
