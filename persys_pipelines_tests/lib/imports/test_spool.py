"""The spool: rows routed by day into per-tier, per-month COPY files, with a bounded number of
files open at once (ten years of history is hundreds of month files)."""

from __future__ import annotations

import datetime as dt
import random

from persys_pipelines.lib.config import TablePolicy
from persys_pipelines.lib.imports import spool as spool_module
from persys_pipelines.lib.imports.rows import row_id
from persys_pipelines.lib.imports.spool import Spool
from persys_pipelines.lib.moves.import_plan import tier_of

TODAY = dt.date(2026, 12, 7)
POLICY = TablePolicy(day_column="measured_at", core_days=30, main_days=365, delete_days=3650)


def test_rows_land_in_their_month_file_with_few_files_open(tmp_path, monkeypatch):
    monkeypatch.setattr(spool_module, "MAX_OPEN", 3)  # every few rows a file is closed
    days = [TODAY - dt.timedelta(days=d) for d in range(0, 4000, 11)]  # ~11 years, 3 tiers
    rows = [(f"k{n}", day, (f"{day} 10:00", "steps", str(n), None if n % 5 else "a\tb"))
            for n, day in enumerate(days * 3)]
    random.Random(7).shuffle(rows)  # records of one type visit every month, again and again
    spool = Spool(tmp_path, "health_metrics", POLICY, TODAY, "id",
                  [(0, "measured_at"), (2, "value"), (3, "unit")], label=1, key_has_day=True)
    spooled = spool.add_all(rows)

    kept = [r for r in rows if r[1] >= TODAY - dt.timedelta(days=3650)]
    assert spooled.past_retention == len(rows) - len(kept) > 0
    assert {b.tier for b in spooled.batches} == {"core", "main", "archive"}
    assert len(spooled.batches) > 3 * spool_module.MAX_OPEN
    assert spooled.rows == len(kept)
    assert sum(spooled.planned.values()) == len(kept)
    lines = {}
    for batch in spooled.batches:
        text = batch.path.read_text().splitlines()
        assert len(text) == batch.rows
        for line in text:
            lines[line.split("\t", 1)[0]] = (batch.tier, batch.month, line)
    assert len(lines) == len(kept)
    for key, day, (at, _, value, unit) in kept:
        tier, month, line = lines[row_id(key)]
        assert (tier, month) == (tier_of(POLICY, TODAY, day), day.replace(day=1))
        expected = "\\N" if unit is None else unit.replace("\t", "\\t")
        assert line == f"{row_id(key)}\t{at}\t{value}\t{expected}"
