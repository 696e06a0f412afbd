"""`persys status`: what each tier holds and costs, measured from the tiers themselves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .config import Config
from .postgres import resolve_tiers
from .schema import table_exists
from .tables import EMPTY, day_range


def collect(cfg: Config, as_of: dt.date | None = None) -> dict[str, Any]:
    """The status document (the `--json` shape of README's `persys status`)."""
    as_of = as_of or cfg.today()
    doc: dict[str, Any] = {"as_of": as_of.isoformat(), "tiers": {}, "tables": {}}
    tables: dict[str, dict] = {name: {} for name in cfg.tables}
    for name, tier in resolve_tiers(cfg).items():
        size = tier.size_bytes()
        quota = tier.quota_bytes
        doc["tiers"][name] = {
            "bytes": size,
            "quota_bytes": quota,
            "pct": round(100.0 * size / quota, 2) if quota else None,
        }
        with tier.connect() as conn:
            for table, policy in cfg.tables.items():
                tables[table][name] = day_range(conn, table, policy, cfg.timezone).as_json()
            if name == "main":
                doc["ledger"] = recent_ledger(conn)
    archive = archive_inventory(cfg)
    doc["tiers"]["archive"] = {"bytes": archive["bytes"], "files": archive["files"],
                               "url": archive["url"]}
    for table in cfg.tables:
        tables[table]["archive"] = archive["tables"].get(table, EMPTY.as_json())
    doc["tables"] = tables
    return doc


def recent_ledger(conn, limit: int = 10) -> list[dict]:
    if not table_exists(conn, "persys_ledger"):
        return []
    rows = conn.execute(
        """select table_name, first_day, last_day, from_tier, to_tier, rows, bytes, outcome,
                  started_at, ended_at
             from persys_ledger order by id desc limit %s""",
        (limit,),
    ).fetchall()
    keys = ("table", "first_day", "last_day", "from", "to", "rows", "bytes", "outcome",
            "started_at", "ended_at")
    return [
        {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v)
         for k, v in zip(keys, row, strict=True)}
        for row in rows
    ]


def archive_inventory(cfg: Config) -> dict[str, Any]:
    """Files and bytes in the archive store (a folder for now; see lib/archive.py)."""
    url = cfg.archive_url
    out: dict[str, Any] = {"url": url, "bytes": 0, "files": 0, "tables": {}}
    if url.startswith("file://"):
        root = Path(url[len("file://"):])
        if root.is_dir():
            for path in root.rglob("*.parquet"):
                out["files"] += 1
                out["bytes"] += path.stat().st_size
    return out


def render(doc: dict[str, Any]) -> str:
    """The human table of `persys status`."""
    lines = [f"persys status as of {doc['as_of']}", "", "Tiers"]
    for name in ("core", "main"):
        t = doc["tiers"][name]
        quota = (f" of {_mb(t['quota_bytes'])} ({t['pct']:.1f}%)" if t["quota_bytes"] else
                 " (no quota)")
        lines.append(f"  {name:<8}{_mb(t['bytes']):>12}{quota}")
    a = doc["tiers"]["archive"]
    lines.append(f"  {'archive':<8}{_mb(a['bytes']):>12} in {a['files']} files at {a['url']}")
    lines += ["", "Tables" + " " * 17 + "core" + " " * 29 + "main" + " " * 29 + "archive"]
    for table, tiers in doc["tables"].items():
        cells = [_cell(tiers.get(t, EMPTY.as_json())) for t in ("core", "main", "archive")]
        lines.append(f"  {table:<20} " + "".join(f"{c:<33}" for c in cells).rstrip())
        nulls = tiers.get("core", {}).get("null_day_rows", 0)
        if nulls:
            lines.append(f"  {'':<20} ({nulls} rows in core have no day and stay there)")
    if doc.get("ledger"):
        lines += ["", "Recent moves"]
        for m in doc["ledger"][:5]:
            lines.append(
                f"  {m['started_at'][:16]}  {m['table']:<18} {m['from']}→{m['to']:<8}"
                f" {m['first_day']}..{m['last_day']}  {m['rows']} rows  {m['outcome']}"
            )
    return "\n".join(lines)


def _cell(r: dict) -> str:
    if not r["rows"]:
        return "-"
    return f"{r['rows']:>8,} rows {r['first_day']}..{r['last_day'][5:]}"


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024 / 1024:,.1f} MB"
