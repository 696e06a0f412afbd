"""PostgreSQL rows ↔ Arrow ↔ Parquet, exact for every value of every type.

Export streams `COPY (select ...) TO STDOUT (FORMAT csv)` into Arrow's multithreaded CSV
parser with an explicit typed schema (the fast path: no Python object per value). Types that
CSV cannot carry natively are shaped in SQL and finished vectorised (decode.py):
- `uuid` → 16-byte fixed binary (half the size of its text; decoded with numpy);
- `text[]` → PostgreSQL's array text, split on commas in Arrow (quoted elements: parsed row by
  row); arrays of other simple types → `array_to_json` → Arrow list via the JSON reader, so
  NULL elements, quotes and commas survive;
- `numeric(p,s)` → decimal128(p,s); `timestamptz` → timestamp[us, UTC]; `jsonb` → its text.
Any other type, and a typed column in a month holding a value its Arrow type cannot keep
(columns.py: ±infinity, BC and five-digit years, numeric NaN, array bounds and dimensions), is
kept as its PostgreSQL text form, which PostgreSQL reads back exactly. What cannot be kept
even so (text that is not UTF-8, in a SQL_ASCII database) is refused before anything moves,
naming table, key, column and value (`ArchiveFormatError`).
A day column (`columns.day_field`: the row's day, `tables.day_expression`) is added: rows are
sorted by it and readers filter on it through the row-group statistics.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from ..lazy import lazy_module
from ..pg.catalog import domain_bases
from ..pg.copy_out import copy_out_bytes
from ..pg.session import pin_session
from .columns import (  # noqa: F401  (the format's names, used through this module)
    DAY,
    PG_TYPES_META,
    TABLE_META,
    Column,
    arrow_schema,
    base_types_of,
    column_for,
    columns_for,
    day_field,
    day_of,
    pg_types_of,
)
from .decode import (  # noqa: F401
    ArchiveFormatError,
    json_lists,
    parse_text_array,
    text_lists,
    uuid_text_to_binary,
)

np, pa, pc = lazy_module("numpy"), lazy_module("pyarrow"), lazy_module("pyarrow.compute")
pacsv, pq = lazy_module("pyarrow.csv"), lazy_module("pyarrow.parquet")

SAMPLE_ROWS = 16384  # rows looked at to choose dictionary or plain encoding
FLAG_BITS = 63  # guarded columns per flags column (a bigint)


# ---------------------------------------------------------------------------------------------
# Export: COPY → Arrow


def export_arrow(conn: psycopg.Connection, table: str, pg_types: dict[str, str], *,
                 rows: sql.Composable, day: sql.Composable,
                 key: list[str] | None = None) -> pa.Table:
    """`select <columns>, <day> from <rows>` through COPY csv into Arrow, every value exact.

    The typed path is tried first; a column of which a row holds a value its Arrow type cannot
    keep (refused by the parse, or flagged per row by `Column.guard` in the same query) is
    read again as text, in the same transaction: call this in a REPEATABLE READ transaction,
    whose snapshot decides the rows of every read. The session's text forms are pinned for
    the transaction. A value that cannot be kept at all raises `ArchiveFormatError` naming
    the row by `key`.
    """
    pin_session(conn, local=True)
    columns = columns_for(pg_types, domain_bases(conn, table))
    for _ in range(len(columns) + 1):
        try:
            data, hostile = _export_once(conn, table, columns, rows, day)
        except _BadColumn as bad:
            suspects = columns if bad.index is None else [columns[bad.index]]
            if bad.index is None or suspects[0].how == "text":
                raise refusal(conn, table, suspects, rows, key or [], bad.reason) from None
            hostile = {suspects[0].name}
        if not hostile:
            return data
        columns = [c.as_text() if c.name in hostile else c for c in columns]
    raise ArchiveFormatError(f"{table}: no exact form found for its columns")  # not reached


class _BadColumn(ArchiveFormatError):  # an internal signal: never leaves this module
    """A value of column `index` (None: of some column) could not be read."""

    def __init__(self, index: int | None, reason: str):
        super().__init__(reason)
        self.index, self.reason = index, reason


def _export_once(conn: psycopg.Connection, table: str, columns: list[Column],
                 rows: sql.Composable, day: sql.Composable) -> tuple[pa.Table, set[str]]:
    """One read: (the rows as typed Arrow, columns a row flagged as needing their text)."""
    guarded = [c for c in columns if c.guard() is not None]
    flags = [sql.SQL(" | ").join(
        sql.SQL("(coalesce({}, false)::int::bigint << {})").format(c.guard(), sql.Literal(bit))
        for bit, c in enumerate(guarded[start:start + FLAG_BITS]))
        for start in range(0, len(guarded), FLAG_BITS)]
    query = sql.SQL("select {} from {}").format(sql.SQL(", ").join(
        [c.select() for c in columns] + [day] + flags), rows)
    try:
        with conn.transaction():  # a savepoint: the snapshot stays usable after an error
            data = copy_out_bytes(conn, sql.SQL("copy ({}) to stdout (format csv)").format(
                query))
    except (psycopg.errors.CharacterNotInRepertoire,
            psycopg.errors.UntranslatableCharacter) as exc:  # text that is not UTF-8
        raise _BadColumn(None, str(exc).splitlines()[0]) from None
    if not data:
        return arrow_schema(table, columns).empty_table(), set()
    raw = _read_csv(pa.py_buffer(data), table, columns, len(flags))
    hostile: set[str] = set()
    for i in range(len(flags)):
        bits = int(np.bitwise_or.reduce(raw.column(f"f{i}").to_numpy(), initial=0))
        hostile |= {c.name for b, c in enumerate(guarded[i * FLAG_BITS:(i + 1) * FLAG_BITS])
                    if bits >> b & 1}
    if hostile:
        return raw, hostile
    return pa.Table.from_batches([_typed(raw, table, columns)]), set()


def _typed(raw: pa.Table, table: str, columns: list[Column]) -> pa.RecordBatch:
    """CSV columns → one typed record batch (uuid → 16 bytes, arrays → lists); an array a
    list cannot keep raises `_BadColumn` (its column then goes as text)."""
    arrays = []
    for i, col in enumerate(columns):
        values = raw.column(f"c{i}").combine_chunks()
        where = f"{table}.{col.name}"
        try:
            if col.how == "uuid":
                values = uuid_text_to_binary(values, where)
            elif col.how == "text_list":
                values = text_lists(values, where)
            elif col.how == "json_list":
                values = json_lists(values, col.arrow_type, where)
        except ArchiveFormatError as exc:
            raise _BadColumn(i, str(exc)) from None
        arrays.append(values)
    arrays.append(raw.column("d").combine_chunks())
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(table, columns))


_CSV_COLUMN = re.compile(r"In CSV column #(\d+)")


def _read_csv(data, table: str, columns: list[Column], flags: int) -> pa.Table:
    """Arrow's CSV reader over the COPY output, with blocks big enough for the longest row.

    Arrow parses 1 MiB blocks in parallel, and a row must fit in one block: a longer row
    (a big journal body, a photo in bytea) fails with "straddling object straddles two block
    boundaries". The length of the longest row is not known without a second pass (quoted
    values may hold newlines), so the read is tried again with 8× bigger blocks, up to one
    block for all the data: months of ordinary rows keep the fast path, any row fits.
    Columns are named by position (`c0`…, the day `d`, flags `f0`…): no table column name can
    collide with them. A value Arrow rejects raises `_BadColumn` with its column.
    """
    names = [f"c{i}" for i in range(len(columns))] + ["d"] + [f"f{i}" for i in range(flags)]
    types = ({f"c{i}": c.csv_type for i, c in enumerate(columns)} | {"d": pa.date32()}
             | {f"f{i}": pa.int64() for i in range(flags)})
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
            if bigger is not None:
                block = bigger
                continue
            where = _CSV_COLUMN.search(str(exc))
            if where and int(where[1]) < len(columns):
                raise _BadColumn(int(where[1]), str(exc)) from None
            raise ArchiveFormatError(
                f"{table}: the export could not be read ({exc}); the month stays in main "
                "(nothing deleted); report this with the table's definition") from None


def refusal(conn: psycopg.Connection, table: str, suspects: list[Column],
            rows: sql.Composable, key: list[str], reason: str) -> ArchiveFormatError:
    """The error for a value even its text form cannot carry, naming the first such row by
    its key, the column and the value: text that is not UTF-8, which a SQL_ASCII database
    stores (read here as raw bytes, `::text::bytea`, which no encoding check stops)."""
    shown = key or [suspects[0].name]
    raw = [sql.SQL("{}::text::bytea").format(sql.Identifier(c)) for c in shown] + [
        sql.SQL("{}::text::bytea").format(sql.Identifier(c.name)) for c in suspects]
    with conn.cursor() as cur:
        for found in cur.execute(sql.SQL("select {} from {}").format(sql.SQL(", ").join(raw),
                                                                      rows)):
            keys, values = found[:len(shown)], found[len(shown):]
            for column, value in zip(suspects, values, strict=True):
                if value is not None and not _utf8(value):
                    return ArchiveFormatError(
                        f"{table}: row ({', '.join(shown)})=({', '.join(map(_text, keys))}) "
                        f"has {column.name} = {_text(value)[:60]}, which the archive cannot "
                        "keep exactly (not UTF-8 text); the month stays in main, nothing was "
                        "deleted. Fix the value (or convert the database to UTF-8) and run "
                        "again")
    return ArchiveFormatError(
        f"{table}: a value of {', '.join(c.name for c in suspects)} cannot be kept exactly "
        f"({reason}); the month stays in main, nothing was deleted")


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text(value: bytes | None) -> str:
    return "NULL" if value is None else value.decode("utf-8", "backslashreplace")


BLOCK_BYTES = 1 << 20  # Arrow's parallel CSV block; grown only for a month with longer rows
MAX_BLOCK_BYTES = (1 << 31) - 1  # Arrow's block_size is a 32-bit int


def _bigger_block(block: int, size: int) -> int | None:
    """The next block size to try (8×, at most all the data in one block), None at the end."""
    ceiling = min(size + 1, MAX_BLOCK_BYTES)
    return None if block >= ceiling else min(block * 8, ceiling)


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
        row_group_size=row_group_rows, data_page_size=1 << 20,
        write_statistics=[day_of(table.schema)], write_page_index=False,
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


def same_rows(a: pa.Table, b: pa.Table) -> bool:
    """Equal value for value, bit for bit: a NaN equals the same NaN (Arrow's `equals` says
    NaN != NaN, so a month with one would never verify), and -0 differs from 0."""
    if a.num_rows != b.num_rows or not a.schema.equals(b.schema):
        return False
    return all(_bits(x).equals(_bits(y)) for x, y in zip(a.columns, b.columns, strict=True))


def _bits(column: pa.ChunkedArray) -> pa.Array:
    """Floats (and lists of floats) viewed as integers of their width; other types as they are."""
    array = column.combine_chunks()
    kind = array.type
    as_int = {16: pa.int16(), 32: pa.int32(), 64: pa.int64()}
    if pa.types.is_floating(kind):
        return array.view(as_int[kind.bit_width])
    if pa.types.is_list(kind) and pa.types.is_floating(kind.value_type):
        return array.view(pa.list_(as_int[kind.value_type.bit_width]))
    return array


# ---------------------------------------------------------------------------------------------
# Restore: Arrow → rows for COPY FROM (text format, so PostgreSQL parses every type itself)


def python_rows(table: pa.Table, pg_types: dict[str, str]):
    """Row tuples in table-column order, values as psycopg adapts them to the PostgreSQL type."""
    import uuid as uuid_mod

    columns = []
    for name in pg_types:
        values = table.column(name).to_pylist()
        if pa.types.is_fixed_size_binary(table.schema.field(name).type):  # a uuid
            values = [None if v is None else uuid_mod.UUID(bytes=v) for v in values]
        columns.append(values)
    return zip(*columns, strict=True) if columns else iter(())
