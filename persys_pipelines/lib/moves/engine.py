"""The engine every route writes and deletes rows through: table locks, ledger states, crash
points.

A route (`Route`: core→main, main→archive, a restore, a purge, …) declares its ledger states
and crash points; it runs holding the table's lock (`Engine.locked`), opens a ledger entry
(`Locked.open` → state `open`), moves through its states (`Step.advance`, in the caller's
transaction when the state must commit with the rows it describes) and ends `done` or
`failed`. An entry a killed process left `open` is marked `interrupted` by the next holder
of the lock; an entry left in one of the route's own states is the route's to reconcile
(`Locked.unfinished`, `persys lifecycle repair`). Nothing else writes the ledger's `state`.

Crash points are named `<route>.<point>`, declared with the route, so the tests can stop a
process at every one of them: `PERSYS_CRASH_AT=<route>.<point>` prints the name on stdout
and kills the process with SIGKILL there (`all_crash_points()` lists them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from ..errors import MoveError, scrub
from ..pg import ledger
from ..pg.schema import create_ledger
from ..pg.tiers import PgTier

CRASH_ENV = "PERSYS_CRASH_AT"
LOCK_WAIT_S = 900.0  # behind a transaction pooler, a mover waits this long for another one
OPEN, DONE, FAILED, INTERRUPTED = "open", "done", "failed", "interrupted"
Progress = Callable[[int], None]  # called with rows just handled

ROUTES: dict[str, Route] = {}


@dataclass(frozen=True)
class Route:
    """One way rows travel (or leave): its ledger states between `open` and `done`, and its
    crash points in the order a run passes them."""

    name: str
    from_tier: str
    to_tier: str
    states: tuple[str, ...] = ()
    points: tuple[str, ...] = ()

    def crash(self, point: str) -> None:
        """With PERSYS_CRASH_AT=<route>.<point>: say so on stdout and die by SIGKILL here."""
        if point not in self.points:
            raise MoveError(f"crash point {point!r} is not declared by route {self.name}")
        name = f"{self.name}.{point}"
        if os.environ.get(CRASH_ENV) == name:
            print(f"persys-crash-point {name}", flush=True)
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)  # never reached


def route(name: str, from_tier: str, to_tier: str, *, states: tuple[str, ...] = (),
          points: tuple[str, ...] = ()) -> Route:
    """Declare a route (once, at import of its module)."""
    found = Route(name, from_tier, to_tier, states, points)
    if ROUTES.setdefault(name, found) != found:
        raise MoveError(f"route {name} declared twice")
    return found


def all_crash_points() -> list[str]:
    """Every `<route>.<point>` of every route (the routes' modules must be imported)."""
    return [f"{r.name}.{p}" for r in ROUTES.values() for p in r.points]


# ---------------------------------------------------------------------------------------------
# Locks


def lock_key(table: str) -> str:
    return f"persys_table:{table}"


@contextlib.contextmanager
def held_lock(tier: PgTier, key: str, holder: str) -> Iterator[None]:
    """An advisory lock on `key` in `tier` for the body of the `with`.

    Directly or through a session pooler: a session lock (waits for the holder). Through a
    transaction pooler a session lock would stay with the server session and be unlocked (or
    not) on another one, so the lock is transaction-scoped (`pg_advisory_xact_lock`) in a
    transaction kept open on its own connection; a waiter tries, gives its server session
    back and tries again, so two waiters never starve a small pool. A killed holder's
    transaction ends with its connection, which releases the lock either way."""
    arg = (key,)
    if not tier.transaction_pooled:
        with tier.connect(autocommit=True) as conn:
            conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", arg)
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", arg)
        return
    deadline = time.monotonic() + LOCK_WAIT_S
    with tier.connect() as conn:
        for n in itertools.count():
            conn.execute("select set_config('idle_in_transaction_session_timeout', '0', true)")
            if conn.execute("select pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
                            arg).fetchone()[0]:
                break
            conn.rollback()
            if time.monotonic() > deadline:
                raise MoveError(f"{holder} has held the lock for over {LOCK_WAIT_S / 60:.0f} "
                                "minutes; nothing was changed, run again when it is done")
            time.sleep(min(1.0, 0.05 * 2 ** min(n, 5)))
        try:
            yield
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()


# ---------------------------------------------------------------------------------------------
# The engine


@dataclass
class Engine:
    """What every route is handed besides its tiers and stores: main (where the locks and the
    ledger live), the Dagster run id, a progress callback."""

    main: PgTier
    run_id: str | None = None
    progress: Progress | None = None

    def note(self, entry_id: int, **detail: object) -> None:
        """More detail on a finished entry (what the space step after a move returned)."""
        with self.main.connect(autocommit=True) as conn:
            conn.execute("update persys.ledger set detail = detail || %s where id = %s",
                         (Jsonb(detail), entry_id))

    @contextlib.contextmanager
    def locked(self, table: str) -> Iterator[Locked]:
        """One mover per table at a time, across processes and routes: an advisory lock in
        main, held for the body; yields the holder's handle (an autocommit connection to main
        for ledger entries that commit on their own)."""
        with held_lock(self.main, lock_key(table), f"another persys mover of {table}"), \
                self.main.connect(autocommit=True) as conn:
            ledger.ensure(conn, create_ledger)
            yield Locked(self, table, conn)


@dataclass
class Locked:
    engine: Engine
    table: str
    conn: psycopg.Connection  # autocommit, main

    def open(self, route: Route, first: dt.date | None, last: dt.date | None, *,
             conn: psycopg.Connection | None = None, **detail: object) -> Step:
        """A ledger entry in state `open`: committed at once, or in `conn`'s transaction (so
        it exists only if what it describes commits)."""
        target = conn or self.conn
        row = target.execute(
            """insert into persys.ledger (route, table_name, first_day, last_day, from_tier,
                                          to_tier, run_id, state, detail)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id""",
            (route.name, self.table, first, last, route.from_tier, route.to_tier,
             self.engine.run_id, OPEN, Jsonb(detail))).fetchone()
        return Step(int(row[0]), route, self)

    def step(self, route: Route, entry: ledger.LedgerEntry) -> Step:
        """The handle of an entry a killed or failed run left (for the route's reconcile)."""
        return Step(entry.id, route, self)

    def unfinished(self, route: Route) -> list[ledger.LedgerEntry]:
        """Entries of this route and table left in one of the route's own states (copied but
        not settled, …): what its reconcile must finish, oldest first."""
        return ledger.in_states(self.conn, route.name, self.table, route.states)

    def clear_of(self, route: Route, spans: list[tuple[dt.date, dt.date]]
                 ) -> list[tuple[dt.date, dt.date]]:
        """The (first, last) `spans` no entry of `route` left in its own states covers. (A
        month a core→main copy not yet settled covers stays in main: core still holds those
        rows and the app may change them; it is archived once the copy is settled.)"""
        left = self.unfinished(route)
        return [(first, last) for first, last in spans if not any(
            (e.first_day is None or e.first_day <= last)
            and (e.last_day is None or e.last_day >= first) for e in left)]

    def interrupt_open(self, route: Route) -> int:
        """Entries a killed run left `open` (nothing they describe committed): `interrupted`.
        Only the lock holder may call it: no live run can own them."""
        return self.conn.execute(
            "update persys.ledger set state = %s, ended_at = clock_timestamp() "
            "where route = %s and table_name = %s and state = %s",
            (INTERRUPTED, route.name, self.table, OPEN)).rowcount


@dataclass(frozen=True)
class Step:
    """One ledger entry of a route, moved through the route's states by the engine only."""

    id: int
    route: Route
    locked: Locked

    def advance(self, state: str, *, conn: psycopg.Connection | None = None,
                **detail: object) -> None:
        """Into one of the route's own states; in `conn`'s transaction when given (the state
        then commits exactly with the data it describes)."""
        if state not in self.route.states:
            raise MoveError(f"route {self.route.name} has no state {state!r}")
        self._write(conn, state, detail)

    def done(self, *, conn: psycopg.Connection | None = None, rows: int = 0, bytes_: int = 0,
             fingerprint: str | None = None, **detail: object) -> None:
        (conn or self.locked.conn).execute(
            """update persys.ledger set state = %s, rows = %s, bytes = %s, fingerprint = %s,
                      ended_at = clock_timestamp(), detail = detail || %s where id = %s""",
            (DONE, rows, bytes_, fingerprint, Jsonb(detail), self.id))

    def failed(self, exc: BaseException) -> None:
        """The run gave up: says why in the entry. Only an entry still `open` fails: one in a
        route's own state describes data already committed, which the route's reconcile
        finishes on the next run."""
        self.locked.conn.execute(
            "update persys.ledger set state = %s, ended_at = clock_timestamp(), "
            "detail = detail || %s where id = %s and state = %s",
            (FAILED, Jsonb({"error": scrub(str(exc))[:500]}), self.id, OPEN))

    def note(self, *, conn: psycopg.Connection | None = None, **detail: object) -> None:
        """More detail, state unchanged (what a space step returned, …)."""
        (conn or self.locked.conn).execute(
            "update persys.ledger set detail = detail || %s where id = %s",
            (Jsonb(detail), self.id))

    def crash(self, point: str) -> None:
        self.route.crash(point)

    def _write(self, conn: psycopg.Connection | None, state: str, detail: dict) -> None:
        (conn or self.locked.conn).execute(
            "update persys.ledger set state = %s, detail = detail || %s where id = %s",
            (state, Jsonb(detail), self.id))
