"""persys.yaml: the model, where the file is found, `env:`/`ssm:` values, readable errors.

Every problem is reported with the dotted key that holds it and what to do about it, all at
once, so a person fixes the file in one go instead of one error per run.
"""

from __future__ import annotations

import datetime as dt
import os
import types
import typing
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

CONFIG_ENV = "PERSYS_CONFIG"
HOME_ENV = "PERSYS_HOME"
PACKAGED_DEFAULT = "default_persys.yaml"


class ConfigError(Exception):
    """persys.yaml (or a value it points to) is wrong; the message names the key and the fix."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CoreTier(_Strict):
    dsn: SecretStr | None = None
    quota_mb: float | None = Field(500, gt=0)
    warn_pct: float = Field(80, gt=0, le=100)
    critical_pct: float = Field(90, gt=0, le=100)
    # What counts against the quota: this database only, or every database of the server
    # (Supabase bills the whole project, so use `cluster` there).
    size_scope: Literal["database", "cluster"] = "database"


class MainTier(_Strict):
    dsn: SecretStr | None = None
    quota_mb: float | None = Field(None, gt=0)
    warn_pct: float = Field(80, gt=0, le=100)
    critical_pct: float = Field(90, gt=0, le=100)
    size_scope: Literal["database", "cluster"] = "database"


class ArchiveTier(_Strict):
    url: str | None = None
    secondary_url: str | None = None
    encryption_key: SecretStr | list[SecretStr] | None = None

    @field_validator("url", "secondary_url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("file://", "s3://")):
            raise ValueError("must start with file:// (a folder) or s3:// (a bucket)")
        return value


class Tiers(_Strict):
    core: CoreTier = CoreTier()
    main: MainTier = MainTier()
    archive: ArchiveTier = ArchiveTier()


class TablePolicy(_Strict):
    day_column: str
    only_when: dict[str, str | int | float | bool] | None = None
    core_days: int = Field(ge=0)
    main_days: int | None = Field(None, ge=0)
    delete_days: int | None = Field(None, ge=0)


class Config(_Strict):
    home: Path = Path(".persys")
    timezone: str = "Europe/London"
    start_date: dt.date = dt.date(2023, 1, 1)
    tiers: Tiers = Tiers()
    tables: dict[str, TablePolicy] = {}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone name; use one like Europe/London") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def archive_url(self) -> str:
        return self.tiers.archive.url or f"file://{self.home / 'archive'}"

    def today(self) -> dt.date:
        """Today in the configured zone: the default `as_of` everywhere."""
        return dt.datetime.now(self.zone).date()


# ---------------------------------------------------------------------------------------------
# Loading


def find_config_path() -> Path | None:
    """PERSYS_CONFIG, else ./persys.yaml, else None (the packaged default)."""
    if os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV]).expanduser()
        if not path.is_file():
            raise ConfigError(
                str(path), [f"{CONFIG_ENV} points to {path}, which does not exist; fix the path"]
            )
        return path
    local = Path("persys.yaml")
    return local if local.is_file() else None


def load_config(path: Path | str | None = None) -> Config:
    """Read, resolve and validate the configuration; raises ConfigError naming every problem."""
    if path is None:
        path = find_config_path()
    if path is None:
        text = resources.files("persys_pipelines").joinpath(PACKAGED_DEFAULT).read_text()
        source, base = f"(packaged default {PACKAGED_DEFAULT})", Path.cwd()
    else:
        path = Path(path)
        text = path.read_text()
        source, base = str(path), path.resolve().parent
    return parse_config(text, source=source, base_dir=base)


def parse_config(text: str, *, source: str = "persys.yaml", base_dir: Path | None = None) -> Config:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise ConfigError(source, [f"not valid YAML{where}: {problem}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(source, ["the file must be a mapping of keys (home:, tiers:, tables:)"])

    problems: list[str] = []
    raw = _resolve_values(raw, (), problems)
    if problems:
        raise ConfigError(source, problems)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(err) for err in exc.errors()]) from None

    problems = _cross_checks(cfg)
    if problems:
        raise ConfigError(source, problems)

    home = Path(os.environ[HOME_ENV]) if os.environ.get(HOME_ENV) else cfg.home
    home = home.expanduser()
    if not home.is_absolute():
        home = (base_dir or Path.cwd()) / home
    return cfg.model_copy(update={"home": home.resolve()})


def _cross_checks(cfg: Config) -> list[str]:
    problems = []
    core = cfg.tiers.core
    if core.warn_pct >= core.critical_pct:
        problems.append(
            f"tiers.core.warn_pct ({core.warn_pct:g}) must be < critical_pct "
            f"({core.critical_pct:g}); e.g. warn_pct: 80, critical_pct: 90"
        )
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
    return problems


# ---------------------------------------------------------------------------------------------
# env: and ssm: values


def _resolve_values(node: Any, loc: tuple, problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _resolve_values(v, (*loc, k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_values(v, (*loc, i), problems) for i, v in enumerate(node)]
    if isinstance(node, str) and node.startswith("env:"):
        name = node[4:]
        if name not in os.environ:
            problems.append(
                f"{_dotted(loc)}: environment variable {name} is not set; "
                f"export {name}=... or change the value"
            )
            return None
        return os.environ[name]
    if isinstance(node, str) and node.startswith("ssm:"):
        try:
            return read_ssm_parameter(node[4:])
        except Exception as exc:  # boto3 raises many kinds; the key and parameter matter
            problems.append(
                f"{_dotted(loc)}: could not read SSM parameter {node[4:]} "
                f"({type(exc).__name__}: {_short(exc)}); check the name, AWS region and "
                "credentials (AWS_REGION, AWS_PROFILE or AWS_ACCESS_KEY_ID)"
            )
            return None
    return node


@lru_cache(maxsize=256)
def read_ssm_parameter(name: str) -> str:
    """A SecureString (or plain) parameter, decrypted; cached for the process."""
    import boto3

    client = boto3.client("ssm")
    return client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]


# ---------------------------------------------------------------------------------------------
# pydantic errors → "key (value): problem; fix"


def _dotted(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _describe(err: dict) -> str:
    loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    key = _dotted(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"{key}: unknown key{hint}"
    if kind == "missing":
        return f"{key}: required key is missing; add it"
    value = err.get("input")
    shown = "" if isinstance(value, dict | list) or value is None else f" ({value!r})"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{key}{shown}: {msg[0].lower()}{msg[1:]}"


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the union member it tried (e.g. 'list[SecretStr]') into the location
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool"})


def _allowed_keys(loc: tuple) -> list[str]:
    annotation: Any = Config
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
