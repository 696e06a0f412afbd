"""The config boundary: persys.yaml → the handles lib/ is given (tiers, archive stores and
keys, table specs, the move engine), and the whole-config entry points the CLI, the Dagster
assets and the tests share. Nothing below this module reads the config.

Its siblings hold the rest of the boundary and are re-exported here: handles_stores.py (tiers,
archive stores, keys), handles_monitoring.py (lib/monitoring's contexts, doctor, status, report,
today page), handles_setup.py (`persys setup`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .handles_stores import (  # noqa: F401  (re-exported: the tier and store handles)
    archive_stores,
    backup_key_path,
    backup_keyring,
    backup_store,
    ensure_backup_key,
    keyring,
    open_configured,
    resolve_tier,
    resolve_tiers,
)
from .lib.archive import maintenance
from .lib.archive.crypto import Keyring
from .lib.archive.reader import ArchiveSource
from .lib.archive.stores import ArchiveStores
from .lib.config import Config
from .lib.daily.context import DailyHandles
from .lib.moves import archive_main, core_main, import_rows, main_archive, purge, rekey, repair
from .lib.moves.engine import Engine, Progress
from .lib.moves.target import ArchiveTarget
from .lib.pg.tables import TableSpec
from .lib.pg.tiers import PgTier
from .lib.tiering import lifecycle
from .lib.tiering.reader import TieredReader
from .lib.voice.briefing import store_for
from .lib.voice.context import VoiceHandles

if TYPE_CHECKING:
    from .lib.monitoring.retention import Upcoming


def spec(cfg: Config, table: str) -> TableSpec:
    from .lib.errors import UsageError

    if table not in cfg.tables:
        raise UsageError(f"table {table!r} has no policy in persys.yaml tables: (it has "
                         f"{', '.join(cfg.tables) or 'none'})")
    return TableSpec(table, cfg.tables[table], cfg.timezone)


def specs(cfg: Config, tables: list[str] | None = None) -> list[TableSpec]:
    return [spec(cfg, t) for t in (tables or list(cfg.tables))]


def engine(cfg: Config, *, run_id: str | None = None, progress: Progress | None = None,
           main: PgTier | None = None) -> Engine:
    return Engine(main or resolve_tier(cfg, "main"), run_id, progress)


def target(cfg: Config, stores: ArchiveStores | None = None,
           ring: Keyring | None = None) -> ArchiveTarget:
    """Where new archive files go: the active store (the secondary when the primary is down)."""
    stores = stores or archive_stores(cfg)
    return ArchiveTarget(stores.active, ring or keyring(cfg), cfg.tiers.archive.compression_level)


def targets(cfg: Config, stores: ArchiveStores | None = None,
            ring: Keyring | None = None) -> list[ArchiveTarget]:
    """Every configured store (restores, purges, repairs read and write each of them)."""
    stores = stores or archive_stores(cfg, check=False)
    ring = ring or keyring(cfg)
    return [ArchiveTarget(s, ring, cfg.tiers.archive.compression_level) for s in stores.all]


def archive_source(cfg: Config, *, main: PgTier | None = None,
                   stores: ArchiveStores | None = None, ring: Keyring | None = None
                   ) -> ArchiveSource:
    """The archive as a reader source: every configured store (unchecked: an unreachable one is
    skipped, or refused when the ledger says days went there), main's ledger."""
    stores = stores or archive_stores(cfg, check=False)
    return ArchiveSource(tuple(stores.all), ring or keyring(cfg),
                         main or resolve_tier(cfg, "main"))


def tiered_reader(cfg: Config, *, core: PgTier | None = None, main: PgTier | None = None,
                  stores: ArchiveStores | None = None,
                  ring: Keyring | None = None) -> TieredReader:
    """Rows by day from core, main and the archive (lib/tiering/reader.read); those given (a
    run's resources) are used as they are."""
    main = main or resolve_tier(cfg, "main")
    return TieredReader(core or resolve_tier(cfg, "core"), main,
                        archive_source(cfg, main=main, stores=stores, ring=ring), cfg.tables,
                        cfg.timezone, cfg.daily.statement_timeout_s)


def daily_handles(cfg: Config, *, core: PgTier | None = None, main: PgTier | None = None,
                  stores: ArchiveStores | None = None,
                  ring: Keyring | None = None) -> DailyHandles:
    """What the daily summaries, projections and correlations read and write (lib/daily);
    those given (a run's resources) are used as they are. The stores are not checked: a
    rewrite of archived days needs every store, an unreachable one is an error then."""
    stores = stores or archive_stores(cfg, check=False)
    ring = ring or keyring(cfg)
    return DailyHandles(tiered_reader(cfg, core=core, main=main, stores=stores, ring=ring),
                        cfg.daily, cfg.start_date, cfg.home / "charts",
                        tuple(targets(cfg, stores, ring)))


def voice_handles(cfg: Config, *, core: PgTier | None = None, main: PgTier | None = None,
                  daily: DailyHandles | None = None) -> VoiceHandles:
    """What a day's briefing reads, stores, records and sends with (lib/voice/briefing.py);
    those given (a run's tiers, daily handles already built) are used as they are."""
    def deletions(as_of: dt.date) -> list[tuple[str, str, str, dt.date]]:
        return [(u.table, u.first_day, u.last_day, u.on) for u in deletions_ahead(cfg, as_of)]

    return VoiceHandles(daily or daily_handles(cfg, core=core, main=main), cfg.voice,
                        store_for(cfg.voice, cfg.home, cfg.tiers), cfg.telegram, deletions)


def deletions_ahead(cfg: Config, as_of: dt.date | None = None) -> list[Upcoming]:
    """Archive files retention deletes within the notice period (14 days), less those a pin
    keeps (lib/monitoring/retention.upcoming)."""
    from .lib.archive.pins import active_pins
    from .lib.monitoring.retention import upcoming

    as_of = as_of or cfg.today()
    with resolve_tier(cfg, "main").connect() as conn:
        pinned = active_pins(conn, as_of)
    return upcoming(archive_stores(cfg, check=False), cfg.tables, as_of, pinned=pinned)


# ---------------------------------------------------------------------------------------------
# Whole-config entry points (what a command or a test does with one line)


def archive_due(cfg: Config, as_of: dt.date | None = None, *, tables: list[str] | None = None,
                run_id: str | None = None) -> list[main_archive.MonthResult]:
    return main_archive.archive_due(engine(cfg, run_id=run_id), target(cfg), specs(cfg, tables),
                                    as_of or cfg.today())


def archive_months(cfg: Config, table: str, months: list[dt.date], *,
                   as_of: dt.date | None = None) -> list[main_archive.MonthResult]:
    return main_archive.archive_months(engine(cfg), target(cfg), spec(cfg, table), months,
                                       as_of or cfg.today())


def due_months(cfg: Config, table: str, as_of: dt.date | None = None) -> list[dt.date]:
    return main_archive.due_months(resolve_tier(cfg, "main"), spec(cfg, table),
                                   as_of or cfg.today())


def restore(cfg: Config, table: str, first: dt.date, last: dt.date, *,
            run_id: str | None = None, pin_days: int | None = None
            ) -> archive_main.RestoreResult:
    kwargs = {} if pin_days is None else {"pin_days": pin_days}
    return archive_main.restore(engine(cfg, run_id=run_id), targets(cfg), spec(cfg, table),
                                first, last, today=cfg.today(), **kwargs)


def purge_due(cfg: Config, as_of: dt.date | None = None, *, dry_run: bool = False,
              run_id: str | None = None) -> list[purge.PurgeItem]:
    return purge.purge(engine(cfg, run_id=run_id), targets(cfg), specs(cfg),
                       as_of or cfg.today(), dry_run=dry_run)


def rekey_all(cfg: Config) -> list[str]:
    return rekey.rekey(engine(cfg), targets(cfg), list(cfg.tables))


def repair_all(cfg: Config, tables: list[str] | None = None, *,
               apply: bool = False) -> list[repair.TableRepair]:
    return repair.repair(engine(cfg), resolve_tier(cfg, "core"), targets(cfg),
                         specs(cfg, tables), apply=apply)


def backup_target(cfg: Config) -> ArchiveTarget:
    """Where backups go: `tiers.archive.backup_url`, else the archive store; always encrypted
    (the configured key, else the home's own key: `persys setup` makes it)."""
    return ArchiveTarget(backup_store(cfg), backup_keyring(cfg), 6)


Elsewhere = Callable[[str, list[str], list[tuple]], set[tuple]]


def elsewhere(cfg: Config, tier: str) -> Elsewhere:
    """For a backup restore into `tier`: which keys the other tier or the archive holds."""
    from .lib.moves.backup_restore import keys_in

    main = resolve_tier(cfg, "main")
    other = main if tier == "core" else resolve_tier(cfg, "core")
    stores = targets(cfg)

    def held(table: str, keys: list[str], wanted: list[tuple]) -> set[tuple]:
        if table not in cfg.tables:
            return set()
        return keys_in(other, table, keys, wanted) | archive_main.archived_keys(
            stores, main, table, keys, wanted)

    return held


def run_table(cfg: Config, core: PgTier, main: PgTier, table: str, as_of: dt.date, *,
              first: dt.date | None = None, last: dt.date | None = None,
              run_id: str | None = None, progress: Progress | None = None,
              move_before: dt.date | None = None) -> lifecycle.TableRun:
    return lifecycle.run_table(engine(cfg, run_id=run_id, progress=progress, main=main), core,
                               spec(cfg, table), as_of, first=first, last=last,
                               move_before=move_before)


def move_range(cfg: Config, core: PgTier, main: PgTier,
               rng: core_main.MoveRange) -> core_main.MoveResult:
    return core_main.move_range(engine(cfg, main=main), core, rng)


def verify_archive(cfg: Config, sample_pct: float = 100.0, *, seed: int | None = None,
                   stores: ArchiveStores | None = None) -> maintenance.VerifyReport:
    return maintenance.verify(stores or archive_stores(cfg, check=False), keyring(cfg),
                              list(cfg.tables), sample_pct, seed=seed)


def inventory(cfg: Config) -> dict:
    return maintenance.inventory(archive_stores(cfg, check=False), list(cfg.tables))


def backup(cfg: Config, tier: str, *, now: dt.datetime | None = None):
    """One backup of `tier` into the backup store (what `persys backup run` does); main's
    copies of rows core still holds (a core→main move not yet settled) are left out."""
    from .lib.backup import snapshot
    from .lib.moves import settle

    def in_flight(conn, table: str, alias: str):
        return settle.in_flight(conn, core_main.CORE_MAIN, table, alias)

    where = backup_target(cfg)
    return snapshot.run_backup(resolve_tier(cfg, tier), where.store, where.ring,
                               list(cfg.tables), keep=cfg.backup.keep, now=now,
                               leave_out=in_flight if tier == "main" else None)


def restore_backup(cfg: Config, backup, tables: list[str] | None = None, *,
                   replace: bool = False, into: PgTier | None = None,
                   today: dt.date | None = None):
    """A backup's rows back into its tier: merged (default) or replacing (module doc of
    lib/moves/backup_restore.py)."""
    from .lib.moves import backup_restore

    where = backup_target(cfg)
    return backup_restore.restore(engine(cfg), resolve_tier(cfg, backup.tier), where.store,
                                  where.ring, backup, tables,
                                  elsewhere=elsewhere(cfg, backup.tier), replace=replace,
                                  kept=backup_restore.kept_by_policy(
                                      {t: spec(cfg, t) for t in cfg.tables},
                                      today or cfg.today()),
                                  into=into)


def drill(cfg: Config, *, months: int | None = 1, seed: int | None = None):
    from .lib.archive import drill as drill_lib

    return drill_lib.drill(resolve_tier(cfg, "main"), archive_stores(cfg, check=False),
                           keyring(cfg), list(cfg.tables), months=months, seed=seed)


def import_handles(cfg: Config, kind: str, *, today: dt.date | None = None,
                   core: PgTier | None = None, main: PgTier | None = None,
                   stores: ArchiveStores | None = None, ring: Keyring | None = None,
                   run_id: str | None = None,
                   progress: Progress | None = None) -> import_rows.ImportHandles:
    """What an import of `kind` touches, as of `today` (default: today in the configured
    zone); those given (a run's resources) are used as they are."""
    stores = stores or archive_stores(cfg)
    ring = ring or keyring(cfg)
    return import_rows.ImportHandles(
        engine(cfg, run_id=run_id, progress=progress, main=main),
        core or resolve_tier(cfg, "core"), spec(cfg, cfg.imports.target(kind).table),
        target(cfg, stores, ring), targets(cfg, stores, ring), today or cfg.today())


def import_file(cfg: Config, kind: str, path: Path, *, today: dt.date | None = None,
                dry_run: bool = False, sha256: str | None = None, **resources):
    """One file imported as `persys import` does it (lib/imports/run.import_file);
    `resources`: a run's core, main, stores, ring, run_id, progress (import_handles)."""
    import pyarrow as pa

    from .lib.imports.run import import_file as run

    # The months past main_days go through Arrow and Parquet; Arrow's default allocator keeps
    # what it freed for reuse, the system's returns it: a 2 M-record import peaked at 243 MB
    # against 298 MB (bench/import.py). An import is its own process (CLI or run), so the
    # switch touches nothing else.
    pa.set_memory_pool(pa.system_memory_pool())
    return run(kind, path, handles=import_handles(cfg, kind, today=today, **resources),
               target=cfg.imports.target(kind), zone=cfg.zone,
               spool_root=cfg.home / "imports" / "spool", dry_run=dry_run,
               csv_format=cfg.imports.csv_format, sha256=sha256)


# The monitoring side of the boundary (handles_monitoring.py), re-exported: one import for all.
from .handles_monitoring import (  # noqa: E402, F401
    cost_sources,
    doctor,
    doctor_checks,
    health_context,
    known_down,
    notifier,
    report,
    rest,
    status,
    status_context,
    today_page,
    watch,
)

# `persys setup`'s side of the boundary (handles_setup.py), re-exported.
from .handles_setup import (  # noqa: E402, F401
    backup_key_note,
    load_sample_data,
    mark_archive_stores,
    setup_tiers,
)
