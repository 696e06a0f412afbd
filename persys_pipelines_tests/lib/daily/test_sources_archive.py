"""Rows that come from a file (the archive) rather than a query get the same `where` filter and
the same `value` expression, computed by PostgreSQL over main's row type, as rows still in a
tier: a summary of an archived day equals the one made before it moved."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.daily import summary
from persys_pipelines.lib.tiering import reader
from persys_pipelines.lib.tiering.reader import PostgresSource
from persys_pipelines_tests.lib.daily.test_sources import D1, D2, A, own  # noqa: F401


@dataclass(frozen=True)
class FileRows:
    """Stands in for the archive: returns stored columns as files hold them (no SQL)."""

    frame: pd.DataFrame
    table: str
    name: str = "archive"

    def read(self, request):
        if request.table != self.table:
            return None
        return self.frame.copy()

    def primary_key(self, table: str):
        return ["id"] if table == self.table else None


def test_archived_rows_get_the_filter_and_the_expression(own):  # noqa: F811
    archived = pd.DataFrame({  # two payments of 9 June, and one filtered out by `where`
        "id": [2001, 2002], "user_id": [A, A], "paid_on": [dt.date(2024, 6, 9)] * 2,
        "amount_cents": [1999, 501], "category": ["books", "coffee"],
        "day": [dt.date(2024, 6, 9)] * 2,
    })
    srcs = [PostgresSource(resolve_tier(own, "core")), PostgresSource(resolve_tier(own, "main")),
            FileRows(archived, "payments")]
    tiers = handles.tiered_reader(own)
    rows = reader.read(tiers, "payments", dt.date(2024, 6, 9), D2, from_sources=srcs,
                       columns=("paid_on", "category", "amount_cents"),
                       filters={"category": "books"}, expressions={"euros": "amount_cents / 100.0"},
                       policy=reader.policy_for(own.tables, "vitals").model_copy(
                           update={"day_column": "paid_on"}))
    assert sorted(float(v) for v in rows["euros"]) == [19.99]
    raw = summary.read_raw(handles.daily_handles(own), dt.date(2024, 6, 9), D2, srcs)
    d0, d1, d2 = summary.compute(handles.daily_handles(own), dt.date(2024, 6, 9), D2, raw)
    assert d0.finance["spend"] == 25.0 and d0.finance["spend_by_category"] == {
        "books": 19.99, "coffee": 5.01}
    assert d1.finance["month_to_date_spend"] == 45.5  # 25 archived + 20.50 in main
    assert d2.finance["spend"] == 1253.5
