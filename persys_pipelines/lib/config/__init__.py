"""persys.yaml: the model, where the file is found, `env:`/`ssm:` values, readable errors.

Every problem is reported with the dotted key that holds it and what to do about it, all at
once, so a person fixes the file in one go instead of one error per run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from ..dsn import dsn_password
from ..errors import ConfigError, remember_secrets
from .checks import archivable_names, cross_checks, home_problem
from .costs import AwsCosts as AwsCosts  # re-exported: lib/monitoring, the tests
from .costs import Costs, DagsterInstanceRetention
from .costs import ElevenLabsCosts as ElevenLabsCosts
from .daily import Daily, Metric  # noqa: F401  (re-exported: config.Daily, config.Metric)
from .imports import Imports
from .notifications import Notifications
from .strict import Strict as _Strict
from .text import describe_error, resolve_values

log = logging.getLogger(__name__)

CONFIG_ENV = "PERSYS_CONFIG"
HOME_ENV = "PERSYS_HOME"
PACKAGED_DEFAULT = "default_persys.yaml"



class CoreTier(_Strict):
    dsn: SecretStr | None = None
    quota_mb: float | None = Field(500, gt=0)
    warn_pct: float = Field(80, gt=0, le=100)
    critical_pct: float = Field(90, gt=0, le=100)
    # What counts against the quota: this database only, or every database of the server
    # (Supabase bills the whole project, so use `cluster` there).
    size_scope: Literal["database", "cluster"] = "database"
    # Supabase's HTTP side of the same project (https://<ref>.supabase.co) and its service_role
    # key (env:/ssm:): the REST health probe and `supabase://` voice storage use them.
    supabase_url: str | None = None
    service_key: SecretStr | None = None
    # Supabase's transaction pooler (port 6543) keeps no session state between transactions;
    # `auto` takes port 6543 for it, `transaction`/`session`/`none` say so for other ports.
    pooler: Literal["auto", "transaction", "session", "none"] = "auto"
    # Supabase's two ceilings (lib/monitoring/ceilings.py): the project turns read-only near
    # read_only_pct of the quota; the organisation is restricted (HTTP 402) when the billing
    # cycle's average daily size passes the quota. The cycle starts on this day of the month.
    read_only_pct: float = Field(95, gt=0, le=100)
    billing_cycle_day: int = Field(1, ge=1, le=31)
    # Pause guard: free projects pause after 7 days without real queries; persys makes one at
    # least every keepalive_days (null: off).
    keepalive_days: float | None = Field(3, gt=0, le=6)

    @field_validator("supabase_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be the project's URL, e.g. https://abcd1234.supabase.co")
        return value


class MainTier(_Strict):
    dsn: SecretStr | None = None
    quota_mb: float | None = Field(None, gt=0)
    warn_pct: float = Field(80, gt=0, le=100)
    critical_pct: float = Field(90, gt=0, le=100)
    size_scope: Literal["database", "cluster"] = "database"
    pooler: Literal["auto", "transaction", "session", "none"] = "auto"


class ArchiveTier(_Strict):
    url: str | None = None
    secondary_url: str | None = None
    backup_url: str | None = None  # backups elsewhere (another disk); unset: the archive store
    # One key or a list of `ID:BASE64` keys (32 bytes); the last encrypts, all decrypt.
    encryption_key: SecretStr | list[SecretStr] | None = None
    # s3:// stores: a non-AWS endpoint (MinIO, R2, Supabase Storage) and credentials;
    # unset credentials fall back to boto3's usual chain (AWS_* variables, profile, role).
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    compression_level: int = Field(3, ge=1, le=22)  # zstd level of the Parquet files

    @property
    def encryption_keys(self) -> list[str]:
        raw = self.encryption_key
        items = raw if isinstance(raw, list) else [raw] if raw is not None else []
        return [k.get_secret_value() for k in items]

    @field_validator("url", "secondary_url", "backup_url")
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


class Backup(_Strict):
    """`backup:`: logical backups of core and main into the archive store (lib/backup)."""

    keep: int = Field(7, ge=1, le=1000)  # finished backups kept per tier; older ones deleted
    core_schedule: Literal["daily", "weekly", "off"] = "daily"
    main_schedule: Literal["daily", "weekly", "off"] = "weekly"


class Telegram(_Strict):
    """`telegram:`: the bot that delivers briefings and alerts (token from env:/ssm:)."""

    token: SecretStr | None = None
    chat_id: str | None = None
    base_url: str = "https://api.telegram.org"


class LocalVoice(_Strict):
    """`voice.local:`: eSpeak NG (pip-only, free)."""

    voice: str = "en"  # an eSpeak NG voice: en (British), en-us, de, fr, en+f3, ...
    words_per_minute: int = Field(165, ge=80, le=450)


ELEVENLABS_FORMATS = ("opus_48000_32", "opus_48000_64", "opus_48000_96", "opus_48000_128",
                      "opus_48000_192", "mp3_22050_32", "mp3_44100_32", "mp3_44100_64",
                      "mp3_44100_96", "mp3_44100_128", "mp3_44100_192")


class ElevenLabsVoice(_Strict):
    """`voice.elevenlabs:`: the paid voice; the key comes from env:/ssm:."""

    api_key: SecretStr | None = None
    base_url: str = "https://api.elevenlabs.io"
    voice_id: str = "JBFqnCBsd6RMkjVDRZzb"
    model_id: str = "eleven_multilingual_v2"
    # Spreading the credits (lib/voice/plan.py): when the whole script would not last to the
    # reset, the half-price model, then a shorter script (never under min_characters), then
    # the local voice. null: no economy model.
    economy_model_id: str | None = "eleven_flash_v2_5"
    min_characters: int = Field(250, ge=50)
    output_format: Literal[ELEVENLABS_FORMATS] = "opus_48000_64"  # type: ignore[valid-type]
    max_retries: int = Field(3, ge=0, le=10)  # on 429 (rate limited), never on 401
    max_wait_s: float = Field(30, gt=0)  # longest single back-off before giving up
    timeout_s: float = Field(120, gt=0)


class Voice(_Strict):
    """`voice:`: the spoken daily briefing."""

    engine: Literal["local", "elevenlabs"] = "local"
    target_seconds: int = Field(75, ge=10, le=600)  # the script is cut to about this long
    # Characters a month the paid engine may use (null: the plan's own limit).
    monthly_character_budget: int | None = Field(10000, gt=0)
    on_over_budget: Literal["refuse", "fallback_local"] = "fallback_local"
    # true: degrade early and evenly so the paid voice lasts to the credits' reset
    # (lib/voice/plan.py); false: spend until the credits run out, then fall back
    spread_credits: bool = True
    allow_paid_backfill: bool = False  # past days (before yesterday) use the local voice
    send_telegram: bool = True  # the morning run sends the note when telegram: is set
    # null: file://<home> (files under <home>/voice/); supabase://bucket/prefix: Supabase
    # Storage through tiers.core.supabase_url + service_key, with a signed URL per briefing
    store_url: str | None = None
    signed_url_days: int = Field(7, ge=1, le=365)  # how long a supabase:// signed URL works
    local: LocalVoice = LocalVoice()
    elevenlabs: ElevenLabsVoice = ElevenLabsVoice()

    @field_validator("store_url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("file://", "s3://", "supabase://")):
            raise ValueError("must start with file:// (a folder), s3:// (a bucket) or "
                             "supabase:// (a Supabase Storage bucket)")
        return value


class EmailNotify(_Strict):
    """`notify.email:`: an SMTP account alerts are sent from (standard-library smtplib)."""

    smtp_host: str
    smtp_port: int = Field(587, gt=0, le=65535)
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = Field(alias="from")
    to: list[str] = Field(min_length=1)


class Notify(_Strict):
    """`notify:`: where alerts go. Off unless configured; a failing channel never fails a run."""

    telegram: bool = False  # uses the `telegram:` section's bot and chat
    email: EmailNotify | None = None
    forecast_alert_days: int = Field(14, ge=1)  # alert when a quota line is this close


class HealthEndpoint(_Strict):
    name: str
    # http(s)://... (GET, 2xx/3xx is healthy), tier:core / tier:main, archive:primary /
    # archive:secondary (the store's own check)
    url: str
    interval_s: int = Field(300, ge=10)
    timeout_s: float = Field(10, gt=0)

    @field_validator("url")
    @classmethod
    def _kind(cls, value: str) -> str:
        allowed = ("http://", "https://", "tier:core", "tier:main", "archive:primary",
                   "archive:secondary", "supabase:core")
        if not value.startswith(allowed):
            raise ValueError("must be http(s)://..., tier:core, tier:main, archive:primary, "
                             "archive:secondary or supabase:core")
        return value


class Health(_Strict):
    """`health:`: endpoints checked every few minutes; incidents and uptime are recorded."""

    endpoints: list[HealthEndpoint] = []


class Config(_Strict):
    home: Path = Path(".persys")
    timezone: str = "Europe/London"
    start_date: dt.date = dt.date(2023, 1, 1)
    tiers: Tiers = Tiers()
    tables: dict[str, TablePolicy] = {}
    daily: Daily = Daily()
    backup: Backup = Backup()
    telegram: Telegram = Telegram()
    voice: Voice = Voice()
    notify: Notify = Notify()
    health: Health = Health()
    costs: Costs = Costs()
    notifications: Notifications = Notifications()  # SMS, followed repositories
    instance: DagsterInstanceRetention = DagsterInstanceRetention()
    imports: Imports = Imports()  # where `persys import` puts each export (lib/config/imports)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone name; use one like Europe/London") from None
        return value

    @field_validator("tables")
    @classmethod
    def _table_names(cls, value: dict[str, TablePolicy]) -> dict[str, TablePolicy]:
        return archivable_names(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def archive_url(self) -> str:
        return self.tiers.archive.url or f"file://{self.home / 'archive'}"

    def today(self) -> dt.date:
        """Today in the configured zone: the default `as_of` everywhere."""
        return dt.datetime.now(self.zone).date()


def secret_values(cfg: BaseModel) -> list[str]:
    """Every secret persys.yaml holds (and each DSN's password), longest first, for `scrub`."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, SecretStr):
            value = node.get_secret_value()
            found.update(v for v in (value, dsn_password(value)) if v)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))

    walk(cfg)
    return sorted(found, key=len, reverse=True)


# ---------------------------------------------------------------------------------------------
# Loading


def find_config_path() -> Path | None:
    """PERSYS_CONFIG, else ./persys.yaml, else None (the packaged default)."""
    if os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV]).expanduser()
        if not path.is_file():
            raise ConfigError(str(path), [
                f"{CONFIG_ENV} points to {path}, which does not exist; fix the path"])
        return path
    local = Path("persys.yaml")
    return local if local.is_file() else None


def load_config(path: Path | str | None = None, *, lenient: bool = False) -> Config:
    """Read, resolve and validate the configuration; raises ConfigError naming every problem.

    `lenient` is for commands that need only `home` (`persys down`): an `env:`/`ssm:` value
    that cannot be read becomes None with a warning, and the cross-key checks are skipped.
    """
    path = find_config_path() if path is None else path
    if path is None:
        text = resources.files("persys_pipelines").joinpath(PACKAGED_DEFAULT).read_text()
        source, base = f"(packaged default {PACKAGED_DEFAULT})", Path.cwd()
    else:
        path = Path(path)
        text = path.read_text()
        source, base = str(path), path.resolve().parent
    return parse_config(text, source=source, base_dir=base, lenient=lenient)


def parse_config(text: str, *, source: str = "persys.yaml", base_dir: Path | None = None,
                 lenient: bool = False) -> Config:
    try:
        # libyaml's safe loader when the wheel has it: the config is read several times
        # per run (the CLI, each resource), ~10x faster than the pure-Python one
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise ConfigError(source, [f"not valid YAML{where}: {problem}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(source, ["the file must be a mapping of keys (home:, tiers:, tables:)"])

    problems: list[str] = []
    raw = resolve_values(raw, (), problems)
    if problems and not lenient:
        raise ConfigError(source, problems)
    for problem in problems:
        log.warning("%s: %s (ignored: this command does not need it)", source, problem)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [describe_error(err, Config) for err in exc.errors()]) from None

    remember_secrets(secret_values(cfg))  # from here on no error text shows them
    problems = [] if lenient else cross_checks(cfg)
    if problems:
        raise ConfigError(source, problems)

    from_env = bool(os.environ.get(HOME_ENV))
    home = Path(os.environ[HOME_ENV]) if from_env else cfg.home
    home = home.expanduser()
    if not home.is_absolute():
        home = (base_dir or Path.cwd()) / home
    home = home.resolve()
    problem = home_problem(home, HOME_ENV if from_env else "home")
    if problem:
        raise ConfigError(source, [problem])
    return cfg.model_copy(update={"home": home})
