"""`persys doctor` (and `persys setup --validate`): everything persys.yaml names, checked
read-only, one line each: ok, WARN (works, but read this) or FAIL (fix it first), with the fix.

The checks are plain functions `(cfg) -> list[Finding]` in `CHECKS`, run in order; a check that
raises becomes one FAIL line, so one broken part never hides the others. Nothing is written
anywhere: no table, no marker file, no message sent (Telegram's `getMe`, an SMTP login without
a message, ElevenLabs' subscription read). Every detail passes through `scrub`, so a password
or key never shows. `database.py` holds the tier and table checks, `services.py` the archive,
keys, Telegram, e-mail, ElevenLabs, SSM and Supabase ones.
"""

from __future__ import annotations

from collections.abc import Callable

from ...config import Config
from ...errors import ConfigError, scrub
from . import database, imports, privacy, services
from .findings import FAIL, OK, WARN, Finding

__all__ = ["FAIL", "OK", "WARN", "Finding", "run"]

Check = Callable[[Config], list[Finding]]


def _checks() -> list[Check]:
    return [
        database.config_summary,
        database.tier_checks,
        database.table_checks,
        database.sources_checks,
        privacy.privacy_checks,
        imports.import_checks,
        services.archive_checks,
        privacy.backup_checks,
        services.key_checks,
        services.supabase_checks,
        services.telegram_checks,
        services.email_checks,
        services.elevenlabs_checks,
        services.ssm_checks,
        *EXTRA_CHECKS,
    ]


def aws_budget_checks(cfg: Config) -> list[Finding]:
    """An AWS budget that alerts only after the charge (no FORECASTED notification) is a
    WARN with the command that adds one."""
    from ..budgets import ensure

    if cfg.costs.aws is None:
        return []
    todo = ensure(cfg.costs.aws)
    if todo:
        return [Finding("aws budgets", WARN, "; ".join(todo) + ": `persys costs budget "
                        "--apply` adds it")]
    return [Finding("aws budgets", OK, "ACTUAL and FORECASTED alerts in place")]


# More checks plug in here, each `(cfg) -> list[Finding]`.
EXTRA_CHECKS: list[Check] = [aws_budget_checks]


def run(cfg: Config) -> list[Finding]:
    """Every check's findings; never raises (a crashing check is a FAIL line naming it)."""
    database.forget()  # every run probes the tiers afresh
    findings: list[Finding] = []
    for check in _checks():
        try:
            findings.extend(check(cfg))
        except Exception as exc:  # one broken part must not hide the rest
            name = check.__name__.removesuffix("_checks").replace("_", " ")
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            findings.append(Finding(name, FAIL, scrub(first)[:300]))
    database.forget()
    return [Finding(f.item, f.status, scrub(f.detail)) for f in findings]


def config_failures(exc: ConfigError) -> list[Finding]:
    """persys.yaml that does not load: each problem a FAIL line (the rest cannot be checked)."""
    return [Finding(f"config {exc.source}", FAIL, p) for p in exc.problems]


def render(findings: list[Finding]) -> tuple[list[str], int]:
    """The lines to print and the exit code (1 on any FAIL)."""
    lines = []
    for f in findings:
        detail = f"  ({f.detail})" if f.detail else ""
        lines.append(f"{f.status:<4}  {f.item}{detail}")
    failed = sum(f.status == FAIL for f in findings)
    warned = sum(f.status == WARN for f in findings)
    summary = f"{len(findings) - failed - warned} ok, {failed} failed"
    lines.append(summary + (f", {warned} warning{'s' * (warned > 1)}" if warned else ""))
    return lines, 1 if failed else 0
