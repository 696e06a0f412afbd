"""Rows of a table for a day range, from whichever tiers hold them.

A day's rows may live in core (recent), main (months to years) or, later, the archive. Callers
ask for days, never for a tier: `read(tiers, "transactions", first, last)` (`tiers`: a
`TieredReader`, built from persys.yaml by handles.tiered_reader) returns one DataFrame
with a `day` column (the row's day, from `tables.day_expression`), deduplicated by primary key
preferring the earliest source (core, then main, then the archive's Parquet files), so a row
caught mid-move is counted once.

Sources are tried in `sources(tiers)` order (the archive source: lib/archive_reader.py).
Values come as psycopg gives them, except dates and timestamps Python cannot hold (±infinity,
BC, five-digit years): their PostgreSQL text (pg/values.py), from every tier alike. A row
whose own day is such a value has no place on the calendar (`tables.placeable`): it is read
with the undated rows, its `day` None.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import psycopg
from psycopg import sql

from ..config import TablePolicy
from ..errors import TierError
from ..lazy import lazy_module
from ..pg import values
from ..pg.catalog import ident, primary_key, query_columns, table_exists
from ..pg.guard import guarded
from ..pg.schema import TABLES_BY_NAME
from ..pg.tables import day_sql, only_when_condition, placeable
from ..pg.tiers import PgTier
from .frames import rows_frame

pd = lazy_module("pandas")

DAY = "day"  # name of the computed day column in every result


@dataclass(frozen=True)
class Request:
    """What to read: rows of `table` whose day is in [first_day, last_day] (None: open end).

    `include_undated` adds the rows the lifecycle never moves (day null or `only_when` false,
    e.g. open tasks), which live in core. `day_columns` adds more local-day columns
    (alias → timestamptz/date column), computed the same way as the policy's day.
    """

    table: str
    policy: TablePolicy
    first_day: dt.date | None
    last_day: dt.date | None
    zone: str
    columns: tuple[str, ...] | None = None
    day_columns: tuple[tuple[str, str], ...] = ()
    include_undated: bool = False
    key: tuple[str, ...] = ()  # columns every source returns: the row's identity
    # equality filters (column, value), bound as parameters; archive rows are filtered after
    filters: tuple[tuple[str, object], ...] = ()
    # alias → SQL expression over the table's columns (checked by config.sources at load)
    expressions: tuple[tuple[str, str], ...] = ()
    # with expressions: they run read-only with this statement timeout (pg.guard)
    timeout_s: float | None = None


class Source(Protocol):
    """One place rows live. Returns None when it does not hold the table at all. A source may
    also have `session()`, a context manager giving the copy one `read` call uses (sharing a
    connection, what the catalog or a manifest said)."""

    name: str

    def read(self, request: Request) -> pd.DataFrame | None: ...

    def primary_key(self, table: str) -> list[str] | None: ...


class ReaderError(TierError):
    """The request cannot be served (unknown table, unknown column); the message says why."""


@dataclass(frozen=True)
class PostgresSource:
    """A PostgreSQL tier (core or main). Within `session()` every call shares one connection
    and learns a table's columns and key once: opening a connection costs more than reading
    a day's rows, and on a new connection each catalog question costs about a millisecond.
    (A session is one `read` call: a schema change between calls is seen.)"""

    tier: PgTier
    conn: psycopg.Connection | None = None
    known: dict[tuple[str, str], object] | None = None  # (what, table) → answer, per session

    @property
    def name(self) -> str:
        return self.tier.name

    @contextlib.contextmanager
    def session(self) -> Iterator[PostgresSource]:
        with self.tier.connect(autocommit=True) as conn:
            values.use_lenient(conn)
            yield dataclasses.replace(self, conn=conn, known={})

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if self.conn is not None:
            yield self.conn
        else:
            with self.tier.connect(autocommit=True) as conn:
                values.use_lenient(conn)
                yield conn

    def _columns(self, conn: psycopg.Connection, table: str) -> dict[str, str] | None:
        return self._once(("columns", table), lambda: query_columns(conn, table))

    def _once(self, what: tuple[str, str], ask):
        if self.known is None:
            return ask()
        if what not in self.known:
            self.known[what] = ask()
        return self.known[what]

    def read(self, request: Request) -> pd.DataFrame | None:
        with self._connection() as conn:
            columns = self._columns(conn, request.table)
            if columns is None:
                return None
            query, params = _select(columns, request)
            with contextlib.ExitStack() as stack:
                if request.expressions:  # the person's SQL: read-only, bounded
                    stack.enter_context(guarded(conn, request.timeout_s))
                with conn.cursor() as cur:
                    cur.execute(query, params)
                    names = [d.name for d in cur.description]
                    return rows_frame(cur.fetchall(), names)

    def primary_key(self, table: str) -> list[str] | None:
        with self._connection() as conn:
            if self._columns(conn, table) is None:
                return None
            return self._once(("key", table), lambda: primary_key(conn, table))


@dataclass(frozen=True)
class TieredReader:
    """What a cross-tier read needs, and nothing of the config besides: the two PostgreSQL
    tiers, the archive as a source (archive/reader.ArchiveSource), the tables' policies
    (persys.yaml `tables:`), the zone that makes a timestamp a day, and the statement timeout
    a person's SQL expression runs under (`daily.statement_timeout_s`)."""

    core: PgTier
    main: PgTier
    archive: Source
    tables: Mapping[str, TablePolicy]
    zone: str
    timeout_s: float | None = None


def sources(tiers: TieredReader) -> list[Source]:
    """Where rows live, in order of preference (the first copy of a primary key wins)."""
    return [PostgresSource(tiers.core), PostgresSource(tiers.main), tiers.archive]


def policy_for(tables: Mapping[str, TablePolicy], table: str) -> TablePolicy:
    """The table's lifecycle policy (`tables`: persys.yaml's); a personal table not in
    persys.yaml stays in core."""
    if table in tables:
        return tables[table]
    if table in TABLES_BY_NAME:
        return TablePolicy(day_column=TABLES_BY_NAME[table].day_column, core_days=0)
    raise ReaderError(
        f"table {table!r} is neither in persys.yaml `tables:` nor a persys table; add "
        f"tables.{table} with its day_column"
    )


def read(
    tiers: TieredReader,
    table: str,
    first_day: dt.date | None,
    last_day: dt.date | None,
    *,
    columns: Sequence[str] | None = None,
    day_columns: Mapping[str, str] | None = None,
    include_undated: bool = False,
    from_sources: Sequence[Source] | None = None,
    filters: Mapping[str, object] | None = None,
    expressions: Mapping[str, str] | None = None,
    policy: TablePolicy | None = None,
) -> pd.DataFrame:
    """The table's rows for the days, from every source, once each (see module docstring).

    `filters` keep rows whose column equals the value; `expressions` add computed columns
    (alias → SQL), evaluated by PostgreSQL: in the tier's query, or for archived rows by main
    over those rows. `policy` reads a table persys.yaml does not list, as if it did. One
    connection per tier serves every query of the call."""
    with contextlib.ExitStack() as stack:
        srcs = [stack.enter_context(s.session()) if hasattr(s, "session") else s
                for s in (from_sources if from_sources is not None else sources(tiers))]
        return _read(tiers, table, first_day, last_day, srcs, columns=columns,
                     day_columns=day_columns, include_undated=include_undated,
                     filters=filters, expressions=expressions, policy=policy)


def _read(tiers: TieredReader, table: str, first_day: dt.date | None, last_day: dt.date | None,
          srcs: list[Source], *, columns: Sequence[str] | None,
          day_columns: Mapping[str, str] | None, include_undated: bool,
          filters: Mapping[str, object] | None, expressions: Mapping[str, str] | None,
          policy: TablePolicy | None) -> pd.DataFrame:
    # A row's identity is the union of the tiers' primary keys (a partitioned core table has
    # the day in its key, main may not). With chosen columns every source must return it;
    # with all columns it comes along anyway and is asked for only if rows need deduplicating.
    key = _identity(table, srcs) if columns is not None else []
    request = Request(
        table=table,
        policy=policy or policy_for(tiers.tables, table),
        first_day=first_day,
        last_day=last_day,
        zone=tiers.zone,
        columns=tuple(columns) if columns is not None else None,
        day_columns=tuple((day_columns or {}).items()),
        include_undated=include_undated,
        key=tuple(key),
        filters=tuple((filters or {}).items()),
        expressions=tuple((expressions or {}).items()),
        timeout_s=tiers.timeout_s,
    )
    found: list[pd.DataFrame] = []
    for source in srcs:
        frame = source.read(request)
        if frame is not None and not isinstance(source, PostgresSource):
            frame = _in_python(tiers.main, request, frame)
        if frame is not None:
            found.append(frame)
    if not found:
        raise ReaderError(f"table {table} exists in no tier; run `persys setup`")
    frames = [f for f in found if len(f)] or found[:1]
    if len(frames) == 1:
        return frames[0]
    rows = pd.concat(frames, ignore_index=True)
    key = key or _identity(table, srcs)
    return rows.drop_duplicates(subset=key, keep="first", ignore_index=True) if key else rows


def _identity(table: str, srcs: list[Source]) -> list[str]:
    """The union of the sources' primary keys of `table`, in order of first appearance."""
    key: list[str] = []
    for source in srcs:
        key.extend(c for c in source.primary_key(table) or [] if c not in key)
    return key


def _in_python(main: PgTier, request: Request, frame: pd.DataFrame) -> pd.DataFrame:
    """Filters and expressions for rows that came from a file (the archive), not a query;
    `main` computes the expressions (`evaluate`)."""
    for column, value in request.filters:
        if column in frame.columns and len(frame):
            frame = frame[frame[column].map(lambda v, want=value: _equal(v, want))]
    frame = frame.reset_index(drop=True)
    if not request.expressions:
        return frame
    if not len(frame):
        return frame.assign(**{alias: pd.Series(dtype=object) for alias, _ in request.expressions})
    return evaluate(main, request.table, frame, request.expressions,
                    timeout_s=request.timeout_s)


def _equal(value: object, want: object) -> bool:
    if isinstance(value, str) or isinstance(want, str):
        return str(value).rstrip() == str(want).rstrip()  # char(n) pads with spaces
    return value == want


def evaluate(tier: PgTier, table: str, frame: pd.DataFrame,
             expressions: Sequence[tuple[str, str]], *, timeout_s: float | None = None
             ) -> pd.DataFrame:
    """Add the expressions' values to rows that are not in a table: PostgreSQL computes them
    over the rows as `table`'s row type (so a value means in the archive what it means in
    core), via one `jsonb_populate_recordset` query, read-only with `timeout_s`."""
    plain = frame.drop(columns=[DAY], errors="ignore").astype(object)
    plain = plain.where(plain.notna(), None)  # NaN is not JSON
    records = json.dumps(plain.to_dict("records"), default=str)
    fields = sql.SQL(", ").join(
        sql.SQL("({}) as {}").format(sql.SQL(expr.replace("%", "%%")), sql.Identifier(alias))
        for alias, expr in expressions)
    query = sql.SQL("select {} from jsonb_populate_recordset(null::{}, %s::jsonb) "
                    "with ordinality as r order by ordinality").format(
        fields, ident(table))
    with tier.connect() as conn:
        if not table_exists(conn, table):
            raise ReaderError(f"archived rows of {table} need its table in main to compute "
                              f"{', '.join(a for a, _ in expressions)}; run `persys setup`")
        with guarded(conn, timeout_s):  # the person's SQL: read-only, bounded
            values = conn.execute(query, (records,)).fetchall()
    out = frame.copy()
    for i, (alias, _) in enumerate(expressions):
        out[alias] = [v[i] for v in values]
    return out


def _select(available: dict[str, str], request: Request) -> tuple[sql.Composable, list]:
    """select <columns>, <day> as day[, <extra days>] from t where <day range> [or undated]
    [and filters]; the filters' values are parameters."""
    wanted = list(request.columns) if request.columns is not None else list(available)
    # The key always comes along: it is what deduplicates rows across tiers.
    for column in request.key:
        if column not in wanted:
            wanted.append(column)
    unknown = [c for c in wanted if c not in available]
    if unknown:
        raise ReaderError(
            f"table {request.table} has no column {', '.join(map(repr, unknown))} "
            f"(columns: {', '.join(available)})"
        )
    day = day_sql(request.table, request.policy, request.zone, available)
    fields: list[sql.Composable] = [sql.Identifier(c) for c in wanted if c != DAY]
    fields.append(sql.SQL("case when {} then {} end as {}").format(
        placeable(day), day, sql.Identifier(DAY)))
    for alias, column in request.day_columns:
        extra = request.policy.model_copy(update={"day_column": column})
        expr = day_sql(request.table, extra, request.zone, available)
        fields.append(sql.SQL("{} as {}").format(expr, sql.Identifier(alias)))
    for alias, text in request.expressions:  # `%` doubled: the query has parameters
        fields.append(sql.SQL("({}) as {}").format(sql.SQL(text.replace("%", "%%")),
                                                   sql.Identifier(alias)))

    in_range: list[sql.Composable] = [placeable(day)]
    if request.first_day is not None:
        in_range.append(sql.SQL("{} >= {}").format(day, sql.Literal(request.first_day)))
    if request.last_day is not None:
        in_range.append(sql.SQL("{} <= {}").format(day, sql.Literal(request.last_day)))
    dated = sql.SQL(" and ").join([only_when_condition(request.policy), *in_range])
    where = (
        sql.SQL("({dated}) or {day} is null or not {placed} or not ({cond})").format(
            dated=dated, day=day, placed=placeable(day), cond=only_when_condition(request.policy)
        )
        if request.include_undated
        else dated
    )
    missing = [c for c, _ in request.filters if c not in available]
    if missing:
        raise ReaderError(f"table {request.table} has no column {', '.join(map(repr, missing))}"
                          f" to filter on (columns: {', '.join(available)})")
    params = [v for _, v in request.filters]
    if request.filters:
        where = sql.SQL("({}) and {}").format(where, sql.SQL(" and ").join(
            sql.SQL("{} = %s").format(sql.Identifier(c)) for c, _ in request.filters))
    query = sql.SQL("select {} from {} where {}").format(
        sql.SQL(", ").join(fields), ident(request.table), where)
    return query, params
