"""Shared set-up for the import tests: a project with the sample schema, an import as a
person runs it (as of a fixed day), and where each key ended up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from psycopg import sql

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier, setup_tiers
from persys_pipelines.lib.archive.manifest import load_file, read_manifest
from persys_pipelines.lib.config import Config
from persys_pipelines.lib.imports.run import ImportReport
from persys_pipelines.lib.pg.catalog import ident

TODAY = dt.date(2025, 6, 1)


def project(cfg: Config) -> Config:
    setup_tiers(cfg)
    return cfg


def run_import(cfg: Config, kind: str, path: Path, *, today: dt.date = TODAY,
               dry_run: bool = False) -> ImportReport:
    return handles.import_file(cfg, kind, path, today=today, dry_run=dry_run)


def keys_by_tier(cfg: Config, table: str, key: str = "id") -> dict[str, list[str]]:
    """Every key of `table` in core, main and the archive's committed files (repeats kept)."""
    out: dict[str, list[str]] = {}
    for tier in ("core", "main"):
        with resolve_tier(cfg, tier).connect() as conn:
            out[tier] = [r[0] for r in conn.execute(sql.SQL("select {}::text from {}").format(
                sql.Identifier(key), ident(table))).fetchall()]
    import uuid

    import pyarrow as pa
    import pyarrow.parquet as pq

    out["archive"] = []
    for where in handles.targets(cfg):
        for entry in read_manifest(where.store, table).committed():
            plain, _ = load_file(where.store, where.ring, entry)
            values = pq.read_table(pa.BufferReader(plain), columns=[key]).column(key).to_pylist()
            out["archive"] += [str(uuid.UUID(bytes=v)) if isinstance(v, bytes) else v
                               for v in values]
    return out


def rows_where(cfg: Config, tier: str, table: str, condition: str = "true") -> list[tuple]:
    with resolve_tier(cfg, tier).connect() as conn:
        return conn.execute(sql.SQL("select * from {} where " + condition).format(
            ident(table))).fetchall()
