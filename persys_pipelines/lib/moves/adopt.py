"""`persys adopt partition TABLE`: a table the person already had becomes monthly-partitioned,
in a verified copy-and-swap, so its space comes back at once when months move (space.py).

The form is the one `persys setup` creates: partitioned by range of the day column, one
partition per month (bounds at local midnights of the configured zone), a DEFAULT partition,
primary key `(<key>, <day column>)`. Everything the table carries is kept (adopt_catalog):
grants (exactly: the schema's default privileges add nothing, partitions get none for PUBLIC
and the client roles), RLS (enabled/forced) and policies, triggers and rules (and their
enabled state), publication membership, foreign keys out and in, identity and generated
columns (sequence positions kept), defaults, CHECK constraints, indexes, comments, owner,
replica identity.

What the plan says, because it is what happens:
- the key: when the day column is not in the primary key, the key becomes `(<key>, <day>)`;
  `insert … on conflict (id)` then fails and a second row with an existing id on another day
  is accepted. That needs `--yes` (`key_change_ok`), never a bare "y".
- the lock times, measured on a sample of the table before anything is locked
  (adopt_trial.py): the app's writes wait for the whole conversion, its reads only for the
  swap; with Supabase's API roles' statement_timeout the plan says when a waiting write
  would fail. The result reports the times measured while it ran.
- concurrent writers are never lost, whatever their isolation level (adopt_swap.py: rows are
  loaded frozen, visible to every snapshot; SERIALIZABLE readers still tracked are waited out).

A kill -9 at any point before the commit rolls everything back (one transaction): the original
table is untouched and in use, and running again starts afresh. After the commit only the
validation of foreign keys re-created NOT VALID can be left undone; their names are in the
ledger and the next `adopt partition` of the table validates them (`finish_left_over`).

The room it needs (the table with its indexes and TOAST, ×1.1, plus the empty partitions) is
computed first and the conversion is refused when that does not fit the core quota.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..calendar import month_start, next_month
from ..errors import TierError, UsageError
from ..pg import ledger
from ..pg import partitions as space
from ..pg.catalog import client_roles, ident, role_settings, table_exists
from ..pg.fingerprint import Fingerprint
from ..pg.session import LOCK_RETRIES, is_lock_conflict, pin_session, yielding
from ..pg.tables import TableSpec, day_expression
from ..pg.tiers import PgTier
from ..pg.vacuum import REWRITE_HEADROOM, mb, relation_bytes
from .adopt_catalog import Catalog, read_catalog
from .adopt_swap import GiveWay, Swapped, convert, validate
from .adopt_trial import LockEstimate, measure
from .engine import OPEN, Engine, Locked, route

ADOPT = route("adopt", "core", "core", points=("copied", "swapped", "committed"))
PAGE = 8192
RETRIES = LOCK_RETRIES  # attempts while the app holds what the conversion needs


@dataclass
class AdoptPlan:
    table: str
    day_column: str
    rows: int
    table_bytes: int
    need_bytes: int
    free_bytes: int | None  # None: core has no quota
    months: list[dt.date]
    catalog: Catalog
    notes: list[str] = field(default_factory=list)
    estimate: LockEstimate | None = None  # measured lock times (None: refused, not measured)

    @property
    def problems(self) -> list[str]:
        out = list(self.catalog.problems)
        if self.free_bytes is not None and self.need_bytes > self.free_bytes:
            out.append(f"the conversion needs {mb(self.need_bytes)} free in core (the table "
                       f"with indexes and TOAST, {mb(self.table_bytes)}, ×{REWRITE_HEADROOM}, "
                       f"plus {len(self.months) + 1} partitions); the quota has "
                       f"{mb(self.free_bytes)}. Move its old days out first "
                       f"(`persys lifecycle run --table {self.table}`), then adopt")
        return out

    @property
    def key_change(self) -> list[str]:
        """What changes for the app when the day column joins the primary key ([]: nothing)."""
        cat = self.catalog
        if not cat.key_changes:
            return []
        old, new = ", ".join(cat.primary_key), ", ".join(cat.new_key)
        out = [f"the primary key becomes ({new}) (a partitioned table's key must hold the "
               f"day column); what breaks: `insert … on conflict ({old})` in your app fails "
               "(\"there is no unique or exclusion constraint matching the ON CONFLICT "
               f"specification\"): write `on conflict ({new})`; ({old}) alone is no longer "
               f"unique: a second row with an existing {old} on another day is accepted"]
        if cat.identity or cat.owned_sequences:
            out[0] += " (the column's own default never repeats one)"
        if cat.replaced_by_key:
            out.append(f"unique constraint {', '.join(cat.replaced_by_key)} has the new key's "
                       f"columns: the primary key ({new}) takes its place")
        out.append(f"a foreign key can no longer reference {self.table}({old}), only "
                   f"({new})")
        return out

    def lines(self) -> list[str]:
        free = "no quota" if self.free_bytes is None else f"{mb(self.free_bytes)} free"
        span = (f"{self.months[0]:%Y-%m}..{self.months[-1]:%Y-%m}" if self.months else "none")
        out = [f"adopt partition {self.table}: {self.rows:,} rows, {mb(self.table_bytes)} "
               f"(indexes and TOAST included)",
               f"  headroom: needs {mb(self.need_bytes)}, core has {free}",
               f"  partitions: by month of {self.day_column}, {len(self.months)} months "
               f"({span}) and {self.table}{space.DEFAULT_SUFFIX}"]
        if self.estimate is not None:
            out.append(self.estimate.line())
        out += [f"  KEY CHANGES: {k}" for k in self.key_change]
        for what, names in self.catalog.preserved().items():
            if names:
                out.append(f"  keeps {what}: {', '.join(names)}")
        out += [f"  note: {n}" for n in self.notes]
        out += [f"  REFUSED: {p}" for p in self.problems]
        return out


@dataclass
class Adopted:
    plan: AdoptPlan
    swapped: Swapped
    seconds_writes: float  # the app's writes waited this long (validations included)
    bytes_after: int
    validated: list[str]

    @property
    def fingerprint(self):
        return self.swapped.fingerprint

    @property
    def partitions(self) -> list[str]:
        return self.swapped.partitions

    @property
    def seconds_reads(self) -> float:
        return self.swapped.seconds_reads


def plan_adoption(spec: TableSpec, core: PgTier, conn: psycopg.Connection,
                  as_of: dt.date, *, measure_locks: bool = True) -> AdoptPlan:
    """What `adopt partition` would do, the lock times it would cost (measured on a sample
    of the table, in a savepoint rolled back) and the problems that refuse it."""
    table = spec.name
    if not table_exists(conn, table):
        raise TierError(f"adopt partition {table}: core has no table public.{table}")
    if space.is_partitioned(conn, table):
        raise UsageError(f"adopt partition {table}: it is already partitioned; nothing to do")
    policy = spec.policy
    cat = read_catalog(conn, table, policy.day_column)
    months: list[dt.date] = []
    rows = conn.execute(sql.SQL("select count(*) from {}").format(
        ident(table))).fetchone()[0]
    if not cat.problems:
        months = _months(conn, spec, as_of)
    size = relation_bytes(conn, table)
    n_idx = 1 + len(cat.indexes) + len(cat.uniques)
    need = int(REWRITE_HEADROOM * size + (len(months) + 1) * PAGE * (1 + 2 * n_idx))
    free = None if core.quota_bytes is None else max(0, core.quota_bytes - core.size_bytes())
    plan = AdoptPlan(table, policy.day_column, rows, size, need, free, months, cat)
    if measure_locks and not plan.problems:
        plan.estimate = measure(conn, cat, rows, len(months))
        plan.notes += _timeouts(conn, plan.estimate)
    for pub in cat.pubs_not_via_root:
        plan.notes.append(
            f"publication {pub} publishes a partitioned table's changes under each month's "
            f"name ({table}_pYYYY_MM) unless `alter publication {pub} set "
            "(publish_via_partition_root = true)`; realtime subscribers of "
            f"{table} need that")
    refs = sorted({k.ref_table.removeprefix("public.") for k in cat.fks_out
                   if not k.self_reference})
    if refs:
        plan.notes.append(f"its foreign keys are checked on the copy: writes to {', '.join(refs)} "
                          "wait from then to the end, and the swap locks them as it locks "
                          f"{table} (their reads wait for the swap too)")
    if cat.fks_in:
        plan.notes.append("foreign keys into it are re-created NOT VALID in the swap and "
                          "validated right after it, while the app reads and writes")
    return plan


def _timeouts(conn: psycopg.Connection, estimate: LockEstimate) -> list[str]:
    """Client roles whose statement_timeout is shorter than the writes' wait: a write of
    theirs that waits for the conversion fails (Supabase: anon 3 s, authenticated 8 s)."""
    rows = role_settings(conn, client_roles(conn), "statement_timeout")
    out = []
    for role, setting in rows:
        seconds = conn.execute("select extract(epoch from %s::interval)",
                               (setting if not setting.isdigit() else f"{setting} ms",)
                               ).fetchone()[0]
        if seconds and float(seconds) < estimate.writes_s:
            out.append(f"role {role} has statement_timeout {setting}: its writes to the table "
                       "that wait for the conversion fail; adopt when the app is idle")
    return out


def _months(conn: psycopg.Connection, spec: TableSpec, as_of: dt.date) -> list[dt.date]:
    """Months holding rows, up to this month and the next two (as the nightly run prepares)."""
    table = spec.name
    day = day_expression(conn, table, spec.policy, spec.zone)
    found = {r[0] for r in conn.execute(sql.SQL(
        "select distinct date_trunc('month', {})::date from {}").format(
        day, ident(table))).fetchall()}
    month = month_start(as_of)
    for _ in range(3):
        found.add(month)
        month = next_month(month)
    return sorted(found)


def adopt_partition(engine: Engine, core: PgTier, spec: TableSpec, as_of: dt.date, *,
                    key_change_ok: bool = False) -> Adopted:
    """Convert the table (module docstring); refused with the reasons when the plan has any,
    and when the primary key changes unless `key_change_ok` (the CLI's --yes)."""
    table = spec.name
    with engine.locked(table) as locked:  # no mover of this table meanwhile
        _finish(locked, core, table)
        locked.interrupt_open(ADOPT)
        with core.connect() as conn:
            pin_session(conn)
            plan = plan_adoption(spec, core, conn, as_of)
            conn.rollback()
            if plan.problems:
                raise TierError(f"adopt partition {table} refused:\n  - "
                                + "\n  - ".join(plan.problems))
            if plan.key_change and not key_change_ok:
                raise UsageError(f"adopt partition {table}: " + "; ".join(plan.key_change)
                                 + ". Nothing changed; run again with --yes once the app "
                                 "is ready for that")
            step = locked.open(ADOPT, None, None)

            def attempt() -> Swapped:
                try:
                    return convert(conn, plan.catalog,
                                   lambda c: _months(c, spec, as_of), spec.zone, step)
                except psycopg.Error as exc:
                    conn.rollback()
                    if is_lock_conflict(exc):
                        raise
                    why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    if exc.diag.message_detail:
                        why += f": {exc.diag.message_detail}"
                    raise TierError(f"adopt partition {table}: PostgreSQL refused a step of "
                                    f"the conversion ({why}); nothing changed, {table} is "
                                    "as it was") from None
                except BaseException:
                    conn.rollback()
                    raise

            try:
                swapped = yielding(f"adopt partition {table}", attempt, retry_on=(GiveWay,),
                                   retries=RETRIES)
            except Exception as exc:
                step.failed(exc)
                raise
        step.crash("committed")
        with core.connect(autocommit=True) as conn:
            pin_session(conn)
            checked = validate(conn, swapped.to_validate)
            writes = swapped.seconds_writes  # validation takes no lock the app's writes wait for
            conn.execute(sql.SQL("analyze {}").format(ident(table)))
            after = relation_bytes(conn, table)
        done = Adopted(plan, swapped, writes, after, checked)
        step.done(rows=done.fingerprint.rows, bytes_=plan.table_bytes,
                  fingerprint=done.fingerprint.text, partitions=done.partitions,
                  seconds_writes=round(writes, 3), seconds_reads=round(done.seconds_reads, 3),
                  swap_tries=swapped.swap_tries, validated=checked,
                  estimate=None if plan.estimate is None else {
                      "writes_s": round(plan.estimate.writes_s, 3),
                      "reads_s": round(plan.estimate.reads_s, 3)},
                  key_changed=plan.catalog.key_changes, bytes_before=plan.table_bytes,
                  bytes_after=after, preserved=plan.catalog.preserved())
    return done


def finish_left_over(engine: Engine, core: PgTier, table: str) -> list[str]:
    """An adoption killed after its commit: validate the foreign keys it left NOT VALID and
    close its ledger entry; returns their names ([] when nothing was left)."""
    with engine.locked(table) as locked:
        return _finish(locked, core, table)


def _finish(locked: Locked, core: PgTier, table: str) -> list[str]:
    """The newest adoption entry of `table` that noted what to validate (just before its
    commit) and is still `open`, when the table is partitioned (so that commit happened)."""
    entry = next((e for e in ledger.entries(locked.conn, table, limit=20, route=ADOPT.name)
                  if e.detail.get("validate")), None)
    if entry is None or entry.state != OPEN:
        return []
    with core.connect(autocommit=True) as conn:
        pin_session(conn)
        if not space.is_partitioned(conn, table):
            return []  # killed before its commit: nothing of it exists
        checked = validate(conn, [tuple(k) for k in entry.detail["validate"]])
    found = Fingerprint.parse(entry.detail["fingerprint"])
    locked.step(ADOPT, entry).done(rows=found.rows, fingerprint=found.text, validated=checked,
                                   finished_by_a_later_run=True)
    return checked


__all__ = ["ADOPT", "AdoptPlan", "Adopted", "adopt_partition", "finish_left_over",
           "plan_adoption"]
