"""The oracle's world: core and main databases, an archive folder, a persys.yaml with three
tables (the sample's month-partitioned journal_entries, the person's plain `notes` with an
identity key, persys's own daily_summaries) and short policies, so a few simulated weeks pass
every route: core→main, DEFAULT→month partition, main→archive, restore, purge, backup and
backup restore, rekey, adopt, rewrite of summaries, repair."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from persys_pipelines.handles import setup_tiers
from persys_pipelines.lib.archive.crypto import new_key_text
from persys_pipelines.lib.config import Config, load_config

START = dt.date(2024, 1, 10)  # the first simulated day
NOTES = """create table notes (id bigint generated always as identity primary key,
                               day date not null, v int not null, body text)"""
POLICIES = {
    "journal_entries": {"day_column": "entry_date", "core_days": 7, "main_days": 21,
                        "delete_days": 50},
    "notes": {"day_column": "day", "core_days": 5, "main_days": 15, "delete_days": 40},
    "daily_summaries": {"day_column": "day", "core_days": 10, "main_days": 25,
                        "delete_days": 60},
}
# what the crash-point test adds for the import route (an Apple Health export's rows)
IMPORT_POLICIES = {"health_metrics": {"day_column": "measured_at", "core_days": 7,
                                      "main_days": 21, "delete_days": 50}}
APP_TABLES = {"journal_entries": ("entry_date", "mood", "body"), "notes": ("day", "v", "body")}
OLDEST_APP_DAY = 30  # the app writes days as old as as_of - this (late rows), never purgeable


@dataclass
class World:
    path: Path  # persys.yaml
    home: Path
    dsns: dict[str, str]
    keys: list[str]
    extra_tables: dict = field(default_factory=dict)  # policies besides POLICIES

    @property
    def cfg(self) -> Config:
        return load_config(self.path)

    def write_config(self) -> None:
        doc = {
            "home": str(self.home), "timezone": "Europe/London", "start_date": "2023-12-01",
            "tiers": {"core": {"dsn": self.dsns["core"], "quota_mb": 500},
                      "main": {"dsn": self.dsns["main"]},
                      "archive": {"url": f"file://{self.home / 'archive with space'}",
                                  "encryption_key": self.keys}},
            "tables": {**POLICIES, **self.extra_tables},
        }
        self.path.write_text(yaml.safe_dump(doc, sort_keys=False))

    def add_key(self) -> None:
        """A second key, as the README's rotation starts (rekey then encrypts with it)."""
        self.keys.append(new_key_text(f"k{len(self.keys) + 1}"))
        self.write_config()


def make_world(tmp_path: Path, dsns: dict[str, str],
               extra_tables: dict | None = None) -> World:
    import psycopg

    world = World(tmp_path / "persys.yaml", tmp_path / "home", dsns,
                  [new_key_text("k1")], dict(extra_tables or {}))
    world.write_config()
    setup_tiers(world.cfg)
    with psycopg.connect(dsns["core"]) as conn:
        conn.execute(NOTES)
    return world
