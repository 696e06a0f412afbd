"""Asset check: every PostgreSQL tier with a quota is under its warn/critical lines."""

import dagster as dg

from ...handles import resolve_tier
from ..resources import PersysConfigResource
from .assets import FREE_TIER


@dg.asset_check(asset=FREE_TIER, name="tiers_under_quota", blocking=False,
                description="Each tier's size is under critical_pct (ERROR) and warn_pct (WARN).")
def tiers_under_quota(persys_config: PersysConfigResource) -> dg.AssetCheckResult:
    cfg = persys_config.load()
    meta, worst = {}, None
    for name in ("core", "main"):
        tier, limits = resolve_tier(cfg, name), getattr(cfg.tiers, name)
        if not tier.quota_bytes:
            continue
        pct = 100 * tier.size_bytes() / tier.quota_bytes
        meta[f"{name}_pct"] = round(pct, 2)
        if pct >= limits.critical_pct:
            worst = dg.AssetCheckSeverity.ERROR
        elif pct >= limits.warn_pct and worst is None:
            worst = dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(passed=worst is None, severity=worst or dg.AssetCheckSeverity.WARN,
                               metadata=meta)
