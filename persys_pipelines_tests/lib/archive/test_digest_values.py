"""The digest computed with Arrow and numpy gives what the first version (Python lists, kept
here as the reference) gave, on a month of odd values: NaN and ±inf, nulls, numbers near 1e308
whose sums overflow, ints beyond 2**53, numeric kept as text, BC and infinite dates kept as
text, Unicode whitespace, rows without a day, days out of order and several chunks; except
what it no longer keeps (the day column, values of nearly unique text). `same` accepts a
digest of the first version that agrees and refuses one that does not."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from persys_pipelines.lib.archive import digest
from persys_pipelines.lib.archive.columns import PG_TYPES_META

# --- the first version (commit cf2f77c's lib/archive/digest.py), the reference ---------------


def _old_of_file(data: pa.Table) -> dict:
    types = json.loads(data.schema.metadata[PG_TYPES_META])
    days = data.column("_day")
    out = {}
    for day in sorted({d for d in days.to_pylist() if d is not None}):
        rows = data.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        columns = {}
        for name, kind in types.items():
            col = rows.column(name)
            if kind in digest.NUMBER or kind.startswith("numeric"):
                columns[name] = _old_numbers(col)
            elif kind in digest.TIME:
                values = [v for v in col.to_pylist() if v is not None]
                columns[name] = {"count": len(values)} | ({
                    "min": _iso(min(values)), "max": _iso(max(values))} if values else {})
            elif kind == "boolean":
                columns[name] = {"count": len(col) - col.null_count,
                                 "true": int(pc.sum(pc.cast(pc.fill_null(col, False),
                                                            pa.int64())).as_py() or 0)}
            elif kind in ("text", "character varying") or kind.startswith("character"):
                values = [v for v in col.to_pylist() if v is not None]
                part = {"count": len(values), "words": sum(len(v.split()) for v in values)}
                distinct = set(values)
                if values and len(distinct) <= 24 and len(distinct) < max(2, len(values)):
                    part["values"] = {v: values.count(v) for v in sorted(distinct)}
                columns[name] = part
        out[day.isoformat()] = {"rows": rows.num_rows, "columns": columns}
    return out


def _old_numbers(col: pa.ChunkedArray) -> dict:
    values = [float(v) for v in col.to_pylist() if v is not None]
    finite = [v for v in values if math.isfinite(v)]
    out = {"count": len(values)}
    if finite:
        out |= {"min": min(finite), "max": max(finite)}
        for key, total in (("sum", _fsum(finite)), ("sumsq", _fsum(v * v for v in finite))):
            out[key] = total
    if len(finite) != len(values):
        out["not_finite"] = len(values) - len(finite)
    return out


def _fsum(values):
    try:
        total = math.fsum(values)
    except OverflowError:
        return None
    return total if math.isfinite(total) else None


def _iso(value):
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)


# --- a month of odd values -----------------------------------------------------------------

TYPES = {"id": "uuid", "entry_date": "date", "value": "double precision", "small": "real",
         "big": "bigint", "mood": "smallint", "amount": "numeric(12,2)",
         "nan_amount": "numeric(10,2)", "bc": "date", "at": "timestamp with time zone",
         "naive": "timestamp without time zone", "done": "boolean", "metric": "text",
         "body": "text", "title": "text", "currency": "character(3)", "doc": "jsonb"}
SPACES = ["", " ", "\t", "\n", "\x0b", "\x1c", "\x85", "\xa0", "\u2000", "\u2028", "\u3000",
          "\u200b", "é", "€", "😀", "a", "word"]
ODD = [math.nan, math.inf, -math.inf, None, 1e308, 1.7e308, -0.0, 0.0, 5e-324, 0.1, 1e16, 1.0,
       -1e16, 1e154, 72.5]


def _month(rng: random.Random, n: int = 600) -> pa.Table:
    first = dt.date(2024, 3, 1)
    days = [None if rng.random() < 0.02 else first + dt.timedelta(days=rng.randint(0, 9))
            for _ in range(n)]
    text = ("".join(rng.choice(SPACES) for _ in range(rng.randint(0, 9))) for _ in range(n))
    columns = {
        "id": pa.array([rng.randbytes(16) for _ in range(n)], pa.binary(16)),
        "entry_date": pa.array(days, pa.date32()),
        "value": pa.array([rng.choice(ODD) if rng.random() < 0.5 else rng.gauss(70, 9)
                           for _ in range(n)], pa.float64()),
        "small": pa.array([rng.choice([None, 1.5, 3.25e38, math.nan, 0.1]) for _ in range(n)],
                          pa.float32()),
        "big": pa.array([rng.choice([None, 2**62, -2**63, 2**53 + 1, 7]) for _ in range(n)],
                        pa.int64()),
        "mood": pa.array([rng.choice([None, *range(1, 11)]) for _ in range(n)], pa.int16()),
        "amount": pa.array([None if rng.random() < 0.1 else
                            decimal.Decimal(rng.randint(-10**9, 10**9)) / 100
                            for _ in range(n)], pa.decimal128(12, 2)),
        "nan_amount": pa.array([rng.choice([None, "NaN", "1.50", "-0.07", "Infinity",
                                            "-Infinity", "99999999.99"]) for _ in range(n)]),
        "bc": pa.array([rng.choice([None, "0044-03-15 BC", "infinity", "-infinity",
                                    "2024-03-02", "12345-01-01"]) for _ in range(n)]),
        "at": pa.array([None if d is None or rng.random() < 0.1 else
                        dt.datetime.combine(d, dt.time(rng.randint(0, 23)), dt.UTC)
                        + dt.timedelta(microseconds=rng.randint(0, 10**6))
                        for d in days], pa.timestamp("us", tz="UTC")),
        "naive": pa.array([rng.choice([None, dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31),
                                       dt.datetime(2024, 3, 1, 12)]) for _ in range(n)],
                          pa.timestamp("us")),
        "done": pa.array([rng.choice([None, True, False]) for _ in range(n)], pa.bool_()),
        "metric": pa.array([rng.choice(["heart_rate", "steps", "sleep", None])
                            for _ in range(n)]),
        "body": pa.array([None if rng.random() < 0.1 else t for t in text], pa.string()),
        "title": pa.array([f"title {i}" for i in range(n)]),
        "currency": pa.array([rng.choice(["GBP", "EUR"]) for _ in range(n)]),
        "doc": pa.array(['{"a": 1}'] * n),
        "_day": pa.array(days, pa.date32()),
    }
    table = pa.table(columns).replace_schema_metadata({PG_TYPES_META: json.dumps(TYPES)})
    return pa.concat_tables([table.slice(0, n // 3), table.slice(n // 3)])  # two chunks


@pytest.mark.parametrize("order", ["as written", "by day"])
def test_arrow_digest_gives_the_first_versions_values(order):
    data = _month(random.Random(11))
    if order == "by day":
        data = data.sort_by("_day")
    old, new = _old_of_file(data), digest.of_file(data)
    assert list(new) == list(old) and len(new) == 10
    for day, was in old.items():
        now = new[day]
        assert now["v"] == digest.VERSION and now["rows"] == was["rows"]
        assert "entry_date" not in now["columns"], "the day column says what rows says"
        assert set(was["columns"]) - set(now["columns"]) == {"entry_date"}
        for name, part in now["columns"].items():
            expected = dict(was["columns"][name])
            if name in ("metric", "currency"):  # categories: counted per value every day,
                assert part["values"] == expected.pop("values")  # their words from those
                assert digest.words_of(part)["words"] == expected.pop("words")
                part = {k: v for k, v in part.items() if k != "values"}
            else:  # nearly unique text (title, body): never its values
                assert "values" not in part
                expected.pop("values", None)
            assert part == expected, (day, name)  # exact: the same fsum, min and max
    month, was = digest.merge(list(new.values())), digest.merge(list(old.values()))
    assert month["columns"]["metric"] == was["columns"]["metric"]
    assert all(month["columns"]["body"][k] == was["columns"]["body"][k]
               for k in ("count", "words"))
    merged = month["columns"]["value"]
    assert merged["count"] == sum(d["columns"]["value"]["count"] for d in new.values())
    assert merged["not_finite"] > 0 and any(
        d["columns"]["value"].get("sum") is None for d in new.values()), "odd values drawn"


def test_same_accepts_an_equal_first_version_digest_and_refuses_a_different_one():
    data = _month(random.Random(3))
    old, new = _old_of_file(data), digest.of_file(data)
    assert digest.same(new, digest.of_file(data.sort_by("_day")))
    assert digest.same(old, new) and digest.same(new, old)
    day = next(d for d in new if new[d]["columns"]["mood"].get("sum"))
    changed = json.loads(json.dumps(new))
    changed[day]["columns"]["mood"]["sum"] += 1
    assert not digest.same(new, changed)
    legacy = json.loads(json.dumps(old))
    legacy[day]["columns"]["mood"]["sum"] += 1
    assert not digest.same(legacy, new)
    legacy = json.loads(json.dumps(old))
    legacy[day]["rows"] += 1
    assert not digest.same(legacy, new)
    legacy = json.loads(json.dumps(old))
    legacy[day]["columns"]["metric"]["values"]["steps"] = 10**6
    assert not digest.same(legacy, new)
    missing = dict(new)
    missing.pop(day)
    assert not digest.same(missing, new)


def test_words_are_what_str_split_counts():
    rng = random.Random(5)
    for _ in range(200):
        n = rng.randint(1, 30)
        days = sorted(dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 3))
                      for _ in range(n))
        values = [None if rng.random() < 0.1 else
                  "".join(rng.choice(SPACES) for _ in range(rng.randint(0, 12)))
                  for _ in range(n)]
        data = pa.table({"t": pa.array(values, pa.string()), "_day": pa.array(days)},
                        metadata={PG_TYPES_META: json.dumps({"t": "text"})})
        got = {d: v["columns"]["t"]["words"] for d, v in digest.of_file(data).items()}
        want = {}
        for d, v in zip(days, values, strict=True):
            want[d.isoformat()] = want.get(d.isoformat(), 0) + len((v or "").split())
        assert got == want


def test_digest_file_is_compressed_json_and_reads_back():
    doc = {"table": "t", "file": "f", "rows": 600, "days": digest.of_file(_month(random.Random(1)))}
    data = digest.file_bytes(doc)
    assert digest.read_file_bytes(data) == json.loads(json.dumps(doc))
    assert len(data) < len(json.dumps(doc)) / 4
    assert digest.read_file_bytes(json.dumps(doc).encode()) == json.loads(json.dumps(doc))
