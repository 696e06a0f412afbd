"""Realistic, deterministic sample data: what a person's system holds after N days of use.

Same seed, days and end day → the same rows, ids included, so tests and demos can compare
numbers. Rows are written with COPY (fast) into the core tier only, as a real user's app would.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from .errors import UsageError
from .pg.catalog import ident, regclass

WORDS = (
    "today felt slow but steady and I noticed how much calmer mornings are when I skip the "
    "phone walked to the park the light was soft coffee with an old friend talked about work "
    "plans and the year ahead I keep postponing the hard conversation with my manager wrote "
    "three pages for the project then lost focus after lunch cooked dinner early and read for "
    "an hour sleep was patchy again grateful for small things the rain the quiet kitchen a "
    "good song on the radio anxious about money this month but the budget is holding trained "
    "at the gym legs were heavy felt proud of finishing the run long call with family "
    "everyone is fine tired of screens need a weekend outside idea for a side project "
    "learning the piano again slowly meditation ten minutes mind kept wandering to tomorrow"
).split()
JOURNAL_TAGS = ["work", "family", "health", "gratitude", "focus", "anxiety", "travel", "ideas"]
SHADOW_TRIGGERS = ["criticism at work", "being ignored", "comparison online", "a late reply",
                   "conflict with a friend", "money worry", "feeling rushed"]
EMOTIONS = ["anger", "shame", "envy", "fear", "sadness", "irritation", "guilt"]
PROJECTS = ["home", "work", "health", "learning", "admin"]
TASK_VERBS = ["Call", "Email", "Fix", "Plan", "Review", "Buy", "Book", "Write", "Clean", "Pay"]
TASK_OBJECTS = ["dentist", "report draft", "bike tyre", "holiday", "budget", "groceries",
                "car service", "blog post", "garage", "electricity bill", "gift for Sam"]
SPEND = {  # category: (merchants, typical amount, daily probability)
    "groceries": (["Tesco", "Sainsbury's", "Aldi", "Co-op"], 28.0, 0.45),
    "eating_out": (["Pret", "Wagamama", "local cafe", "Dishoom"], 14.0, 0.35),
    "transport": (["TfL", "Trainline", "Shell", "Uber"], 9.0, 0.4),
    "entertainment": (["Netflix", "Spotify", "Odeon", "Steam"], 12.0, 0.08),
    "health": (["Boots", "PureGym", "Holland & Barrett"], 18.0, 0.05),
    "shopping": (["Amazon", "John Lewis", "Uniqlo", "IKEA"], 35.0, 0.12),
}


@dataclass
class SampleCounts:
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n


SLOW_TASK_DAYS = 21.0  # mean days to done of the one task in five that waits


class _Gen:
    def __init__(self, seed: int, zone: ZoneInfo):
        self.rng = random.Random(seed)
        # the slow tasks' completions: a stream of their own, so every other row stays as it was
        self.late = random.Random(seed + 1)
        self.zone = zone

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def at(self, day: dt.date, hour: float) -> dt.datetime:
        """A local wall-clock time of `day` as an aware datetime."""
        minutes = int(hour * 60)
        return dt.datetime.combine(day, dt.time(minutes // 60 % 24, minutes % 60), self.zone)

    def text(self, low: int, high: int) -> str:
        target = self.rng.randint(low, high)
        out: list[str] = []
        size = 0
        while size < target:
            sentence = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(6, 16)))
            sentence = sentence[0].upper() + sentence[1:] + "."
            out.append(sentence)
            size += len(sentence) + 1
        return " ".join(out)[:target].rstrip() or "."


def generate(days: int, seed: int, as_of: dt.date, zone: ZoneInfo) -> dict[str, list[tuple]]:
    """All sample rows, by table, for the `days` days ending on `as_of` (inclusive)."""
    g = _Gen(seed, zone)
    rows: dict[str, list[tuple]] = {t: [] for t in
                                    ("journal_entries", "health_metrics", "tasks",
                                     "transactions", "shadow_work")}
    mood = 6.0
    weight = 78.0 + g.rng.uniform(-6, 6)
    first = as_of - dt.timedelta(days=days - 1)
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        weekend = day.weekday() >= 5
        mood = min(9.5, max(2.0, mood + g.rng.gauss(0, 0.8) + (6.2 - mood) * 0.2))
        sleep = max(3.5, g.rng.gauss(7.6 if weekend else 6.9, 0.8))

        for _ in range(1 + (g.rng.random() < 0.15) if g.rng.random() < 0.92 else 0):
            rows["journal_entries"].append((
                g.uuid(), day, max(1, min(10, round(mood + g.rng.gauss(0, 0.7)))),
                g.rng.choice(["Morning pages", "Evening notes", "Reflection", None]),
                g.text(100, 2000), g.rng.sample(JOURNAL_TAGS, g.rng.randint(0, 3)),
                g.at(day, g.rng.uniform(6.5, 23.5)),
            ))

        h = rows["health_metrics"]
        h.append((g.uuid(), g.at(day, 7 + g.rng.random()), "sleep_hours", round(sleep, 2), "h",
                  "watch"))
        h.append((g.uuid(), g.at(day, 7.5), "resting_heart_rate",
                  round(g.rng.gauss(58 - (sleep - 7) * 1.5, 2.5)), "bpm", "watch"))
        if g.rng.random() < 0.8:
            weight += g.rng.gauss(-0.01, 0.15)
            h.append((g.uuid(), g.at(day, 7.2), "weight_kg", round(weight, 1), "kg", "scale"))
        for hour in range(24):
            bpm = 55 + 25 * math.sin(math.pi * max(0, hour - 6) / 17) + g.rng.gauss(0, 6)
            h.append((g.uuid(), g.at(day, hour + 0.5), "heart_rate", round(bpm), "bpm", "watch"))
        for hour in range(7, 23):
            h.append((g.uuid(), g.at(day, hour + 0.99), "steps",
                      max(0, round(g.rng.gauss(700 if not weekend else 900, 450))), "steps",
                      "phone"))

        for _ in range(g.rng.randint(1, 5)):
            created = g.at(day, g.rng.uniform(8, 21))
            # most tasks are done within days, the rest within weeks (about three on average):
            # open tasks stay a few dozen at most instead of piling up for ever
            done_after = (g.rng.expovariate(1 / 2.5) if g.rng.random() < 0.8
                          else g.late.expovariate(1 / SLOW_TASK_DAYS))
            completed = created + dt.timedelta(days=done_after) if done_after is not None else None
            if completed is not None and completed.date() > as_of:
                completed = None
            rows["tasks"].append((
                g.uuid(), f"{g.rng.choice(TASK_VERBS)} {g.rng.choice(TASK_OBJECTS)}",
                "done" if completed else "open", g.rng.randint(1, 3), g.rng.choice(PROJECTS),
                created, day + dt.timedelta(days=g.rng.randint(0, 7)), completed,
                g.rng.sample(PROJECTS, g.rng.randint(0, 2)),
            ))

        t = rows["transactions"]
        for category, (merchants, typical, p) in SPEND.items():
            if g.rng.random() < p:
                amount = -round(max(1.0, g.rng.lognormvariate(math.log(typical), 0.5)), 2)
                t.append((g.uuid(), day, amount, "GBP", category, g.rng.choice(merchants), None))
        if day.day == 1:
            t.append((g.uuid(), day, -1250.00, "GBP", "rent", "Landlord", "monthly rent"))
        if day.day == 25:
            t.append((g.uuid(), day, 3100.00, "GBP", "income", "Employer Ltd", "salary"))

        if g.rng.random() < 0.3:
            rows["shadow_work"].append((
                g.uuid(), day, g.rng.choice(SHADOW_TRIGGERS), g.rng.choice(EMOTIONS),
                g.rng.randint(2, 9), g.text(80, 600),
                g.rng.sample(JOURNAL_TAGS, g.rng.randint(0, 2)),
            ))
    return rows


COLUMNS = {
    "journal_entries": ("id", "entry_date", "mood", "title", "body", "tags", "created_at"),
    "health_metrics": ("id", "measured_at", "metric", "value", "unit", "source"),
    "tasks": ("id", "title", "status", "priority", "project", "created_at", "due_date",
              "completed_at", "tags"),
    "transactions": ("id", "occurred_on", "amount", "currency", "category", "merchant", "note"),
    "shadow_work": ("id", "entry_date", "trigger", "emotion", "intensity", "reflection", "tags"),
}


class SampleDataRefused(UsageError):
    """Sample data only goes into empty tables, so it can never double a person's rows."""


def occupied_tables(conns: list[psycopg.Connection]) -> dict[str, int]:
    """Sample tables that already hold rows in any of the given tiers (name → rows); a tier
    without the table (main before its first move) holds none."""
    found: dict[str, int] = {}
    for conn in conns:
        for table in COLUMNS:
            if conn.execute("select to_regclass(%s) is null", (regclass(table),)).fetchone()[0]:
                continue
            n = conn.execute(
                sql.SQL("select count(*) from {}").format(ident(table))
            ).fetchone()[0]
            if n:
                found[table] = found.get(table, 0) + n
    return found


def load(conn: psycopg.Connection, rows: dict[str, list[tuple]]) -> SampleCounts:
    """COPY the rows into the tables of `conn` in one transaction."""
    counts = SampleCounts()
    with conn.transaction(), conn.cursor() as cur:
        for table, table_rows in rows.items():
            stmt = sql.SQL("copy {} ({}) from stdin").format(
                ident(table), sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table]))
            )
            with cur.copy(stmt) as copy:
                for row in table_rows:
                    copy.write_row(row)
            counts.add(table, len(table_rows))
    return counts

