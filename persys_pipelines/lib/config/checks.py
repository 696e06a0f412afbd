"""Checks of a loaded persys.yaml that span keys (tier limits, table days, secrets' form) and
of the home folder; split from config.py so each stays small. Imports no persys module at run
time (the package imports this), only the models for type hints."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..dsn import dsn_problem
from .daily import daily_problems
from .imports import imports_problems

if TYPE_CHECKING:
    from . import ArchiveTier, Config


# pgserver hands `-k <home>/pg` to pg_ctl, which runs it through /bin/sh unquoted: a space or
# a quote splits or breaks the command and the embedded server never starts (tried: a home
# "my persys's home" fails with `Unterminated quoted string`). The Dagster instance of
# `persys up` lives in that server too, so this holds even when both tiers have a dsn.
_SHELL_UNSAFE = re.compile(r"""[\s'"`$\\;&|<>()*?\[\]{}!#~]""")


def home_problem(home: Path, key: str) -> str | None:
    """Why the embedded PostgreSQL cannot live under `home`, with a path that would work."""
    bad = sorted(set(_SHELL_UNSAFE.findall(str(home))))
    if not bad:
        return None
    names = {"'": "an apostrophe", '"': "a double quote"}
    shown = ", ".join("a space" if c.isspace() else names.get(c, f"'{c}'") for c in bad)
    return (f"{key} ({str(home)!r}): the path holds {shown}, which the embedded PostgreSQL "
            "(pgserver) cannot start under: it passes the folder to the shell unquoted; use a "
            f"path without them, e.g. {_SHELL_UNSAFE.sub('_', str(home))}")


KEY_HINT = ("generate one with python -c "
            "\"import os,base64;print(base64.b64encode(os.urandom(32)).decode())\"")


def _key_problems(archive: ArchiveTier) -> list[str]:
    """Each encryption key must be (ID:)BASE64 of 32 bytes; found at load, not at the first
    archive run. The value is never shown."""
    raw = archive.encryption_key
    listed = isinstance(raw, list)
    problems = []
    for i, text in enumerate(archive.encryption_keys):
        key = f"tiers.archive.encryption_key{f'[{i}]' if listed else ''}"
        try:
            secret = base64.b64decode(text.strip().rpartition(":")[2], validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"{key}: not base64; use ID:BASE64 of 32 random bytes; {KEY_HINT}")
            continue
        if len(secret) != 32:
            problems.append(f"{key}: decodes to {len(secret)} bytes, AES-256 needs 32; "
                            f"{KEY_HINT}")
    return problems


def cross_checks(cfg: Config) -> list[str]:
    """What no single key can say: keys that must agree with each other, and DSNs and
    encryption keys checked at load so the first run does not find them broken."""
    problems = _key_problems(cfg.tiers.archive)
    for name in ("core", "main"):
        dsn = getattr(cfg.tiers, name).dsn
        problem = dsn and dsn_problem(f"tiers.{name}.dsn", dsn.get_secret_value())
        if problem:
            problems.append(problem)
    core = cfg.tiers.core
    if core.warn_pct >= core.critical_pct:
        problems.append(
            f"tiers.core.warn_pct ({core.warn_pct:g}) must be < critical_pct "
            f"({core.critical_pct:g}); e.g. warn_pct: 80, critical_pct: 90"
        )
    if core.critical_pct >= core.read_only_pct:
        problems.append(
            f"tiers.core.critical_pct ({core.critical_pct:g}) must be < read_only_pct "
            f"({core.read_only_pct:g}): the emergency move must run before Supabase turns the "
            "project read-only; e.g. critical_pct: 90, read_only_pct: 95")
    for name, policy in cfg.tables.items():
        key = f"tables.{name}"
        if not name.isidentifier() or name != name.lower():
            problems.append(f"{key}: table names must be lower-case SQL identifiers")
        if policy.main_days is not None and policy.core_days > policy.main_days:
            problems.append(
                f"{key}.core_days ({policy.core_days}) must be <= main_days ({policy.main_days})"
            )
        if (
            policy.delete_days is not None
            and policy.main_days is not None
            and policy.main_days > policy.delete_days
        ):
            problems.append(
                f"{key}.main_days ({policy.main_days}) must be <= delete_days "
                f"({policy.delete_days})"
            )
        if policy.delete_days is not None and policy.main_days is None:
            problems.append(
                f"{key}.delete_days ({policy.delete_days}) needs main_days: rows kept in main "
                "forever are never archived, so they can never reach delete_days"
            )
    if cfg.daily.freshness_hour < cfg.daily.morning_hour:
        problems.append(
            f"daily.freshness_hour ({cfg.daily.freshness_hour}) must be >= morning_hour "
            f"({cfg.daily.morning_hour}): the summary cannot be due before its run starts"
        )
    problems.extend(
        f"daily.category_budgets.{name} ({value:g}): must be > 0"
        for name, value in cfg.daily.category_budgets.items()
        if value <= 0
    )
    problems.extend(daily_problems(cfg.daily))
    problems.extend(imports_problems(cfg.imports, cfg.tables))
    if cfg.notify.telegram and not (cfg.telegram.token and cfg.telegram.chat_id):
        problems.append(
            "notify.telegram is true but telegram.token or telegram.chat_id is missing; "
            "set both (token: env:TELEGRAM_BOT_TOKEN) or set notify.telegram: false"
        )
    if cfg.voice.engine == "elevenlabs" and cfg.voice.elevenlabs.api_key is None:
        problems.append(
            "voice.engine is elevenlabs but voice.elevenlabs.api_key is missing; set "
            "api_key: env:ELEVENLABS_API_KEY (or ssm:/path) or use engine: local"
        )
    problems.extend(_supabase_problems(cfg))
    names = [e.name for e in cfg.health.endpoints]
    problems.extend(
        f"health.endpoints: the name {n!r} is used twice; names must be unique"
        for n in sorted({n for n in names if names.count(n) > 1})
    )
    return problems


def _supabase_problems(cfg: Config) -> list[str]:
    """supabase_url and service_key go together, and what uses them needs both."""
    core = cfg.tiers.core
    if bool(core.supabase_url) != bool(core.service_key):
        return ["tiers.core.supabase_url and tiers.core.service_key go together; set both "
                "(service_key: env:SUPABASE_SERVICE_KEY) or neither"]
    users = [key for key, used in (
        ("voice.store_url", (cfg.voice.store_url or "").startswith("supabase://")),
        ("health.endpoints", any(e.url == "supabase:core" for e in cfg.health.endpoints)),
    ) if used]
    if users and not core.supabase_url:
        return [f"{users[0]} uses Supabase but tiers.core.supabase_url is not set; set "
                "supabase_url: https://<ref>.supabase.co and service_key: "
                "env:SUPABASE_SERVICE_KEY"]
    return []


def archivable_names(tables: dict) -> dict:
    """A table's name is also its folder in the archive: no `/`, no leading dot (the archive
    keeps its own files under `.persys/`), no blank."""
    for name in tables:
        if not name.strip() or "/" in name or name.startswith(".") or len(name) > 63:
            raise ValueError(f"{name!r} is not a table name persys can archive under (no "
                             "'/', no leading '.', at most 63 characters)")
    return tables
