"""The checker: every row of the app's tables and of daily_summaries, read from core, main
and every archive file (decrypted, as `persys archive verify` reads them), compared with what
the app acknowledged and what the policies allowed to go."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive import format as fmt
from persys_pipelines.lib.archive.manifest import load_file, read_manifest
from persys_pipelines.lib.config import Config
from persys_pipelines.lib.pg.catalog import table_exists

from .world import APP_TABLES, POLICIES


@dataclass
class Found:
    """Table → key → [(place, [day, value, body])] for every copy of every row."""

    rows: dict[str, dict[str, list[tuple[str, list]]]] = field(default_factory=dict)

    def add(self, table: str, place: str, key: str, row: list) -> None:
        self.rows.setdefault(table, {}).setdefault(key, []).append((place, row))


def read_everything(cfg: Config) -> Found:
    found = Found()
    columns = {**APP_TABLES, "daily_summaries": ("day", "summary_text", "summary_text")}
    for tier in ("core", "main"):
        with resolve_tier(cfg, tier).connect() as conn:
            for table, (day, value, body) in columns.items():
                if not table_exists(conn, table):
                    continue
                key = "day::text" if table == "daily_summaries" else "id::text"
                rel = "persys.daily_summaries" if table == "daily_summaries" else table
                for k, d, v, b in conn.execute(
                        f"select {key}, {day}::text, {value}, {body} from {rel}").fetchall():
                    found.add(table, tier, k, [d, v, b])
    for store in handles.targets(cfg):
        for table, (day, value, body) in columns.items():
            for entry in read_manifest(store.store, table).committed():
                data = fmt.read_parquet(load_file(store.store, store.ring, entry)[0])
                types = fmt.pg_types_of(data.schema)
                pk = "day" if table == "daily_summaries" else "id"
                for row in fmt.python_rows(data, types):
                    r = dict(zip(types, row, strict=True))
                    found.add(table, f"archive:{entry.key}", str(r[pk]),
                              [str(r[day]), r[value], r[body]])
    return found


def check(cfg: Config, acknowledged: dict, purged_as_of: dt.date | None,
          written_days: dict[str, str]) -> dict[str, int]:
    """Raise AssertionError naming rows lost, doubled, changed or resurrected."""
    found = read_everything(cfg)
    counts: Counter = Counter()
    problems: list[str] = []
    for table in APP_TABLES:
        here = found.rows.get(table, {})
        last = acknowledged[table]
        cut = (purged_as_of - dt.timedelta(days=POLICIES[table]["delete_days"])
               if purged_as_of else None)
        for key, copies in here.items():
            if len(copies) > 1:
                problems.append(f"{table} {key}: in {len(copies)} places {copies}")
            if key not in last:
                problems.append(f"{table} {key}: a row the app never wrote {copies}")
            elif last[key] is None:
                problems.append(f"{table} {key}: deleted by the app, but in {copies}")
            elif copies[0][1] != last[key]:
                problems.append(f"{table} {key}: {copies[0][1]} in {copies[0][0]}, the app "
                                f"last wrote {last[key]}")
            counts[copies[0][0].split(":")[0]] += 1
        for key, row in last.items():
            if row is None or key in here:
                continue
            if cut and dt.date.fromisoformat(row[0]) < cut:
                counts["purged"] += 1  # gone by policy
                continue
            problems.append(f"{table} {key}: LOST (day {row[0]}, last written {row})")
    summaries = found.rows.get("daily_summaries", {})
    for day, copies in summaries.items():
        if len(copies) > 1:
            problems.append(f"daily_summaries {day}: in {len(copies)} places {copies}")
    cut = (purged_as_of - dt.timedelta(days=POLICIES["daily_summaries"]["delete_days"])
           if purged_as_of else None)
    for day in written_days:
        if day not in summaries and not (cut and dt.date.fromisoformat(day) < cut):
            problems.append(f"daily_summaries {day}: LOST")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:20])
    return dict(counts)
