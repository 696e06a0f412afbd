"""The archive as a reader source (lib/reader.py): a table's archived rows for a day range.

Only committed manifest entries whose [min_day, max_day] meets the range are fetched; each is
checked (sha256, decrypted when encrypted) and read with a pyarrow filter on the `_day` column,
so row groups outside the range are skipped by their statistics. Values come out as psycopg
returns them from the PostgreSQL tiers (uuid.UUID, dict/list for jsonb, Decimal, aware
datetimes, dates, lists for arrays), so rows from every tier mix and deduplicate in one frame.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..lazy import lazy_module
from ..pg import values
from . import format as fmt
from .manifest import FileEntry, Manifest, ManifestUnreadable, load_file, read_manifest
from .stores import Store, StoreError

if TYPE_CHECKING:
    from ..pg.tiers import PgTier
    from .crypto import Keyring

pd = lazy_module("pandas")
pa = lazy_module("pyarrow")
ds = lazy_module("pyarrow.dataset")
pq = lazy_module("pyarrow.parquet")

log = logging.getLogger(__name__)

DAY = "day"  # the reader's computed day column (reader.DAY)


@dataclass(frozen=True)
class ArchiveSource:
    """Every configured archive store (primary and secondary), committed files only. Within
    `session()` (one `reader.read` call) each store's manifest of a table is read once.
    `main` holds the ledger that says whether days went to the archive (`entries`)."""

    stores: tuple[Store, ...]
    ring: Keyring
    main: PgTier
    name: str = "archive"
    manifests: dict[tuple[str, str], Manifest | StoreError] | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator[ArchiveSource]:
        yield dataclasses.replace(self, manifests={})

    def _manifest(self, store: Store, table: str) -> Manifest:
        if self.manifests is None:
            return read_manifest(store, table)
        cache_key = (store.url, table)
        if cache_key not in self.manifests:
            try:
                self.manifests[cache_key] = read_manifest(store, table)
            except (StoreError, ManifestUnreadable) as exc:
                self.manifests[cache_key] = exc
        found = self.manifests[cache_key]
        if isinstance(found, StoreError | ManifestUnreadable):
            raise found
        return found

    def entries(self, table: str, first: dt.date | None = None, last: dt.date | None = None,
                *, strict: bool = False) -> list[tuple[Store, FileEntry]]:
        """Committed files of `table`. An unreachable store is skipped with a warning, unless
        `strict` and the ledger shows days of [first, last] went to the archive: a summary
        computed without them would be wrong, so that is an error instead."""
        found = []
        for store in self.stores:
            try:
                doc = self._manifest(store, table)
            except (StoreError, ManifestUnreadable) as exc:
                if strict and archived_between(self.main, table, first, last):
                    raise StoreError(
                        f"archive store {store.url} cannot be reached ({exc}), and the ledger "
                        f"shows rows of {table} from {first or 'the start'} to "
                        f"{last or 'now'} were archived: reading without them would be wrong. "
                        "Bring the store back (`persys archive verify` checks it) and run again"
                    ) from None
                log.warning("reader: archive store %s unreachable, its %s rows are skipped: %s",
                            store.url, table, exc)
                continue
            found += [(store, e) for e in doc.committed()]
        return found

    def primary_key(self, table: str) -> list[str] | None:
        entries = self.entries(table)
        return list(entries[0][1].primary_key or []) if entries else None

    def read(self, request) -> pd.DataFrame | None:
        entries = self.entries(request.table, request.first_day, request.last_day, strict=True)
        if not entries:
            return None
        first = request.first_day.isoformat() if request.first_day else "0000"
        last = request.last_day.isoformat() if request.last_day else "9999"
        ring = self.ring
        frames = [self._read_file(store, ring, entry, request)
                  for store, entry in entries
                  if entry.min_day <= last and entry.max_day >= first]
        frames = [f for f in frames if len(f)]
        if not frames:
            return self._empty(entries[0][1], request)
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def _wanted(self, pg_types: dict[str, str], request) -> list[str]:
        wanted = list(request.columns) if request.columns is not None else list(pg_types)
        wanted += [c for c in request.key if c not in wanted]
        return [c for c in wanted if c != DAY]

    def _read_file(self, store: Store, ring, entry: FileEntry, request) -> pd.DataFrame:
        plain, _ = load_file(store, ring, entry)
        pg_types = entry.pg_types
        wanted = self._wanted(pg_types, request)
        extra = [c for _, c in request.day_columns if c in pg_types and c not in wanted]
        day = fmt.day_field(pg_types)
        columns = [c for c in wanted + extra if c in pg_types] + [day]
        data = read_days(plain, columns, request.first_day, request.last_day, day)
        pg_types = fmt.base_types_of(data.schema)  # a domain's values read as its base type's
        out = {c: frame_column(data.column(c), pg_types[c]) if c in pg_types
               else [None] * data.num_rows for c in wanted}
        out[DAY] = frame_column(data.column(day), "date")
        zone = ZoneInfo(request.zone)
        for alias, column in request.day_columns:
            values = (python_values(data.column(column), pg_types[column]) if column in pg_types
                      else [None] * data.num_rows)
            out[alias] = [local_day(v, zone) for v in values]
        return pd.DataFrame(out)

    def _empty(self, entry: FileEntry, request) -> pd.DataFrame:
        wanted = self._wanted(entry.pg_types, request)
        return pd.DataFrame(columns=[*wanted, DAY, *(a for a, _ in request.day_columns)])


def read_days(plain: bytes, columns: list[str], first: dt.date | None,
              last: dt.date | None, day: str = fmt.DAY) -> pa.Table:
    """The rows of a month file whose `_day` is in [first, last] (None: open end).

    Only row groups whose `_day` statistics meet the range are decoded. The writer sorts rows
    by `_day`, so the range is then a slice found by binary search (a file whose rows are not
    sorted is filtered instead): 1.4 ms less than a dataset filter for a day of a month.
    `day`: the file's day column (`format.day_field`)."""
    np = lazy_module("numpy")
    # closed here, not at interpreter exit (native Arrow state left to shutdown can abort
    # the process, apache/arrow#34314)
    with pa.BufferReader(plain) as source:
        parquet = pq.ParquetFile(source)
        where = parquet.schema_arrow.get_field_index(day)
        groups = [i for i in range(parquet.num_row_groups)
                  if _may_hold(parquet.metadata.row_group(i).column(where).statistics,
                               first, last)]
        data = parquet.read_row_groups(groups, columns=columns)
    if first is None and last is None:
        return data
    days = data.column(day).to_numpy()  # datetime64[D], NaT for no day
    if np.isnat(days).any() or (len(days) > 1 and (days[1:] < days[:-1]).any()):
        return data.filter(_day_range(first, last, day))
    start = 0 if first is None else int(np.searchsorted(days, np.datetime64(first, "D")))
    stop = (len(days) if last is None
            else int(np.searchsorted(days, np.datetime64(last, "D"), side="right")))
    return data.slice(start, max(stop - start, 0))


def _day_range(first: dt.date | None, last: dt.date | None, name: str = fmt.DAY):
    """The day column in [first, last] as an Arrow expression (at least one end given)."""
    day = ds.field(name)
    lower = None if first is None else day >= pa.scalar(first, pa.date32())
    upper = None if last is None else day <= pa.scalar(last, pa.date32())
    return upper if lower is None else lower if upper is None else lower & upper


def _may_hold(stats, first: dt.date | None, last: dt.date | None) -> bool:
    """Can a row group with these `_day` statistics hold a day of [first, last]?"""
    if stats is None or not stats.has_min_max:
        return True
    return (first is None or stats.max >= first) and (last is None or stats.min <= last)


def frame_column(column: pa.ChunkedArray, pg_type: str) -> pd.Series | list:
    """An archived column as the frame column psycopg's values of its PostgreSQL type make
    (what `pd.DataFrame(python_values(...))` gives, same dtype and values), converted by Arrow
    where it can: making a Python object per value is most of a day read's time."""
    kind = column.type
    if (pg_type in PYTHON_ONLY or pa.types.is_list(kind) or pa.types.is_large_list(kind)
            or pa.types.is_fixed_size_binary(kind) or pa.types.is_struct(kind)
            or (pa.types.is_string(kind) and values.needs_loader(pg_type))):
        return python_values(column, pg_type)
    if kind == pa.float32():  # psycopg reads a real's shortest text into a double: so here
        return pd.Series(column.to_numpy().astype(str).astype("float64"))
    series = column.to_pandas()
    if pa.types.is_integer(kind) and column.null_count == 0:
        return series.astype("int64")  # psycopg's ints make int64 (with a NULL: float64)
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        return series.astype("float64")
    return series


PYTHON_ONLY = {"uuid", "jsonb", "json"}  # uuid.UUID, dict/list: made one value at a time


def python_values(column: pa.ChunkedArray, pg_type: str) -> list:
    """An archived column as the Python values psycopg gives for its PostgreSQL type (a
    column the file keeps as PostgreSQL text: what psycopg gives for that text, pg/values.py)."""
    if pa.types.is_fixed_size_binary(column.type):  # a uuid
        return uuids(column)
    found = column.to_pylist()
    if pg_type in ("jsonb", "json"):
        return [None if v is None else json.loads(v) for v in found]
    if pa.types.is_string(column.type):
        return values.from_text(found, pg_type)
    return found


def uuids(column: pa.ChunkedArray) -> list[uuid.UUID | None]:
    """`uuid.UUID(bytes=v)` for each 16-byte value, at a third of the cost (a day read makes
    one per row): the archive wrote these bytes from a PostgreSQL uuid, so `UUID()`'s checks
    are skipped, its two fields set directly, and the integers made from the column's buffer
    (the archive tests compare both ways)."""
    np = lazy_module("numpy")
    array = column.combine_chunks()
    if array.null_count:
        return [None if v is None else uuid_of(int.from_bytes(v, "big"))
                for v in array.to_pylist()]
    words = np.frombuffer(array.buffers()[1], dtype=">u8", count=2 * len(array),
                          offset=array.offset * 16).reshape(-1, 2)
    return [uuid_of(n) for n in ((words[:, 0].astype(object) << 64)
                                 | words[:, 1].astype(object)).tolist()]


def uuid_of(number: int) -> uuid.UUID:
    value = _new_object(uuid.UUID)
    _set_field(value, "int", number)
    _set_field(value, "is_safe", uuid.SafeUUID.unknown)
    return value


_new_object, _set_field = object.__new__, object.__setattr__


def local_day(value, zone: ZoneInfo) -> dt.date | None:
    """The calendar day of a date or timestamp in the configured zone (tables.day_expression)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).date() if value.tzinfo else value.date()
    return value


def archived_between(main: PgTier, table: str, first: dt.date | None,
                     last: dt.date | None) -> bool:
    """Did any main→archive move of `table` cover a day of [first, last] (main's ledger)?"""
    from ..pg.catalog import table_exists

    with main.connect() as conn:
        if not table_exists(conn, "persys.ledger"):
            return False
        return bool(conn.execute(
            "select exists (select 1 from persys.ledger where table_name = %s "
            "and route = 'main_archive' and state = 'done' and rows > 0 "
            "and (%s::date is null or last_day >= %s::date) "
            "and (%s::date is null or first_day <= %s::date))",
            (table, first, first, last, last)).fetchone()[0])

