"""The person's app: inserts uniquely keyed rows on recent and old days, updates and deletes
rows it wrote, one statement in autocommit, two in a READ COMMITTED transaction, or a read then
a write in a REPEATABLE READ transaction. It only knows core (as a real app does): an update
or delete of a row that has moved on changes nothing, and is acknowledged as such. A statement
the server refused (a serialization failure) is not acknowledged. Writes its acknowledged
state as JSON: table → key → [day, value, body] or null (deleted)."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from pathlib import Path

import psycopg

from .world import APP_TABLES, OLDEST_APP_DAY


def run_app(dsn: str, as_of_file: str, stop_file: str, seed: int, out: str) -> None:
    rng = random.Random(seed)
    last: dict[str, dict[str, list | None]] = {t: {} for t in APP_TABLES}
    errors: list[str] = []
    refused = statements = 0
    modes = {"autocommit": 0, "read committed": 0, "repeatable read": 0}
    as_of = dt.date.fromisoformat(Path(as_of_file).read_text().strip())
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not Path(stop_file).exists():
            if statements % 25 == 0:
                as_of = dt.date.fromisoformat(Path(as_of_file).read_text().strip())
            table = rng.choice(list(APP_TABLES))
            day_col, value_col, text_col = APP_TABLES[table]
            known = [k for k, v in last[table].items() if v is not None]
            mode = rng.choices(list(modes), [6, 2, 2])[0]
            op = rng.choices(["insert", "update", "delete"], [5, 3, 1])[0]
            if not known:
                op = "insert"
            day = as_of - dt.timedelta(days=rng.choice(
                [0, 0, 1, 2, rng.randrange(OLDEST_APP_DAY)]))
            statements += 1
            tag = f"s{seed}-{statements}"
            try:
                if mode == "autocommit":
                    _one(conn, table, op, day, tag, known, last, rng)
                else:
                    with conn.transaction():
                        conn.execute(f"set transaction isolation level {mode}")
                        if mode == "repeatable read":  # a read first: the snapshot is taken
                            conn.execute(f"select count(*) from {table}").fetchone()
                            time.sleep(0.005)
                        pending: dict[str, dict[str, list | None]] = {table: {}}
                        _one(conn, table, op, day, tag, known, pending, rng)
                        if rng.random() < 0.5:
                            _one(conn, table, "update", day, tag + "b", known, pending, rng)
                    last[table].update(pending[table])  # acknowledged at commit only
                modes[mode] += 1
            except psycopg.errors.SerializationFailure:
                refused += 1
            except psycopg.Error as exc:
                errors.append(f"{mode} {op} on {table}: {type(exc).__name__}: {exc}"
                              .splitlines()[0])
    Path(out).write_text(json.dumps({"last": last, "errors": errors, "statements": statements,
                                     "refused": refused, "modes": modes}))


def _one(conn: psycopg.Connection, table: str, op: str, day: dt.date, tag: str,
         known: list[str], last: dict, rng: random.Random) -> None:
    day_col, value_col, text_col = APP_TABLES[table]
    if op == "insert" or not known:
        value = rng.randrange(1, 6)
        row = conn.execute(f"insert into {table} ({day_col}, {value_col}, {text_col}) "
                           f"values (%s, %s, %s) returning id::text", (day, value, tag)
                           ).fetchone()
        last[table][row[0]] = [day.isoformat(), value, tag]
        return
    key = rng.choice(known)
    if op == "update":
        row = conn.execute(f"update {table} set {text_col} = %s where id::text = %s "
                           f"returning {day_col}::text, {value_col}", (tag, key)).fetchone()
        if row:
            last[table][key] = [row[0], row[1], tag]
    elif conn.execute(f"delete from {table} where id::text = %s", (key,)).rowcount:
        last[table][key] = None
