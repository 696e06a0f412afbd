"""PostgreSQL rows ↔ Arrow ↔ Parquet, exact for the types persys tables use.

Export streams `COPY (select ...) TO STDOUT (FORMAT csv)` into Arrow's multithreaded CSV
parser with an explicit typed schema (the fast path: no Python object per value). Types that
CSV cannot carry natively are shaped in SQL and finished vectorised:
- `uuid` → 16-byte fixed binary (half the size of its text; decoded with numpy);
- `text[]` → PostgreSQL's array text, split on commas in Arrow (quoted elements: parsed row by
  row); arrays of other simple types → `array_to_json` → Arrow list via the JSON reader, so
  NULL elements, quotes and commas survive;
- `numeric(p,s)` → decimal128(p,s); `timestamptz` → timestamp[us, UTC]; `jsonb` → its text.
Any other type is kept as its PostgreSQL text form, which PostgreSQL reads back exactly.
The PostgreSQL type of every column is stored in the file (`persys.pg_types`), so a restore
needs nothing but the file. A `_day` column (the row's day, `tables.day_expression`) is added:
rows are sorted by it and readers filter on it through the row-group statistics.
"""

from __future__ import annotations

import functools
import io
import json
import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..errors import ArchiveError
from ..lazy import lazy_module
from ..pg.copy_out import copy_out_bytes
from ..pg.session import pin_session

np, pa, pc = lazy_module("numpy"), lazy_module("pyarrow"), lazy_module("pyarrow.compute")
pacsv, pajson, pq = (lazy_module(f"pyarrow.{name}") for name in ("csv", "json", "parquet"))

DAY = "_day"
PG_TYPES_META = b"persys.pg_types"
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
SAMPLE_ROWS = 16384  # rows looked at to choose dictionary or plain encoding


class ArchiveFormatError(ArchiveError):
    """A column or value cannot be archived or restored as typed; names table and column."""


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    arrow_type: pa.DataType
    how: str  # plain | uuid | text_list | json_list | text (PostgreSQL text form as a string)

    def select(self) -> sql.Composable:
        ident = sql.Identifier(self.name)
        if self.how == "json_list":
            return sql.SQL("array_to_json({})::text").format(ident)
        if self.how in ("uuid", "text", "text_list") or self.pg_type in ("jsonb", "json"):
            return sql.SQL("{}::text").format(ident)
        return ident

    @property
    def csv_type(self) -> pa.DataType:
        return self.arrow_type if self.how == "plain" else pa.string()


def column_for(name: str, pg_type: str) -> Column:
    base = re.sub(r"\(.*\)", "", pg_type)
    if pg_type in _scalars():
        return Column(name, pg_type, _scalars()[pg_type], "plain")
    if base in ("character", "character varying") and not pg_type.endswith("[]"):
        return Column(name, pg_type, pa.string(), "plain")
    if pg_type in ("jsonb", "json"):
        return Column(name, pg_type, pa.string(), "plain")
    if pg_type == "uuid":
        return Column(name, pg_type, pa.binary(16), "uuid")
    match = _NUMERIC.fullmatch(pg_type)
    if match and int(match[1]) <= 38:
        return Column(name, pg_type, pa.decimal128(int(match[1]), int(match[2])), "plain")
    if pg_type.endswith("[]") and not pg_type.endswith("[][]"):
        element = re.sub(r"\(.*\)", "", pg_type[:-2])
        if element in ("text", "character varying"):
            return Column(name, pg_type, pa.list_(pa.string()), "text_list")
        if element in _JSON_ELEMENTS:
            return Column(name, pg_type, pa.list_(_scalars()[element]), "json_list")
    return Column(name, pg_type, pa.string(), "text")


def columns_for(pg_types: dict[str, str]) -> list[Column]:
    return [column_for(n, t) for n, t in pg_types.items()]


def arrow_schema(table: str, columns: list[Column]) -> pa.Schema:
    fields = [pa.field(c.name, c.arrow_type) for c in columns] + [pa.field(DAY, pa.date32())]
    meta = {PG_TYPES_META: json.dumps({c.name: c.pg_type for c in columns}).encode(),
            TABLE_META: table.encode()}
    return pa.schema(fields, metadata=meta)


# ---------------------------------------------------------------------------------------------
# Export: COPY → Arrow


def export_arrow(conn: psycopg.Connection, table: str, columns: list[Column],
                 query: sql.Composable) -> pa.Table:
    """Run `query` (selecting `Column.select()`s then the day) through COPY csv into Arrow.

    The caller's transaction decides the snapshot; the session's TimeZone and DateStyle are
    pinned for the transaction so the text forms are the ones parsed here.
    """
    pin_session(conn, local=True)
    data = copy_out_bytes(conn, sql.SQL("copy ({}) to stdout (format csv)").format(query))
    if not data:
        return arrow_schema(table, columns).empty_table()
    return pa.Table.from_batches([_parse_csv(pa.py_buffer(data), table, columns)])


def _parse_csv(data, table: str, columns: list[Column]) -> pa.RecordBatch:
    """CSV rows → one typed record batch (uuid → 16 bytes, arrays → lists)."""
    raw = _read_csv(data, table, columns)
    arrays = []
    for col in columns:
        values = raw.column(col.name).combine_chunks()
        if col.how == "uuid":
            values = uuid_text_to_binary(values, f"{table}.{col.name}")
        elif col.how == "text_list":
            values = text_lists(values, f"{table}.{col.name}")
        elif col.how == "json_list":
            values = json_lists(values, col.arrow_type, f"{table}.{col.name}")
        arrays.append(values)
    arrays.append(raw.column(DAY).combine_chunks())
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(table, columns))


def _read_csv(data, table: str, columns: list[Column]) -> pa.Table:
    """Arrow's CSV reader over the COPY output, with blocks big enough for the longest row.

    Arrow parses 1 MiB blocks in parallel, and a row must fit in one block: a longer row
    (a big journal body, a photo in bytea) fails with "straddling object straddles two block
    boundaries". The length of the longest row is not known without a second pass (quoted
    values may hold newlines), so the read is tried again with 8× bigger blocks, up to one
    block for all the data: months of ordinary rows keep the fast path, any row fits.
    """
    names = [c.name for c in columns] + [DAY]
    types = {c.name: c.csv_type for c in columns} | {DAY: pa.date32()}
    block = BLOCK_BYTES
    while True:
        try:
            with pa.BufferReader(data) as source:  # closed now, not at interpreter exit
                return pacsv.read_csv(
                    source,
                    read_options=pacsv.ReadOptions(column_names=names, block_size=block),
                    parse_options=pacsv.ParseOptions(newlines_in_values=True),
                    convert_options=pacsv.ConvertOptions(
                        column_types=types, null_values=[""], strings_can_be_null=True,
                        quoted_strings_can_be_null=False, true_values=["t"],
                        false_values=["f"]),
                )
        except pa.ArrowInvalid as exc:
            bigger = _bigger_block(block, len(data)) if "straddl" in str(exc) else None
            if bigger is None:
                raise ArchiveFormatError(
                    f"{table}: a value does not fit its archive type: {exc}; the month "
                    "stays in main (nothing deleted); fix or report the value") from None
            block = bigger


BLOCK_BYTES = 1 << 20  # Arrow's parallel CSV block; grown only for a month with longer rows
MAX_BLOCK_BYTES = (1 << 31) - 1  # Arrow's block_size is a 32-bit int


def _bigger_block(block: int, size: int) -> int | None:
    """The next block size to try (8×, at most all the data in one block), None at the end."""
    ceiling = min(size + 1, MAX_BLOCK_BYTES)
    return None if block >= ceiling else min(block * 8, ceiling)


@functools.cache
def _hex_values():
    """ASCII byte → its hex digit's value, 255 for anything else."""
    table = np.full(256, 255, np.uint8)
    for digits, first in ((b"0123456789", 0), (b"abcdef", 10), (b"ABCDEF", 10)):
        table[np.frombuffer(digits, np.uint8)] = np.arange(first, first + len(digits))
    return table


_DASHES = [8, 13, 18, 23]


def uuid_text_to_binary(arr: pa.Array, where: str) -> pa.Array:
    """36-character uuid strings → 16-byte binary, vectorised (NULLs kept)."""
    n = len(arr)
    if n == 0:
        return pa.array([], pa.binary(16))
    filled = pc.fill_null(arr, "00000000-0000-0000-0000-000000000000") if arr.null_count else arr
    if pc.min(pc.utf8_length(filled)).as_py() != 36 or pc.max(pc.utf8_length(filled)).as_py() != 36:
        raise ArchiveFormatError(f"{where}: a uuid value is not 36 characters")
    offsets = np.frombuffer(filled.buffers()[1], np.int32)[filled.offset:filled.offset + n + 1]
    data = np.frombuffer(filled.buffers()[2], np.uint8)[offsets[0]:offsets[-1]].reshape(n, 36)
    nibbles = _hex_values()[np.delete(data, _DASHES, axis=1)]
    if (nibbles == 255).any():
        raise ArchiveFormatError(f"{where}: a uuid value is not hexadecimal")
    packed = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    validity = arr.buffers()[0] if arr.null_count else None
    if validity is not None and arr.offset:
        validity = pc.is_valid(arr).buffers()[1]
    return pa.Array.from_buffers(pa.binary(16), n, [validity, pa.py_buffer(packed.tobytes())],
                                 null_count=arr.null_count)


_SIMPLE_ARRAY = r'^\{[^{}"\\]*\}$'  # no quoted element, no nesting: split on commas


def text_lists(arr: pa.Array, where: str) -> pa.Array:
    """`text[]` in PostgreSQL's array text form (`{a,b,NULL}`) → list<string>, vectorised.

    PostgreSQL quotes every element holding a comma, quote, brace, backslash or space, an
    empty string, and the word NULL; when no value has a quote the elements are split on
    commas and `NULL` is a NULL element. A column with quoted elements is parsed row by row.
    """
    if len(arr) == 0:
        return pa.array([], pa.list_(pa.string()))
    if pc.all(pc.match_substring_regex(arr, _SIMPLE_ARRAY)).as_py() is not False:
        inner = pc.utf8_slice_codeunits(arr, 1, -1)
        inner = pc.if_else(pc.equal(inner, ""), pa.scalar(None, pa.string()), inner)
        split = pc.split_pattern(inner, ",")
        lengths = pc.fill_null(pc.list_value_length(split), 0).to_numpy(zero_copy_only=False)
        offsets = np.zeros(len(arr) + 1, np.int32)
        np.cumsum(lengths, out=offsets[1:])
        values = pc.list_flatten(split)
        values = pc.if_else(pc.equal(values, "NULL"), pa.scalar(None, pa.string()), values)
        mask = pc.is_null(arr) if arr.null_count else None
        return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)
    return pa.array([None if v is None else parse_text_array(v, where) for v in arr.to_pylist()],
                    pa.list_(pa.string()))


def parse_text_array(text: str, where: str) -> list[str | None]:
    """One-dimensional PostgreSQL array text → its elements (quotes, escapes, NULL)."""
    if text.startswith("["):  # explicit bounds, e.g. [0:1]={a,b}
        text = text[text.index("=") + 1:]
    if not (text.startswith("{") and text.endswith("}")):
        raise ArchiveFormatError(f"{where}: {text[:40]!r} is not an array value")
    out: list[str | None] = []
    i, end = 1, len(text) - 1
    while i < end:
        if text[i] == '"':
            i += 1
            chars = []
            while text[i] != '"':
                if text[i] == "\\":
                    i += 1
                chars.append(text[i])
                i += 1
            out.append("".join(chars))
            i += 1
        else:
            j = text.find(",", i)
            j = end if j < 0 else j
            token = text[i:j]
            if "{" in token:
                raise ArchiveFormatError(f"{where}: multi-dimensional arrays are not archived")
            out.append(None if token == "NULL" else token)
            i = j
        i += 1  # the comma
    return out


def json_lists(arr: pa.Array, arrow_type: pa.DataType, where: str) -> pa.Array:
    """JSON array texts (`array_to_json`) → an Arrow list column via the JSON reader."""
    if len(arr) == 0:
        return pa.array([], arrow_type)
    lines = pc.binary_join_element_wise('{"v":', arr, "}\n", "")
    if lines.null_count:
        lines = pc.fill_null(lines, '{"v":null}\n')
    n = len(lines)
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset:lines.offset + n + 1]
    body = memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]]
    try:
        parsed = pajson.read_json(
            io.BytesIO(body),
            parse_options=pajson.ParseOptions(explicit_schema=pa.schema([("v", arrow_type)]),
                                              newlines_in_values=False),
        )
    except pa.ArrowInvalid as exc:
        raise ArchiveFormatError(
            f"{where}: an array value does not fit {arrow_type}: {exc}") from None
    out = parsed.column("v").combine_chunks()
    if len(out) != len(arr):
        raise ArchiveFormatError(f"{where}: {len(out)} arrays parsed for {len(arr)} rows")
    return out


# ---------------------------------------------------------------------------------------------
# Parquet


def parquet_bytes(table: pa.Table, *, level: int, row_group_rows: int = 1 << 20) -> bytes:
    """Parquet zstd with encodings chosen per column (the file size is what the store costs).

    Low-cardinality strings get a dictionary; sorted integers, dates and timestamps
    DELTA_BINARY_PACKED; floats BYTE_STREAM_SPLIT; long free text DELTA_LENGTH_BYTE_ARRAY.
    The same table always gives the same bytes (no timestamps in the file).
    """
    dictionary: list[str] = []
    encodings: dict[str, str] = {}
    # Cardinality from the first rows (deterministic: the rows are sorted): cheap, and good
    # enough to tell labels and tags from free text and ids.
    head = table.slice(0, SAMPLE_ROWS)
    rows = max(head.num_rows, 1)
    for field in table.schema:
        kind = field.type
        col = head.column(field.name)
        if pa.types.is_string(kind) or pa.types.is_list(kind):
            distinct = pc.count_distinct(col).as_py() if pa.types.is_string(kind) else 0
            if pa.types.is_list(kind) or distinct <= max(64, rows // 4):
                dictionary.append(field.name)
            else:
                encodings[field.name] = "DELTA_LENGTH_BYTE_ARRAY"
        elif pa.types.is_integer(kind) or pa.types.is_temporal(kind):
            if pa.types.is_integer(kind) and pc.count_distinct(col).as_py() <= 64:
                dictionary.append(field.name)
            else:
                encodings[field.name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_floating(kind):
            encodings[field.name] = "BYTE_STREAM_SPLIT"
    sink = pa.BufferOutputStream()
    pq.write_table(
        table, sink, compression="zstd", compression_level=level,
        use_dictionary=dictionary or False, column_encoding=encodings or None,
        row_group_size=row_group_rows, data_page_size=1 << 20, write_statistics=[DAY],
        write_page_index=False,
    )
    return sink.getvalue().to_pybytes()


def sort_rows(table: pa.Table, keys: list[str]) -> pa.Table:
    """Rows in `keys` order (ascending, NULLs last, as PostgreSQL's ORDER BY): sorting here
    rather than in the export query keeps PostgreSQL streaming and costs a few ms a month."""
    return table.take(pc.sort_indices(table, sort_keys=[(k, "ascending", "at_end")
                                                        for k in keys]))


def read_parquet(data: bytes, filters=None, *, use_threads: bool = True) -> pa.Table:
    """The whole file as a table; the reader is closed before returning (not left to
    interpreter exit, where native Arrow state can abort the process, apache/arrow#34314)."""
    with pa.BufferReader(data) as source:
        return pq.read_table(source, filters=filters, use_threads=use_threads)


def pg_types_of(schema: pa.Schema) -> dict[str, str]:
    meta = schema.metadata or {}
    if PG_TYPES_META not in meta:
        raise ArchiveFormatError(
            "the file carries no persys.pg_types metadata: not a persys archive")
    return json.loads(meta[PG_TYPES_META])


# ---------------------------------------------------------------------------------------------
# Restore: Arrow → rows for COPY FROM (text format, so PostgreSQL parses every type itself)


def python_rows(table: pa.Table, pg_types: dict[str, str]):
    """Row tuples in table-column order, values as psycopg adapts them to the PostgreSQL type."""
    import uuid as uuid_mod

    columns = []
    for name, pg_type in pg_types.items():
        values = table.column(name).to_pylist()
        if pg_type == "uuid":
            values = [None if v is None else uuid_mod.UUID(bytes=v) for v in values]
        columns.append(values)
    return zip(*columns, strict=True) if columns else iter(())
