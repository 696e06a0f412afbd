"""Digests: what remains of a day when retention deletes its rows.

Per table and day, from an archive file's rows: the row count, and per column what can be
merged again later (sums merge by adding, minima by taking the smaller, …): for numbers
count, sum, min, max and sum of squares; for dates and times count, min, max; for text count,
words and, when a column holds few distinct values (a category), the count of each value;
booleans count and trues. A month's digest is its days' digests merged (`merge`), so the
briefing's baselines and a yearly look-back can still read totals, averages and spread after
the rows are gone. Computed with Arrow only: the same file always gives the same digest, so
the purge can recompute it from the file it is about to delete and refuse on any difference.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ..lazy import lazy_module
from .format import day_of, pg_types_of

pa, pc = lazy_module("pyarrow"), lazy_module("pyarrow.compute")

CATEGORY_MAX = 24  # distinct values a text column may have to be counted per value
NUMBER = ("smallint", "integer", "bigint", "real", "double precision")
TIME = ("date", "timestamp with time zone", "timestamp without time zone")


def of_file(data: pa.Table) -> dict[str, dict[str, Any]]:
    """Day (ISO) → that day's digest, from a decoded archive file."""
    types = pg_types_of(data.schema)
    days = data.column(day_of(data.schema))
    out: dict[str, dict[str, Any]] = {}
    for day in sorted({d for d in days.to_pylist() if d is not None}):
        rows = data.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        out[day.isoformat()] = _digest(rows, types)
    return out


def _digest(rows: pa.Table, types: dict[str, str]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name, kind in types.items():
        col = rows.column(name)
        if kind in NUMBER or kind.startswith("numeric"):
            columns[name] = _numbers(col)
        elif kind in TIME:
            columns[name] = _times(col)
        elif kind == "boolean":
            columns[name] = {"count": _count(col),
                             "true": int(pc.sum(pc.cast(pc.fill_null(col, False),
                                                        pa.int64())).as_py() or 0)}
        elif kind in ("text", "character varying") or kind.startswith("character"):
            columns[name] = _text(col)
    return {"rows": rows.num_rows, "columns": columns}


def _count(col: pa.ChunkedArray) -> int:
    return len(col) - col.null_count


def _numbers(col: pa.ChunkedArray) -> dict[str, Any]:
    """(A month whose column had to be kept as text, e.g. numeric NaN, gives the same.)"""
    values = [float(v) for v in col.to_pylist() if v is not None]
    finite = [v for v in values if math.isfinite(v)]
    out: dict[str, Any] = {"count": len(values)}
    if finite:
        out |= {"min": min(finite), "max": max(finite)}
        for key, total in (("sum", _fsum(finite)), ("sumsq", _fsum(v * v for v in finite))):
            out[key] = total  # None: beyond a double (values near 1e308); JSON has no inf
    if len(finite) != len(values):
        out["not_finite"] = len(values) - len(finite)
    return out


def _fsum(values) -> float | None:
    try:
        total = math.fsum(values)
    except OverflowError:
        return None
    return total if math.isfinite(total) else None


def _times(col: pa.ChunkedArray) -> dict[str, Any]:
    values = [v for v in col.to_pylist() if v is not None]
    out: dict[str, Any] = {"count": len(values)}
    if values:
        out |= {"min": _iso(min(values)), "max": _iso(max(values))}
    return out


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)


def _text(col: pa.ChunkedArray) -> dict[str, Any]:
    values = [v for v in col.to_pylist() if v is not None]
    out: dict[str, Any] = {"count": len(values), "words": sum(len(v.split()) for v in values)}
    distinct = set(values)
    if values and len(distinct) <= CATEGORY_MAX and len(distinct) < max(2, len(values)):
        out["values"] = {v: values.count(v) for v in sorted(distinct)}
    return out


def merge(digests: list[dict[str, Any]]) -> dict[str, Any]:
    """Several digests (days of a month, or files of a day) as one."""
    out: dict[str, Any] = {"rows": 0, "columns": {}}
    for d in digests:
        out["rows"] += d["rows"]
        for name, part in d["columns"].items():
            have = out["columns"].setdefault(name, {})
            for key, value in part.items():
                if key in ("sum", "sumsq"):
                    have[key] = (None if value is None or have.get(key, 0) is None
                                 else have.get(key, 0) + value)
                elif key in ("count", "words", "true", "not_finite"):
                    have[key] = have.get(key, 0) + value
                elif key == "min":
                    have[key] = value if key not in have else min(have[key], value)
                elif key == "max":
                    have[key] = value if key not in have else max(have[key], value)
                elif key == "values":
                    counts = have.setdefault("values", {})
                    for v, n in value.items():
                        counts[v] = counts.get(v, 0) + n
    return out


def store(conn, table: str, source: str, digests: dict[str, dict[str, Any]]) -> None:
    """The file's digests into main's `persys.digests` (in the caller's transaction)."""
    from psycopg.types.json import Jsonb

    from ..pg.schema import create_digests

    create_digests(conn)
    conn.execute("delete from persys.digests where table_name = %s and source = %s",
                 (table, source))
    with conn.cursor() as cur:
        cur.executemany("insert into persys.digests (table_name, day, source, digest) "
                        "values (%s, %s, %s, %s)",
                        [(table, day, source, Jsonb(d)) for day, d in digests.items()])


def stored(conn, table: str, source: str) -> dict[str, dict[str, Any]] | None:
    """The digests kept for one file (None: none were kept, e.g. archived before digests)."""
    from ..pg.catalog import table_exists

    if not table_exists(conn, "persys.digests"):
        return None
    rows = conn.execute("select day, digest from persys.digests where table_name = %s and "
                        "source = %s", (table, source)).fetchall()
    return {d.isoformat(): digest for d, digest in rows} or None


def same(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> bool:
    """Equal digests (floats compared to 1e-9 of their size: sums are exact sums of the same
    values, only their JSON round trip may touch the last bit)."""
    if a.keys() != b.keys():
        return False
    return all(_close(a[k], b[k]) for k in a)


def _close(x: Any, y: Any) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    if isinstance(x, float) or isinstance(y, float):
        return math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-9)
    return x == y
