"""Settling a copy: delete in core exactly the rows that were copied, as they were copied.

The copy read core in one snapshot S and committed its rows to main in transaction M (their
`xmin` there). While a row is in core, core is the truth, and the person's app keeps writing:

- a row version still live in core whose `xmin` is visible in S is exactly the version that
  was copied: it is deleted (`unchanged_since`), whole unchanged month partitions are
  truncated instead (space back at once);
- a row the app changed since S has a new version (new `xmin`): it stays in core, and main's
  stale copy is removed; a row the app deleted since S is gone from core: main's copy goes too;
- a copy main no longer holds (a replacing backup restore or a hand delete before a killed
  copy was settled) is not deleted in core: when the rows deleted would not equal main's
  copies, core deletes only the keys main holds from the copy;
- so after settling, main keeps exactly the rows core let go, and nothing is in both.

Main's stale copies can only be found once core's delete is known, and the two databases
commit separately, so the order is: core transaction T deletes (uncommitted, its rows locked)
→ main removes the stale copies and records T's xid in the ledger, commits → T commits. A
crash between the two commits is told apart afterwards by `pg_xact_status(T)`: committed →
done; aborted → settle again from S (idempotent: only unchanged versions qualify). No crash
point leaves a row in neither tier or in both for good.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..errors import MoveError
from ..pg import ledger
from ..pg.catalog import ident, table_exists
from ..pg.references import Reference, unreferenced
from ..pg.session import yielding
from .engine import Route, Step
from .relay import copy_between

XID_MASK = (1 << 32) - 1
COPIED, DELETING = "copied", "deleting"  # the core→main route's own ledger states
STATES = (COPIED, DELETING)
DELETED_KEYS = "persys_deleted_keys"
COPIED_KEYS = "persys_copied_keys"
# Key lists live for one transaction only: behind a transaction pooler a temporary table would
# stay with the server session, visible to the next client of it.
KEYS_TABLE = "create temp table if not exists {} on commit drop as select {} from {} limit 0"


@dataclass(frozen=True)
class Snapshot:
    """A PostgreSQL snapshot (`pg_current_snapshot()`), to ask whether a row version was
    visible in it."""

    xmin: int
    xmax: int
    xip: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        lo, hi, xip = text.split(":")
        return cls(int(lo), int(hi), tuple(int(x) for x in xip.split(",") if x))

    @property
    def text(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(map(str, self.xip))}"

    def unchanged_since(self, alias: str = "t") -> sql.Composable:
        """The live version of row `alias` was committed before this snapshot was taken.

        `age(xid)` counts back from the current transaction id, wrap-around safe; frozen and
        bootstrap ids count as oldest. Only versions older than S.xmin count: a version made
        by a transaction S saw as running may come from a subtransaction (a PL/pgSQL
        exception block, a savepoint) whose id is in no snapshot's list, so versions between
        S.xmin and S.xmax are taken as changed; they stay in core and move next time."""
        return sql.SQL("age({}.xmin) > age({}::xid)").format(
            sql.Identifier(alias), sql.Literal(str(self.xmin & XID_MASK)))


@dataclass
class Copied:
    """What a copy left committed in main, waiting to be settled (also kept in the ledger)."""

    ledger_id: int
    table: str
    snapshot: Snapshot
    main_xid: int
    rows: int  # rows main holds from this copy
    source_condition: sql.Composable  # the range at core (day range, only_when)
    dest_condition: sql.Composable  # the same range at main
    primary_key: list[str]
    references: list[Reference]
    whole_partitions: list[str] = field(default_factory=list)  # months wholly in range
    helper_xids: tuple[int, ...] = ()  # main transactions of a second stream (two_streams)
    careful: bool = False  # main holds fewer copies than were written: settle by keys

    def ledger_detail(self) -> dict:
        return {"snapshot": self.snapshot.text, "main_xid": self.main_xid,
                "helper_xids": list(self.helper_xids), "copied": self.rows,
                "whole_partitions": self.whole_partitions}

    def written(self, alias: str) -> sql.Composable:
        """Row `alias` of main is one of this copy's (written by its main transactions)."""
        return written_by(alias, (self.main_xid, *self.helper_xids))


def written_by(alias: str, xids: tuple[int, ...]) -> sql.Composable:
    """Row `alias` was written by one of the main transactions `xids`."""
    return sql.SQL("{}.xmin in ({})").format(sql.Identifier(alias), sql.SQL(", ").join(
        sql.SQL("{}::xid").format(sql.Literal(str(x & XID_MASK))) for x in xids))


def in_flight(conn: psycopg.Connection, route: Route, table: str, alias: str
              ) -> sql.Composable | None:
    """Row `alias` of main's `table` is a copy not yet settled (None: there is none): written
    by an entry of `route` (core→main) left in one of its own states, read in the caller's
    snapshot. Core still holds those rows and the person's app may change or delete them
    there, so they are not main's yet: a backup of main leaves them out (merged back later,
    a row the app deleted since would come back)."""
    if not table_exists(conn, ledger.TABLE):
        return None
    xids = []
    for entry in ledger.in_states(conn, route.name, table, route.states):
        detail = entry.detail
        xids += [int(detail[k]) for k in ("main_xid", "helper_xid") if k in detail]
        xids += [int(x) for x in detail.get("helper_xids", ())]
    return written_by(alias, tuple(xids)) if xids else None


@dataclass
class Settled:
    deleted: int = 0  # rows removed from core (and kept in main)
    kept: int = 0  # copied rows the app changed or deleted since: main's copies removed
    truncated: list[str] = field(default_factory=list)


def settle(src: psycopg.Connection, dst: psycopg.Connection, copied: Copied,
           step: Step) -> Settled:
    """Delete in core exactly the unchanged copied rows; main drops the rest (module doc).

    `src`, `dst`: pinned sessions (session.pin_session), no transaction open."""
    fast = not copied.references and not copied.careful

    def attempt() -> Settled:
        nonlocal fast
        try:
            out = _settle_once(src, dst, copied, fast, step)
        except BaseException:
            src.rollback()
            dst.rollback()
            raise
        if out is None:  # the app changed rows since the copy: the careful way, with keys
            fast = False
            return attempt()
        return out

    return yielding(f"{copied.table}: deleting the moved rows in core", attempt)


def _settle_once(src: psycopg.Connection, dst: psycopg.Connection, copied: Copied,
                 fast: bool, step: Step) -> Settled | None:
    out = Settled()
    table = ident(copied.table)
    unchanged = copied.snapshot.unchanged_since("t")
    candidates = sql.SQL("{} and {}").format(copied.source_condition, unchanged)
    if fast:
        out.truncated, out.deleted = _truncate_unchanged(src, copied.whole_partitions,
                                                         candidates)
        out.deleted += src.execute(sql.SQL("delete from {} t where {}").format(
            table, candidates)).rowcount
        if out.deleted != copied.rows:
            src.rollback()
            return None
    else:  # only rows main holds from this copy (one lost there since stays in core)
        _ship_copied_keys(src, dst, copied)
        candidates = sql.SQL("{} and ({}) in (select {} from {})").format(
            candidates, _cols("t", copied.primary_key), _cols(None, copied.primary_key),
            sql.Identifier(COPIED_KEYS))
        if copied.references:
            # Lock first: a child row the app is inserting right now makes us wait (or give
            # way), and the delete below then sees it, so no cascade can reach it.
            src.execute(sql.SQL("select 1 from {} t where {} for update").format(
                table, candidates))
            candidates = sql.SQL("{} and {}").format(candidates,
                                                     unreferenced(copied.references, "t"))
        out.deleted = _delete_streaming_keys(src, dst, copied, candidates)
        out.kept = _drop_stale_copies(dst, copied)
    core_xid = int(src.execute("select pg_current_xact_id()::text").fetchone()[0])
    step.advance(DELETING, conn=dst, core_xid=core_xid, deleted=out.deleted, kept=out.kept)
    dst.commit()
    step.crash("core_deleting")
    src.commit()
    step.crash("delete_sent")
    return out


def _cols(alias: str | None, names: list[str]) -> sql.Composable:
    if alias is None:
        return sql.SQL(", ").join(map(sql.Identifier, names))
    return sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(n))
                              for n in names)


def _truncate_unchanged(src: psycopg.Connection, names: list[str],
                       candidates: sql.Composable) -> tuple[list[str], int]:
    """Truncate the whole month partitions (`names`, wholly inside the copied range) whose
    every live row is a version the copy read (`candidates`: unchanged since S): their space
    comes back at once. Returns those truncated and the rows they held.

    Their exclusive locks (bounded by lock_timeout, held to the end of the transaction) keep
    writers out while we look; one statement locks them, one pass counts them and one
    TRUNCATE empties them (round trips, not rows, were most of this step for a year of
    months). A row the app deleted since S is not seen here: the caller compares the rows
    deleted in all with the rows copied, and goes the careful way when they differ."""
    if not names:
        return [], 0
    src.execute(sql.SQL("lock table {} in access exclusive mode").format(
        sql.SQL(", ").join(map(ident, names))))
    counts = {name: (now, unchanged) for name, now, unchanged in src.execute(
        sql.SQL(" union all ").join(
            sql.SQL("select {}, count(*), count(*) filter (where {}) from {} t").format(
                sql.Literal(name), candidates, ident(name)) for name in names)).fetchall()}
    same = [name for name in names if counts[name][0] == counts[name][1] > 0]
    if same:
        src.execute(sql.SQL("truncate {}").format(sql.SQL(", ").join(map(ident, same))))
    return same, sum(counts[name][0] for name in same)


def _ship_copied_keys(src: psycopg.Connection, dst: psycopg.Connection, copied: Copied) -> None:
    """The primary keys main holds from this copy, into a temporary table in core."""
    src.execute(sql.SQL(KEYS_TABLE)
                .format(sql.Identifier(COPIED_KEYS), _cols(None, copied.primary_key),
                        ident(copied.table)))
    src.execute(sql.SQL("truncate {}").format(sql.Identifier(COPIED_KEYS)))
    select = sql.SQL("select {} from {} t where {} and {}").format(
        _cols("t", copied.primary_key), ident(copied.table), copied.dest_condition,
        copied.written("t"))
    copy_between(dst, src, select, COPIED_KEYS)
    src.execute(sql.SQL("analyze {}").format(sql.Identifier(COPIED_KEYS)))


def _delete_streaming_keys(src: psycopg.Connection, dst: psycopg.Connection, copied: Copied,
                           candidates: sql.Composable) -> int:
    """DELETE in core, its keys streamed into a temporary table in main as they go."""
    dst.execute(sql.SQL(KEYS_TABLE)
                .format(sql.Identifier(DELETED_KEYS), _cols(None, copied.primary_key),
                        ident(copied.table)))
    dst.execute(sql.SQL("truncate {}").format(sql.Identifier(DELETED_KEYS)))
    delete = sql.SQL("delete from {} t where {} returning {}").format(
        ident(copied.table), candidates, _cols("t", copied.primary_key))
    return copy_between(src, dst, delete, DELETED_KEYS)


def _drop_stale_copies(dst: psycopg.Connection, copied: Copied) -> int:
    """Main's copies of rows core did not let go (changed or deleted by the app, or held
    back by a reference): removed, so core's version stays the only one."""
    dst.execute(sql.SQL("analyze {}").format(sql.Identifier(DELETED_KEYS)))
    return dst.execute(sql.SQL(
        "delete from {t} m where {cond} and {mine} "
        "and ({mk}) not in (select {k} from {d})").format(
        t=ident(copied.table),
        cond=copied.dest_condition,
        mine=copied.written("m"),
        mk=_cols("m", copied.primary_key), k=_cols(None, copied.primary_key),
        d=sql.Identifier(DELETED_KEYS))).rowcount


# ---------------------------------------------------------------------------------------------
# After a crash: the ledger says what was copied and not yet settled


def core_transaction_status(src: psycopg.Connection, xid: int,
                            wait_s: float = 15.0) -> str | None:
    """committed / aborted / None (too old to know). A transaction still `in progress` is a
    killed mover's session the server has not reaped yet: wait a little for it."""
    deadline = time.monotonic() + wait_s
    while True:
        status = src.execute("select pg_xact_status(%s::text::xid8)", (str(xid),)).fetchone()[0]
        src.commit()
        if status != "in progress":
            return status
        if time.monotonic() > deadline:
            raise MoveError(f"a killed mover's transaction {xid} is still open in core; it "
                            "ends when the server notices the lost connection. Run again in "
                            "a minute")
        time.sleep(0.2)
