"""`persys doctor` (and `persys setup --validate`): everything persys.yaml names, checked
read-only, one line each: ok, WARN (works, but read this) or FAIL (fix it first), with the fix.

The checks are plain functions of the handles and persys.yaml sections they read, returning
`list[Finding]`; the config boundary (persys_pipelines/handles_monitoring.doctor_checks) binds
them into zero-argument `Check`s, in order, and `run` runs them: a check that raises becomes
one FAIL line, so one broken part never hides the others. Nothing is written anywhere: no
table, no marker file, no message sent (Telegram's `getMe`, an SMTP login without a message,
ElevenLabs' subscription read). Every detail passes through `scrub`, so a password or key never
shows. `database.py` holds the tier and table checks (and `TierProbe`: each tier probed once
per run), `services.py` the archive, keys, Telegram, e-mail, ElevenLabs, SSM and Supabase ones.
"""

from __future__ import annotations

from collections.abc import Callable

from ...config import AwsCosts
from ...errors import ConfigError, scrub
from . import database, imports, privacy, services  # noqa: F401  (the checks' modules)
from .findings import FAIL, OK, WARN, Finding

__all__ = ["FAIL", "OK", "WARN", "Finding", "run"]

# One check with its inputs bound (functools.partial of a check function below or in
# database.py, privacy.py, imports.py, services.py); its name is the function's.
Check = Callable[[], list[Finding]]


def aws_budget_checks(aws: AwsCosts | None) -> list[Finding]:
    """An AWS budget that alerts only after the charge (no FORECASTED notification) is a
    WARN with the command that adds one."""
    from ..budgets import ensure

    if aws is None:
        return []
    todo = ensure(aws)
    if todo:
        return [Finding("aws budgets", WARN, "; ".join(todo) + ": `persys costs budget "
                        "--apply` adds it")]
    return [Finding("aws budgets", OK, "ACTUAL and FORECASTED alerts in place")]


def _name(check: Check) -> str:
    func = getattr(check, "func", check)  # a partial names its function
    return getattr(func, "__name__", "check").removesuffix("_checks").replace("_", " ")


def run(checks: list[Check]) -> list[Finding]:
    """Every check's findings; never raises (a crashing check is a FAIL line naming it)."""
    findings: list[Finding] = []
    for check in checks:
        try:
            findings.extend(check())
        except Exception as exc:  # one broken part must not hide the rest
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            findings.append(Finding(_name(check), FAIL, scrub(first)[:300]))
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
