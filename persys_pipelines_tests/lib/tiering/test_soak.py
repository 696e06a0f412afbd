"""Soak: the person's app writes (inserts, updates, deletes on old and new days, autocommit and
short transactions) while lifecycle runs repeat and are killed with SIGKILL at random. At the
end, after one more run: every row the app last wrote is in exactly one tier with the app's
last value, every row it deleted is nowhere, no app statement failed, nothing is stuck."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import psycopg
import pytest

from persys_pipelines import handles
from persys_pipelines import handles as setup_lib
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import TablePolicy
from persys_pipelines.lib.pg import ledger

AS_OF = dt.date(2024, 6, 15)
FIRST = dt.date(2024, 3, 1)  # the app writes days from here to AS_OF
PLAIN = """create table notes (id bigint generated always as identity primary key,
                               day date not null, v int not null, body text)"""
TABLES = {  # journal_entries is month-partitioned in core (persys setup), notes is plain
    "journal_entries": TablePolicy(day_column="entry_date", core_days=10),
    "notes": TablePolicy(day_column="day", core_days=10),
}
COLUMNS = {"journal_entries": ("entry_date", "mood", "body"), "notes": ("day", "v", "body")}


def _app(dsn: str, seconds: float, seed: int, out: str) -> None:
    """The person's app: single-row writes; returns {table: {key: row | None}} and errors."""
    rng = random.Random(seed)
    last: dict[str, dict[str, list | None]] = {t: {} for t in TABLES}
    errors: list[str] = []
    statements = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            table = rng.choice(list(TABLES))
            day_col, value_col, text_col = COLUMNS[table]
            known = [k for k, v in last[table].items() if v is not None]
            op = rng.choices(["insert", "update", "delete", "pair"], [5, 3, 1, 1])[0]
            day = FIRST + dt.timedelta(days=rng.randrange((AS_OF - FIRST).days))
            try:
                statements += 1
                if op == "insert" or not known:
                    value = rng.randrange(1, 6)
                    row = conn.execute(
                        f"insert into {table} ({day_col}, {value_col}, {text_col}) "
                        f"values (%s, %s, %s) returning id::text", (day, value, f"b{statements}")
                    ).fetchone()
                    last[table][row[0]] = [day.isoformat(), value, f"b{statements}"]
                elif op == "update":
                    key = rng.choice(known)
                    if conn.execute(f"update {table} set {text_col} = %s where id::text = %s",
                                    (f"u{statements}", key)).rowcount:
                        last[table][key][2] = f"u{statements}"
                elif op == "delete":
                    key = rng.choice(known)
                    if conn.execute(f"delete from {table} where id::text = %s",
                                    (key,)).rowcount:
                        last[table][key] = None
                else:  # a short transaction touching two old rows
                    keys = rng.sample(known, min(2, len(known)))
                    with conn.transaction():
                        hit = [k for k in keys if conn.execute(
                            f"update {table} set {value_col} = {value_col} %% 5 + 1 "
                            "where id::text = %s", (k,)).rowcount]
                    for k in hit:
                        last[table][k][1] = last[table][k][1] % 5 + 1
            except psycopg.Error as exc:
                errors.append(f"{op} on {table}: {type(exc).__name__}: {exc}".splitlines()[0])
    Path(out).write_text(json.dumps({"last": last, "errors": errors, "statements": statements}))


def _mover(cfg) -> None:
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    for table in TABLES:
        handles.run_table(cfg, core, main, table, AS_OF)


def _tier_rows(tier, table: str) -> dict[str, list]:
    day_col, value_col, text_col = COLUMNS[table]
    with tier.connect() as conn:
        rows = conn.execute(f"select id::text, {day_col}::text, {value_col}, {text_col} "
                            f"from {table}").fetchall()
    return {k: [d, v, b] for k, d, v, b in rows}


def soak(cfg, tmp_path: Path, seconds: float, seed: int) -> dict:
    cfg = cfg.model_copy(update={"tables": TABLES})
    setup_lib.setup_tiers(cfg)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    with core.connect() as conn:
        conn.execute(PLAIN)
        conn.commit()
    ctx = multiprocessing.get_context("fork")
    results = tmp_path / "app.json"
    app = ctx.Process(target=_app, args=(core.dsn, seconds, seed, str(results)))
    app.start()
    rng = random.Random(seed)
    kills = finished = 0
    while app.is_alive():
        mover = ctx.Process(target=_mover, args=(cfg,))
        mover.start()
        mover.join(timeout=rng.uniform(0.05, 1.5))
        if mover.is_alive():
            os.kill(mover.pid, signal.SIGKILL)
            kills += 1
        else:
            finished += mover.exitcode == 0
            assert mover.exitcode == 0, "a mover that was not killed failed"
        mover.join()
    app.join()
    report = json.loads(results.read_text())
    _mover(cfg)  # one more run, nobody killing it
    for table in TABLES:
        in_core, in_main = _tier_rows(core, table), _tier_rows(main, table)
        both = set(in_core) & set(in_main)
        assert not both, f"{table}: {len(both)} keys in both tiers, e.g. {sorted(both)[:3]}"
        everywhere = {**in_core, **in_main}
        alive = {k: v for k, v in report["last"][table].items() if v is not None}
        resurrected = [k for k, v in report["last"][table].items()
                       if v is None and k in everywhere]
        assert not resurrected, f"{table}: rows the app deleted came back: {resurrected[:5]}"
        assert set(everywhere) == set(alive), (
            f"{table}: lost {sorted(set(alive) - set(everywhere))[:5]}, "
            f"unknown {sorted(set(everywhere) - set(alive))[:5]}")
        wrong = {k: (everywhere[k], v) for k, v in alive.items() if everywhere[k] != v}
        assert not wrong, f"{table}: rows not as the app last wrote them: {list(wrong.items())[:3]}"
        assert in_main, f"{table}: nothing moved at all"
    assert not report["errors"], f"the app's statements failed: {report['errors'][:5]}"
    with main.connect() as conn:
        stuck = [e for e in ledger.entries(conn, limit=100_000) if e.outcome == "started"]
    assert not stuck
    return {"kills": kills, "finished": finished, "statements": report["statements"]}


def test_app_writes_while_moves_are_killed(cfg, tmp_path):
    out = soak(cfg, tmp_path, seconds=25, seed=7)
    assert out["kills"] >= 5 and out["statements"] > 500, out


@pytest.mark.slow
def test_app_writes_while_moves_are_killed_longer(cfg, tmp_path):
    out = soak(cfg, tmp_path, seconds=180, seed=8)
    assert out["kills"] >= 40, out
