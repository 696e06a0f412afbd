"""Bring archived days back into main: the rows of [first, last] leave the archive (the rest
of each file is written back as a remainder file) and are pinned in main for a while.

Same order as archiving (file before manifest entry, manifest before deleting a file), under
the table's archive lock, so `manifest.reconcile` can always repair an interrupted restore.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from psycopg import sql

from ..config import Config
from ..errors import ArchiveError
from ..lazy import lazy_module
from ..pg.catalog import ident
from ..pg.protocol import crash_point, table_lock
from ..pg.schema import create_ledger
from ..pg.tables import day_expression
from ..pg.tiers import PgTier, resolve_tier
from . import format as fmt
from . import pins
from .manifest import (
    committed,
    copy_back,
    file_key,
    finish_restore,
    ledger_finish,
    ledger_start,
    load_file,
    read_manifest,
    reconcile,
    row_checksum,
    sha256,
)
from .stores import Store, StoreError, archive_stores, keyring

pa = lazy_module("pyarrow")
pc = lazy_module("pyarrow.compute")

# ---------------------------------------------------------------------------------------------
# Verify

@dataclass
class RestoreResult:
    table: str
    first_day: dt.date
    last_day: dt.date
    rows: int = 0  # rows brought back into main
    already_in_main: int = 0
    files: list[str] = field(default_factory=list)
    remainders: list[str] = field(default_factory=list)
    pinned_until: dt.date | None = None  # the days are held in main until then (pins.py)


def restore(cfg: Config, table: str, first: dt.date, last: dt.date, *,
            run_id: str | None = None, pin_days: int = pins.DEFAULT_PIN_DAYS) -> RestoreResult:
    """Bring the rows of [first, last] back into main, idempotently; they leave the archive.

    Per file: load it into a temporary copy of the table, prove its row checksum equals the one
    taken from main when it was archived (the round trip is exact, types included), insert the
    days asked for with ON CONFLICT DO NOTHING and a ledger row in one commit, then swap the
    manifest entry for a file of the remaining days (if any) and delete the old file.
    A file with no row in the range is not touched, so restoring days again (or a day that
    has no rows) changes nothing. The restored days are pinned in main for `pin_days` days
    (0: not pinned) in the same commit as the rows, so the next archive run leaves them there.
    """
    if table not in cfg.tables:
        raise ArchiveError(f"table {table!r} has no policy in persys.yaml tables:")
    if first > last:
        raise ArchiveError(f"--from {first} is after --to {last}")
    tier = resolve_tier(cfg, "main")
    stores = archive_stores(cfg, check=False)
    ring = keyring(cfg)
    until = pins.pin_until(pin_days, cfg.today())
    result = RestoreResult(table, first, last)
    with table_lock(tier, table):
        for store in stores.all:
            try:
                store.check()
            except StoreError as exc:
                raise ArchiveError(f"cannot restore: {exc}") from None
            reconcile(tier, store, table)
            doc = read_manifest(store, table)
            for entry in committed(doc):
                if entry["max_day"] < first.isoformat() or entry["min_day"] > last.isoformat():
                    continue
                data = fmt.read_parquet(load_file(store, ring, entry)[0])
                if not days_in(data, first, last):
                    continue  # the range falls between the file's days: leave the file alone
                remainder = _restore_file(cfg, tier, store, ring, table, entry, data, first,
                                          last, run_id, result, until)
                finish_restore(store, table, entry["key"], remainder)
    return result


def days_in(data: pa.Table, first: dt.date, last: dt.date) -> int:
    """Rows of an archive file dated in [first, last]. Zero means a restore has nothing to take
    from the file, and must not touch it: re-encoding all its rows gives the same bytes, hence
    the same key, and swapping the file for "its remainder" would delete it."""
    day = data.column(fmt.DAY)
    inside = pc.and_(pc.greater_equal(day, pa.scalar(first, pa.date32())),
                     pc.less_equal(day, pa.scalar(last, pa.date32())))
    return pc.sum(pc.cast(inside, pa.int64())).as_py() or 0


def _restore_file(cfg, tier: PgTier, store: Store, ring, table: str, entry: dict,
                  data: pa.Table, first: dt.date, last: dt.date, run_id,
                  result: RestoreResult, until: dt.date | None) -> dict | None:
    policy = cfg.tables[table]
    with tier.connect() as conn:
        create_ledger(conn)
        tmp = sql.Identifier(f"persys_restore_{table}")
        conn.execute(sql.SQL("create temp table {} (like {} including defaults) on commit drop")
                     .format(tmp, ident(table)))
        cols, (rows, checksum) = copy_back(conn, tmp, data)
        if (rows, checksum) != (entry["rows"], entry["checksum"]):
            raise ArchiveError(
                f"{store.uri(entry['key'])}: restored rows do not match what left main "
                f"({rows} rows, checksum {checksum} vs {entry['rows']}, {entry['checksum']}); "
                "nothing was restored")
        day = day_expression(conn, table, policy, cfg.timezone)
        in_range = sql.SQL("{} between {} and {}").format(day, sql.Literal(first),
                                                          sql.Literal(last))
        wanted = conn.execute(sql.SQL("select count(*) from {} where {}").format(tmp, in_range)
                              ).fetchone()[0]
        inserted = conn.execute(
            sql.SQL("insert into {t} ({c}) select {c} from {tmp} where {w} on conflict do nothing")
            .format(t=ident(table), c=cols, tmp=tmp, w=in_range)).rowcount
        # The entry's own ledger id names this generation of the key: content-addressed keys
        # recur when the same rows are archived again after a restore.
        ledger_id = ledger_start(conn, table, first, last, "archive", "main", run_id)
        remainder = _remainder(cfg, conn, store, ring, table, entry, data, tmp, in_range,
                               first, last, ledger_id)
        if until:
            pins.pin(conn, table, first, last, until)
        ledger_finish(conn, ledger_id, rows=inserted, size=entry["bytes"], checksum=checksum,
                      detail={"key": entry["key"], "store": store.url,
                              "entry_ledger_id": entry["ledger_id"], "remainder": remainder,
                              "pinned_until": until and until.isoformat()})
        crash_point("restore_before_commit")
        conn.commit()
    crash_point("restore_after_commit")
    result.rows += inserted
    result.already_in_main += wanted - inserted
    result.files.append(store.uri(entry["key"]))
    result.pinned_until = until
    if remainder:
        result.remainders.append(store.uri(remainder["key"]))
    return remainder


def _remainder(cfg, conn, store, ring, table, entry, data: pa.Table, tmp, in_range,
               first: dt.date, last: dt.date, ledger_id: int) -> dict | None:
    """The file's rows outside the restored days, as a new immutable file (None: no rows)."""
    day_col = data.column(fmt.DAY)
    keep = pc.or_(pc.less(day_col, pa.scalar(first, pa.date32())),
                  pc.greater(day_col, pa.scalar(last, pa.date32())))
    rest = data.filter(keep)
    if rest.num_rows == 0:
        return None
    cols = sql.SQL(", ").join(map(sql.Identifier, fmt.pg_types_of(data.schema)))
    rows, checksum = row_checksum(conn, sql.SQL("(select {} from {} where not ({}))")
                                  .format(cols, tmp, in_range))
    plain = fmt.parquet_bytes(rest, level=cfg.tiers.archive.compression_level)
    digest = sha256(plain)
    key = file_key(table, dt.date.fromisoformat(entry["min_day"]), digest)
    stored, key_id = ring.encrypt(plain, key)
    store.put(key, stored)
    if ring.decrypt(store.get(key), key)[0] != plain:
        raise ArchiveError(f"{store.uri(key)}: read back differs; nothing was restored")
    return entry | {
        "key": key, "sha256": digest, "rows": rows, "bytes": len(stored), "checksum": checksum,
        "key_id": key_id, "min_day": pc.min(rest.column(fmt.DAY)).as_py().isoformat(),
        "max_day": pc.max(rest.column(fmt.DAY)).as_py().isoformat(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "state": "committed",
        "ledger_id": ledger_id,
    }


