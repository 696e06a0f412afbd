"""Every route, imported: `ROUTES` and `all_crash_points()` are complete only after this."""

from __future__ import annotations

from . import (  # noqa: F401 (imported for their route declarations)
    adopt,
    archive_main,
    backup_restore,
    core_main,
    import_rows,
    main_archive,
    partition,
    purge,
    rekey,
    rewrite,
)
from .engine import ROUTES, all_crash_points

__all__ = ["ROUTES", "all_crash_points"]
