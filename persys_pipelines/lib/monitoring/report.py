"""The Markdown report: `persys status --report` and the daily report asset.

Sections as people used them in the old `data_monitor.py`: `sizes` (tier sizes against quota
with a usage chart, table inventory per tier, forecast), `sync` (recent moves from the ledger,
failures), `lifecycle` (what is due per table). The full report adds free-tier usage and
health (uptime, open incidents).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..pg.catalog import table_exists
from . import forecast as forecast_lib
from . import health, usage
from .context import StatusContext
from .status import collect, human_bytes

SECTIONS = ("sizes", "sync", "lifecycle")
SPARK = "▁▂▃▄▅▆▇█"
BAR_WIDTH = 40


def build(ctx: StatusContext, sections: tuple[str, ...] = (), *, as_of: dt.date | None = None,
          costs_doc: dict | None = None, chart_png: Path | None = None,
          now: dt.datetime | None = None) -> str:
    """The report; no `sections` means all of them plus free-tier usage and health."""
    now = now or dt.datetime.now(dt.UTC)
    doc = collect(ctx, as_of)
    full = not sections
    parts = [f"# persys report — {doc['as_of']}", ""]
    with ctx.tiers["main"].connect() as main:
        # this report's own measurement joins the history the chart and forecast are drawn
        # from, so `persys status --report` builds one even without the quota sensor running
        usage.record(main, [usage.Usage(t, doc["tiers"][t]["bytes"],
                                        doc["tiers"][t]["quota_bytes"], now)
                            for t in ("core", "main")])
        histories = {t: usage.history(main, t, now - dt.timedelta(days=30))
                     for t in ("core", "main")}
        if full or "sizes" in sections:
            parts += sizes_section(ctx, doc, histories, now, chart_png)
        if full or "sync" in sections:
            parts += sync_section(main, doc, now)
        if full or "lifecycle" in sections:
            parts += lifecycle_section(doc)
        if full:
            parts += free_tier_section(costs_doc)
            parts += health_section(ctx, main, now)
    return "\n".join(parts).rstrip() + "\n"


def _light(pct: float | None, warn: float, critical: float) -> str:
    if pct is None:
        return "⚪"
    return "🔴" if pct >= critical else "🟡" if pct >= warn else "🟢"


def usage_bar(pct: float, warn: float, critical: float, width: int = BAR_WIDTH) -> str:
    """`[█████░░░░|░░|░]`: filled to the usage, `|` at the warn and critical lines."""
    filled = min(width, round(width * pct / 100))
    cells = ["█" if i < filled else "░" for i in range(width)]
    for line in (warn, critical):
        i = min(width - 1, round(width * line / 100))
        cells[i] = "┃" if i < filled else "|"
    return "[" + "".join(cells) + "]"


def sparkline(values: list[float], top: float) -> str:
    if not values or top <= 0:
        return ""
    return "".join(SPARK[min(len(SPARK) - 1, int(len(SPARK) * v / top))] for v in values)


def daily_max(samples: list[usage.Usage]) -> list[float]:
    by_day: dict[dt.date, float] = {}
    for s in samples:
        by_day[s.at.date()] = max(by_day.get(s.at.date(), 0), s.bytes)
    return [by_day[d] for d in sorted(by_day)]


def sizes_section(ctx: StatusContext, doc: dict, histories: dict, now: dt.datetime,
                  chart_png: Path | None) -> list[str]:
    lines = ["## Sizes", "", "| tier | size | quota | used | status |", "|---|---|---|---|---|"]
    for name in ("core", "main"):
        t = doc["tiers"][name]
        tc = getattr(ctx.limits, name)
        pct = f"{t['pct']:.1f}%" if t["pct"] is not None else "-"
        lines.append(f"| {name} | {human_bytes(t['bytes'])} | {human_bytes(t['quota_bytes'])} "
                     f"| {pct} | {_light(t['pct'], tc.warn_pct, tc.critical_pct)} |")
    a = doc["tiers"]["archive"]
    lines.append(f"| archive | {human_bytes(a['bytes'])} | - | {a['files']} files | ⚪ |")
    lines += ["", "### Usage chart", "", "```"]
    for name in ("core", "main"):
        t = doc["tiers"][name]
        tc = getattr(ctx.limits, name)
        if t["pct"] is not None:
            lines.append(f"{name:<5} {usage_bar(t['pct'], tc.warn_pct, tc.critical_pct)} "
                         f"{t['pct']:5.1f}% of {human_bytes(t['quota_bytes'])}")
        else:
            lines.append(f"{name:<5} {human_bytes(t['bytes'])} (no quota)")
        values = daily_max(histories[name])
        if len(values) > 1:  # one day's peak draws nothing worth reading
            top = t["quota_bytes"] or max(values)
            lines.append(f"      last {len(values)} days: {sparkline(values, top)}")
    legend = "`|` marks warn_pct and critical_pct"
    if any(len(daily_max(h)) > 1 for h in histories.values()):
        legend += ("; `last N days` is each day's peak size, full height = the quota (or "
                   "the largest size when the tier has none)")
    lines += ["```", f"({legend})", ""]
    if chart_png is not None and write_chart(ctx, histories, chart_png):
        lines += [f"![usage]({chart_png.name})", ""]
    lines += ["### Tables per tier", "", "| table | core | main | archive |", "|---|---|---|---|"]
    for table, tiers in doc["tables"].items():
        cells = [_cell(tiers.get(t)) for t in ("core", "main", "archive")]
        lines.append(f"| {table} | " + " | ".join(cells) + " |")
    lines += ["", "### Forecast", ""] + forecast_lines(ctx, histories, now) + [""]
    if doc.get("ceilings"):  # core's two Supabase lines (lib/monitoring/ceilings.py)
        lines += ["### Supabase ceilings", ""] + [f"- {t}" for t in doc["ceilings"]["lines"]]
        lines += [""]
    return lines


def _cell(r: dict | None) -> str:
    if not r or not r.get("rows"):
        return "-"
    if not r.get("first_day"):  # only rows without a day (open tasks): no range to show
        return f"{r['rows']:,} rows, none with a day"
    return f"{r['rows']:,} rows, {r['first_day']} … {r['last_day']}"


def forecast_lines(ctx: StatusContext, histories: dict, now: dt.datetime) -> list[str]:
    out = ["| tier | growth/day | 80% | 90% | 95% |", "|---|---|---|---|---|"]
    for name, samples in histories.items():
        fc = forecast_lib.forecast(samples)
        if getattr(ctx.limits, name).quota_mb is None:
            out.append(f"| {name} | - | no quota set (tiers.{name}.quota_mb) | | |")
            continue
        if fc is None or fc.bytes_per_day is None:
            out.append(f"| {name} | - | not known yet: needs usage samples spread over at "
                       "least a day (the quota sensor adds one every minute under `persys up`, "
                       "each report adds one) | | |")
            continue
        rate = f"{fc.bytes_per_day / 1024 / 1024:+.2f} MB"
        cells = []
        for c in fc.crossings:
            if c.already:
                cells.append("**crossed**")
            elif c.at is None:
                cells.append("never")
            else:
                days = c.days_from(now)
                mark = " ⚠️" if days < ctx.forecast_alert_days else ""
                cells.append(f"{c.at.date().isoformat()} (in {days:.0f} d){mark}")
        out.append(f"| {name} | {rate} | " + " | ".join(cells) + " |")
    return out


def write_chart(ctx: StatusContext, histories: dict, path: Path) -> bool:
    """A PNG of usage over time with the quota lines (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not any(histories.values()):
        return False
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for name, samples in histories.items():
        if samples:
            ax.plot([s.at for s in samples], [s.bytes / 1024 / 1024 for s in samples],
                    label=name)
            quota = samples[-1].quota_bytes
            if quota:
                tc = getattr(ctx.limits, name)
                for pct, style in ((tc.warn_pct, ":"), (tc.critical_pct, "--"), (100, "-")):
                    ax.axhline(quota * pct / 100 / 1024 / 1024, linestyle=style,
                               linewidth=0.8, color="grey")
    ax.set_ylabel("MB")
    ax.legend()
    fig.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return True


def sync_section(main, doc: dict, now: dt.datetime) -> list[str]:
    lines = ["## Sync (last 24 h)", ""]
    if table_exists(main, "persys.ledger"):
        total, ok, failed = main.execute(
            "select count(*), count(*) filter (where outcome in ('moved', 'nothing')), "
            "count(*) filter (where outcome in ('failed', 'interrupted')) from persys.ledger "
            "where started_at >= %s", (now - dt.timedelta(days=1),)).fetchone()
        lines += [f"- Total moves: {total}", f"- Successful: {ok}", f"- Failed: {failed}", ""]
    lines += ["### Recent moves", ""]
    if doc.get("ledger"):
        lines += ["| started | table | from → to | days | rows | outcome |",
                  "|---|---|---|---|---|---|"]
        for m in doc["ledger"]:
            lines.append(f"| {m['started_at'][:16].replace('T', ' ')} | {m['table']} | "
                         f"{m['from']} → {m['to']} | "
                         f"{m['first_day']} … {m['last_day']} | {m['rows']:,} | {m['outcome']} |")
    else:
        lines.append("No moves recorded yet.")
    lines += ["", "### Failures", ""] + failure_lines(main) + [""]
    return lines


def failure_lines(main) -> list[str]:
    out = []
    if table_exists(main, "persys.ledger"):
        for table, first, last, outcome, started in main.execute(
                "select table_name, first_day, last_day, outcome, started_at from persys.ledger "
                "where outcome in ('failed', 'interrupted') "
                "order by id desc limit 10").fetchall():
            out.append(f"- move {table} {first} … {last}: {outcome} at {started:%Y-%m-%d %H:%M}")
    out += unledgered_failures(main)
    for inc in health.open_incidents(main):
        out.append(f"- endpoint {inc['endpoint']} down since {inc['opened_at'][:16]}: "
                   f"{inc['detail']}")
    if table_exists(main, "persys.notifications"):
        n = main.execute("select count(*) from persys.notifications "
                         "where sent_at is null and attempts > 0").fetchone()[0]
        if n:
            out.append(f"- {n} notification(s) not delivered yet (retried every tick)")
    return out or ["None."]


def unledgered_failures(main, limit: int = 10) -> list[str]:
    """Failed runs alerted (`run-failure:<run id>`, by the sensor or a `persys` command) that
    wrote no ledger row: a run that failed before moving anything is a failure too."""
    if not table_exists(main, "persys.notifications"):
        return []
    ledgered = ("and not exists (select 1 from persys.ledger l where l.run_id = "
                "substr(n.key, 13))" if table_exists(main, "persys.ledger") else "")
    rows = main.execute(
        "select substr(n.key, 13), min(n.subject), min(n.created_at) "
        "from persys.notifications n where n.key like 'run-failure:%%' " + ledgered +
        " group by n.key order by min(n.created_at) desc limit %s", (limit,)).fetchall()
    return [f"- run {run_id[:8]}: {subject.removeprefix('❌ persys: ')} at {at:%Y-%m-%d %H:%M}"
            for run_id, subject, at in rows]


def lifecycle_section(doc: dict) -> list[str]:
    """What the next core→main run would move (status's `lifecycle` key: due days and rows per
    table, the policy cut-off, the core bytes the move gives back)."""
    lines = ["## Lifecycle", ""]
    due = doc.get("lifecycle") or {"tables": {}, "due_rows": 0, "reclaimable_bytes": 0}
    tables = {t: e for t, e in due["tables"].items() if e["days"]}
    if tables:
        lines += [f"Due to move core → main as of {doc['as_of']}: {due['due_rows']:,} rows; "
                  f"{human_bytes(due['reclaimable_bytes'])} of core comes back after the move.", "",
                  "| table | days due | rows | range | keeps from | reclaimable |",
                  "|---|---|---|---|---|---|"]
        for table, e in tables.items():
            lines.append(f"| {table} | {e['days']} | {e['rows']:,} | {e['first_day']} … "
                         f"{e['last_day']} | {e['cutoff']} | "
                         f"{human_bytes(e['reclaimable_bytes'])} |")
    else:
        lines.append(f"Nothing is due as of {doc['as_of']}: every core day is within its "
                     "table's `core_days`.")
    if doc.get("ledger"):
        last = doc["ledger"][0]
        lines += ["", f"Last move: {last['table']} {last['from']} → {last['to']} "
                  f"({last['outcome']}, {last['started_at'][:16].replace('T', ' ')})"]
    return lines + [""]


def free_tier_section(costs_doc: dict | None) -> list[str]:
    lines = ["## Free-tier usage", ""]
    if costs_doc is None:
        return lines + [
            "Not collected yet: the daily `monitoring/free_tier_usage` asset (07:00 under "
            "`persys up`) reads ElevenLabs, the object store and AWS; core's share of the "
            "Supabase quota is under Sizes.", ""]
    s = costs_doc["supabase"]
    lines.append(f"- Supabase (core): {s['mb']:.1f} MB of {s['limit_mb']:g} MB ({s['pct']:.1f}%)")
    if costs_doc.get("elevenlabs"):
        e = costs_doc["elevenlabs"]
        lines.append(f"- ElevenLabs: {e['credits_used']:,} of {e['credit_limit']:,} credits "
                     f"this month ({e['pct']:.1f}%)")
    o = costs_doc.get("object_store") or {}
    if "bytes" in o:
        lines.append(f"- Object store: {human_bytes(o['bytes'])} in {o['files']} files")
    if costs_doc.get("aws"):
        aws = costs_doc["aws"]
        ahead = (f", forecast ${aws['forecast_usd']:.2f} by the month's end"
                 if aws.get("forecast_usd") is not None else "")
        lines.append(f"- AWS month to date (Budgets): ${aws['mtd_usd']:.2f}{ahead}")
    if costs_doc.get("aws_cost_explorer"):
        lines.append(f"- AWS month to date (Cost Explorer): "
                     f"${costs_doc['aws_cost_explorer']['mtd_usd']:.2f}")
    lines += [f"- Alert threshold: ${costs_doc['threshold_usd']:.2f}"]
    lines += [f"- ⚠️ {err}" for err in costs_doc.get("errors", [])]
    return lines + [""]


def health_section(ctx: StatusContext, main, now: dt.datetime) -> list[str]:
    if not ctx.endpoints:
        return []
    day = now.astimezone(ctx.zone).date()
    up = health.uptime(main, day, ctx.timezone)
    lines = ["## Health", "", "| endpoint | checks today | uptime |", "|---|---|---|"]
    for e in ctx.endpoints:
        u = up.get(e.name)
        shown = f"{u['uptime_pct']:.1f}%" if u else "-"
        lines.append(f"| {e.name} | {u['checks'] if u else 0} | {shown} |")
    return lines + [""]


def latest_costs(home: Path) -> dict[str, Any] | None:
    """The free-tier document the daily asset stored last (no paid call from a report)."""
    import json

    path = home / "reports" / "free_tier_usage.json"
    return json.loads(path.read_text()) if path.exists() else None
