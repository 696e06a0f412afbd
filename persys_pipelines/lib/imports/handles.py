"""The config boundary of imports: persys.yaml → the handles delivery takes (deliver.Handles).

Everything below this module is handed tiers, stores, a keyring, policies and a day; only
here is the configuration read.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from ..archive import writer
from ..archive.crypto import Keyring
from ..archive.stores import ArchiveStores, archive_stores, keyring
from ..config import Config
from ..pg.tiers import PgTier, resolve_tier
from .deliver import Handles


def delivery_handles(cfg: Config, *, today: dt.date | None = None, core: PgTier | None = None,
                     main: PgTier | None = None, stores: ArchiveStores | None = None,
                     ring: Keyring | None = None, run_id: str | None = None) -> Handles:
    """Handles for one import as of `today` (default: today in the configured zone); those
    given (a run's resources) are used as they are."""
    today = today or cfg.today()
    main = main or resolve_tier(cfg, "main")
    stores = stores or archive_stores(cfg)
    ring = ring or keyring(cfg)
    archive_months = partial(_archive_months, cfg, today, stores, main, ring, run_id)
    return Handles(core=core or resolve_tier(cfg, "core"), main=main, stores=stores.all,
                   ring=ring, archive_months=archive_months, policies=cfg.tables, today=today)


def _archive_months(cfg: Config, today: dt.date, stores: ArchiveStores, main: PgTier,
                    ring: Keyring, run_id: str | None, table: str, months: list[dt.date]
                    ) -> list[writer.MonthResult]:
    """The lifecycle's main→archive move of those months, as of the import's day."""
    return writer.archive_months(cfg, table, months, as_of=today, stores=stores,
                                 run_id=run_id, tier=main, ring=ring)
