"""`persys status`: what each tier holds and costs, measured from the tiers themselves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..archive.pins import Pin, active_pins
from ..config import CoreTier
from ..errors import PersysError
from ..pg.catalog import table_exists
from ..pg.tables import EMPTY, day_range
from .context import StatusContext
from .forecast import tier_forecasts
from .retention import digest_summary, upcoming
from .units import human_bytes, noun, number, plural

__all__ = ["collect", "human_bytes", "render"]


def collect(ctx: StatusContext, as_of: dt.date | None = None) -> dict[str, Any]:
    """The status document (the `--json` shape of README's `persys status`)."""
    as_of = as_of or ctx.today()
    doc: dict[str, Any] = {"as_of": as_of.isoformat(), "tiers": {}, "tables": {}}
    tables: dict[str, dict] = {name: {} for name in ctx.tables}
    pinned: list[Pin] = []  # main's active pins (days kept where they are)
    for name, tier in ctx.tiers.items():
        size = tier.size_bytes()
        quota = tier.quota_bytes
        doc["tiers"][name] = {
            "bytes": size,
            "quota_bytes": quota,
            "pct": round(100.0 * size / quota, 2) if quota else None,
        }
        with tier.connect() as conn:
            for table, policy in ctx.tables.items():
                tables[table][name] = day_range(conn, table, policy, ctx.timezone).as_json()
            if name == "main":
                doc["ledger"] = recent_ledger(conn)
                doc["forecast"] = tier_forecasts(conn)
                doc["ceilings"] = core_ceilings(ctx.limits.core, conn)
                pinned = active_pins(conn, as_of)
                doc["pins"] = [p.as_json() for p in pinned]
                doc["digests"] = digest_summary(conn)
                doc["imports"] = import_history(tier)
    archive = archive_inventory(ctx)
    doc["tiers"]["archive"] = {"bytes": archive["bytes"], "files": archive["files"],
                               "url": archive["url"], "stores": archive["stores"]}
    for table in ctx.tables:
        tables[table]["archive"] = archive["tables"].get(table, EMPTY.as_json())
    doc["tables"] = tables
    doc["lifecycle"] = lifecycle_due(ctx, as_of)
    doc["backups"] = backup_ages(ctx)
    doc["deleting_soon"] = [
        {"table": u.table, "first_day": u.first_day, "last_day": u.last_day, "rows": u.rows,
         "from": u.on.isoformat()}
        for u in upcoming(ctx.stores, dict(ctx.tables), as_of, pinned=pinned)]
    return doc


def core_ceilings(c: CoreTier, main_conn) -> dict[str, Any] | None:
    """Supabase's read-only line and billing average for core (lib/monitoring/ceilings.py),
    from main's usage history; None before any sample or without a quota."""
    from .ceilings import from_history
    from .quota import REARM_MARGIN_PCT

    ceil = from_history(main_conn, read_only_pct=c.read_only_pct, cycle_day=c.billing_cycle_day,
                        target_pct=c.warn_pct - REARM_MARGIN_PCT)
    return None if ceil is None else {**ceil.as_json(), "lines": _ceiling_lines(ceil)}


def _ceiling_lines(ceil) -> list[str]:
    from .ceilings import lines

    return lines(ceil, human_bytes)


def backup_ages(ctx: StatusContext) -> dict[str, Any]:
    """Each tier's newest backup and whether its schedule missed one; the store's error when
    it cannot be read (status still shows everything else)."""
    from ..backup.snapshot import newest_age

    schedules = {"core": ctx.backup.core_schedule, "main": ctx.backup.main_schedule}
    try:
        store = ctx.backup_store()
        return first_backup_not_due(newest_age(store, schedules), installed_at(store))
    except PersysError as exc:
        return {"error": str(exc)}


def installed_at(store) -> dt.datetime | None:
    """When this install began: the archive marker `persys setup` (or the first archive run)
    writes; None when there is none yet."""
    import json

    from ..archive.marker import MARKER

    try:
        if not store.exists(MARKER):
            return None
        created = json.loads(store.get(MARKER))["created"]
        return dt.datetime.fromisoformat(created)
    except (PersysError, ValueError, KeyError, TypeError):
        return None


def first_backup_not_due(ages: dict[str, dict | None], since: dt.datetime | None,
                         now: dt.datetime | None = None) -> dict[str, dict | None]:
    """A tier never backed up is OVERDUE only once its schedule has had its chance since the
    install began (a fresh install is "not yet due"); `first_due` says when that is."""
    from ..backup.snapshot import GRACE_HOURS, SCHEDULE_HOURS

    now = now or dt.datetime.now(dt.UTC)
    for b in ages.values():
        if b is None or b["id"] is not None:
            continue
        every = SCHEDULE_HOURS.get(b["schedule"])
        due = since + dt.timedelta(hours=every + GRACE_HOURS) if since and every else None
        b["overdue"] = due is not None and now > due
        b["first_due"] = due.isoformat(timespec="minutes") if due else None
    return ages


def lifecycle_due(ctx: StatusContext, as_of: dt.date) -> dict[str, Any]:
    """What the next core→main run would move, and the core bytes it would give back."""
    from ..pg.partitions import reclaimable_bytes
    from ..tiering.planner import plan_table

    core = ctx.tiers["core"]
    out: dict[str, Any] = {"tables": {}, "due_rows": 0, "reclaimable_bytes": 0}
    with core.connect(autocommit=True) as conn:
        for table, policy in ctx.tables.items():
            plan = plan_table(conn, table, policy, ctx.timezone, as_of)
            entry = {**plan.as_json(), "reclaimable_bytes": reclaimable_bytes(
                core, conn, table, plan.rows, plan.cutoff)}
            entry.pop("table")
            out["tables"][table] = entry
            out["due_rows"] += plan.rows
            out["reclaimable_bytes"] += entry["reclaimable_bytes"]
    return out


def recent_ledger(conn, limit: int = 10) -> list[dict]:
    if not table_exists(conn, "persys.ledger"):
        return []
    rows = conn.execute(
        """select table_name, first_day, last_day, from_tier, to_tier, rows, bytes, outcome,
                  started_at, ended_at
             from persys.ledger order by id desc limit %s""",
        (limit,),
    ).fetchall()
    keys = ("table", "first_day", "last_day", "from", "to", "rows", "bytes", "outcome",
            "started_at", "ended_at")
    return [
        {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v)
         for k, v in zip(keys, row, strict=True)}
        for row in rows
    ]


def archive_inventory(ctx: StatusContext) -> dict[str, Any]:
    """Files, bytes and days per table from the stores' manifests, and which store holds what
    (see lib/maintenance.inventory)."""
    from ..archive.maintenance import inventory

    return inventory(ctx.stores, list(ctx.tables))


def render(doc: dict[str, Any]) -> str:
    """The human table of `persys status`."""
    lines = [f"persys status as of {doc['as_of']}", "", "Tiers"]
    for name in ("core", "main"):
        t = doc["tiers"][name]
        quota = (f" of {human_bytes(t['quota_bytes'])} ({t['pct']:.1f}%)" if t["quota_bytes"] else
                 " (no quota)")
        lines.append(f"  {name:<8}{human_bytes(t['bytes']):>12}{quota}")
    a = doc["tiers"]["archive"]
    lines.append(f"  {'archive':<8}{human_bytes(a['bytes']):>12} in "
                 f"{plural(a['files'], 'file')} at {a['url']}")
    for store in a.get("stores", [])[1:] + [s for s in a.get("stores", [])[:1]
                                            if not s["reachable"]]:
        state = (f"{human_bytes(store['bytes'])} in {plural(store['files'], 'file')}"
                 if store["reachable"]
                 else f"DOWN: {store['error']}")
        lines.append(f"  {'':<8}{store['role']} {store['url']}: {state}")
    lines += ["", (f"{'Tables':<23}" + "".join(f"{t:<38}" for t in ("core", "main",
                                                                   "archive"))).rstrip()]
    for table, tiers in doc["tables"].items():
        cells = [_cell(tiers.get(t, EMPTY.as_json())) for t in ("core", "main", "archive")]
        lines.append(f"  {table:<20} " + "".join(f"{c:<38}" for c in cells).rstrip())
        nulls = tiers.get("core", {}).get("null_day_rows", 0)
        if nulls:
            verb = "has no day and stays" if nulls == 1 else "have no day and stay"
            lines.append(f"  {'':<20} ({plural(nulls, 'row')} in core {verb} there)")
        for tier in ("core", "main"):
            odd = tiers.get(tier, {}).get("unplaced_day_rows", 0)
            if odd:
                lines.append(f"  {'':<20} ({plural(odd, 'row')} in {tier} dated ±infinity, BC "
                             "or after 9999: no month to move them to, they stay there)")
    if doc.get("forecast"):
        lines += ["", "Forecast (at the current growth rate)"]
        for tier, fc in doc["forecast"].items():
            cells = [f"{line}%: " + ("crossed" if c["already"] else c["date"] or "never")
                     for line, c in fc["lines"].items()]
            if fc["bytes_per_day"] is None:  # "never" would be a guess: too little history
                cells = [f"{line}%: crossed" for line, c in fc["lines"].items()
                         if c["already"]] + ["growth not known yet (needs a day of history)"]
            lines.append(f"  {tier:<8}" + "   ".join(cells))
    if doc.get("ceilings"):
        lines += ["", "Supabase ceilings (core)"]
        lines += [f"  {line}" for line in doc["ceilings"]["lines"]]
    if doc.get("pins"):
        lines += ["", "Pinned in main (restored; not archived until the date, or `persys "
                      "archive unpin`)"]
        lines += [f"  {p['table']:<20} {p['first_day']}..{p['last_day']}  until {p['until']}"
                  for p in doc["pins"]]
    due = doc.get("lifecycle")
    if due and due["due_rows"]:
        lines += ["", f"Due to move core→main: {plural(due['due_rows'], 'row')}; "
                      f"{human_bytes(due['reclaimable_bytes'])} of core reclaimable"]
    held = [(t, ref, n) for t, plan in (due or {}).get("tables", {}).items()
            for ref, n in plan.get("held_back", {}).items()]
    if held:
        lines += ["", "Held back in core (still referenced there; they move once nothing in "
                      "core points at them)"]
        lines += [f"  {t:<20} {plural(n, 'row'):>13} referenced by {ref}"
                  for t, ref, n in held]
    if doc.get("deleting_soon"):
        lines += ["", "Deleted by retention within 14 days (what remains is their digest; "
                      "`persys archive pin TABLE --from D --to D` keeps them)"]
        lines += [f"  {u['table']:<20} {u['first_day']}..{u['last_day']}  "
                  f"{plural(u['rows'], 'row')} from {u['from']}" for u in doc["deleting_soon"]]
    if doc.get("digests"):
        lines += ["", "Digests (counts, sums, extremes per day: kept when a month is archived, "
                      "all that remains of it once purged)"]
        lines += [f"  {t:<20} {plural(d['days'], 'day')} {d['first_day']}..{d['last_day']}  "
                  f"{human_bytes(d['bytes'])}" for t, d in doc["digests"].items()]
    lines += _backup_lines(doc.get("backups") or {})
    lines += _import_lines(doc.get("imports") or [])
    if doc.get("ledger"):
        lines += ["", "Recent moves"]
        for m in doc["ledger"][:5]:
            lines.append(
                f"  {m['started_at'][:16]}  {m['table']:<18} {m['from']}→{m['to']:<8}"
                f" {m['first_day']}..{m['last_day']}  {plural(m['rows'], 'row')}  {m['outcome']}"
            )
    return "\n".join(lines)


def import_history(main) -> list[dict]:
    from ..imports.record import history

    return history(main)


def _import_lines(imports: list[dict]) -> list[str]:
    """Imported history per tier (persys import, the inbox sensor)."""
    if not imports:
        return []
    lines = ["", f"Imported files{'':<34}{'core':>10}{'main':>10}{'archive':>10}  days"]
    for i in imports[:10]:
        name = f"{i['kind']} {i['file'].rsplit('/', 1)[-1]}"[:36]
        counts = "".join(f"{i['new'].get(t, 0):>10,}" for t in ("core", "main", "archive"))
        state = "" if i["state"] == "done" else f"  {i['state'].upper()}"
        lines.append(f"  {name:<46}{counts}  {i['first_day']}..{i['last_day']}{state}")
    return lines


def _backup_lines(backups: dict[str, Any]) -> list[str]:
    """Age of the newest backup per tier; OVERDUE when its schedule missed one (never on a
    fresh install: see first_backup_not_due)."""
    if not backups:
        return []
    if "error" in backups:
        return ["", f"Backups  cannot be listed: {backups['error']}"]
    lines = ["", "Backups (newest)"]
    for tier, b in backups.items():
        if b is None:
            lines.append(f"  {tier:<8}none (schedule off; `persys backup run --tier {tier}`)")
        elif b["id"] is None and b["overdue"]:
            lines.append(f"  {tier:<8}none yet (OVERDUE: {b['schedule']} schedule; `persys "
                         f"backup run --tier {tier}`)")
        elif b["id"] is None:
            lines.append(f"  {tier:<8}none yet (not yet due: the {b['schedule']} schedule takes "
                         f"the first; `persys backup run --tier {tier}` takes one now)")
        else:
            hours = b["age_hours"]
            age = f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"
            late = f"  OVERDUE for its {b['schedule']} schedule" if b["overdue"] else ""
            lines.append(f"  {tier:<8}{b['id']}  {age} old{late}")
    return lines


def _cell(r: dict) -> str:
    """One tier's rows and days; a tier may hold rows without a day (open tasks) and no range."""
    if not r["rows"]:
        return "-"
    if not r["first_day"]:
        return f"{number(r['rows']):>8} {noun(r['rows'], 'row')}, none with a day"
    last = r["last_day"][5:] if r["last_day"][:4] == r["first_day"][:4] else r["last_day"]
    return f"{number(r['rows']):>8} {noun(r['rows'], 'row'):<4} {r['first_day']}..{last}"
