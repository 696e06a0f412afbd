"""PostgreSQL: the embedded server (pgserver), the one connection helper, tier handles.

A tier without `dsn` lives in one embedded server under `<home>/pg` (databases persys_core and
persys_main). It is started on demand, shared by every `persys` process (pgserver attaches to a
running postmaster instead of starting a second one) and keeps running until `persys down`.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg import sql

from ..config import CoreTier, MainTier
from ..dsn import dsn_fields, dsn_password, dsn_problem, safe_dsn
from ..errors import TierError, scrub

log = logging.getLogger(__name__)

CORE_DB = "persys_core"
MAIN_DB = "persys_main"
DAGSTER_DB = "persys_dagster"
TIER_DATABASES = {"core": CORE_DB, "main": MAIN_DB}
IDLE = psycopg.pq.TransactionStatus.IDLE


class TierUnavailable(TierError):
    """A tier cannot be reached; the message says which tier and what to check."""


# ---------------------------------------------------------------------------------------------
# Embedded server


def pgdata_dir(home: Path) -> Path:
    return home / "pg"


def embedded_server(home: Path):
    """Start (or attach to) the embedded server; it outlives this process until `persys down`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import pgserver

        home.mkdir(parents=True, exist_ok=True)
        return pgserver.get_server(pgdata_dir(home), cleanup_mode=None)


def embedded_running(home: Path) -> int | None:
    """The postmaster pid when the embedded server of `home` runs, else None (never starts it)."""
    pid_file = pgdata_dir(home) / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (ValueError, IndexError, OSError):
        return None
    import psutil

    return pid if psutil.pid_exists(pid) else None


def stop_embedded(home: Path) -> bool:
    """Stop the embedded server of `home`; True when one was running."""
    if embedded_running(home) is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl

        server = embedded_server(home)
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata_dir(home), user=server.system_user)
    return True


def embedded_uri(home: Path, database: str) -> str:
    server = embedded_server(home)
    ensure_database(server.get_uri("postgres"), database)
    return server.get_uri(database)


def ensure_database(admin_dsn: str, database: str) -> None:
    """CREATE DATABASE when missing (idempotent, safe against a concurrent creator)."""
    with connect(admin_dsn, autocommit=True) as conn:
        query = "select 1 from pg_database where datname = %s"
        exists = conn.execute(query, (database,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))


# ---------------------------------------------------------------------------------------------
# Connections


def connect(dsn: str, *, autocommit: bool = False, pooler: str = "auto",
            **kwargs) -> psycopg.Connection:
    """The one way to open a connection.

    Behind a transaction pooler (Supabase's port 6543, pgbouncer or Supavisor in transaction
    mode) consecutive transactions of one connection may run on different server sessions,
    and a session's state stays with the server session for the next client. So there
    psycopg's automatic preparation is off, and the connection is a `PooledConnection`.
    Text is always exchanged as UTF-8: a SQL_ASCII server (an `initdb` in the C locale) would
    otherwise hand psycopg bytes for every name and value.
    """
    kwargs.setdefault("client_encoding", "UTF8")
    if transaction_pooled(dsn, pooler):
        kwargs.setdefault("prepare_threshold", None)
        return PooledConnection.connect(dsn, autocommit=autocommit, **kwargs)
    return psycopg.connect(dsn, autocommit=autocommit, **kwargs)


def transaction_pooled(dsn: str, pooler: str = "auto") -> bool:
    """`pooler` as configured (tiers.<tier>.pooler); `auto` means port 6543."""
    if pooler != "auto":
        return pooler == "transaction"
    return (dsn_fields(dsn) or {}).get("port", "5432") == "6543"


class PooledConnection(psycopg.Connection):
    """A connection through a transaction pooler: settings that must hold for our statements
    (`transaction_settings`, filled by session.pin_session) are applied with
    `set_config(..., true)` at the start of every transaction, so they end with it and never
    reach the next client of the server session. Statements outside a transaction (autocommit)
    run with the server's defaults."""

    transaction_settings: dict[str, str] | None = None

    def _start_query(self):  # psycopg's hook before a statement (opens the implicit BEGIN)
        begins = not self.autocommit and self.pgconn.transaction_status == IDLE
        yield from super()._start_query()
        if begins and self.transaction_settings:
            yield from self._exec_command(self.settings_statement())

    @contextlib.contextmanager
    def transaction(self, *args, **kwargs) -> Iterator[psycopg.Transaction]:
        begins = self.pgconn.transaction_status == IDLE
        with super().transaction(*args, **kwargs) as tx:
            if begins and self.transaction_settings:
                self.execute(self.settings_statement())
            yield tx

    def settings_statement(self) -> bytes:
        return sql.SQL("select {}").format(sql.SQL(", ").join(
            sql.SQL("set_config({}, {}, true)").format(sql.Literal(k), sql.Literal(v))
            for k, v in (self.transaction_settings or {}).items())).as_bytes(self)


def session_pooler_dsn(dsn: str) -> str:
    """For messages: the same DSN on port 5432 (Supabase's session pooler on the pooler host),
    without the password."""
    fields = dsn_fields(dsn) or {}
    return (f"postgresql://{fields.get('user', '')}:<password>@{fields.get('host', '<host>')}"
            f":5432/{fields.get('dbname', 'postgres')}")


# ---------------------------------------------------------------------------------------------
# Tiers


@dataclass(frozen=True)
class PgTier:
    """One PostgreSQL tier (core or main) as configured."""

    name: str
    dsn: str
    embedded: bool
    quota_bytes: int | None
    size_scope: str = "database"
    pooler: str = "auto"  # tiers.<name>.pooler

    @property
    def transaction_pooled(self) -> bool:
        """Behind a transaction pooler: no session state survives a transaction."""
        return transaction_pooled(self.dsn, self.pooler)

    def __repr__(self) -> str:  # the dsn may carry a password
        return f"PgTier({self.name!r}, {safe_dsn(self.dsn)!r})"

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection:
        # libpq's own parse error would quote the password (pgserver's URIs need no check, and
        # an `@` in their socket folder would look like one in a password)
        problem = None if self.embedded else dsn_problem(f"tiers.{self.name}.dsn", self.dsn)
        if problem:
            raise TierUnavailable(f"the {self.name} tier cannot be used: {problem}")
        try:
            return connect(self.dsn, autocommit=autocommit, pooler=self.pooler)
        except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
            # libpq quotes the DSN around what it could not read: scrub it of the password
            why = scrub(_first_line(exc), [self.dsn, dsn_password(self.dsn)])
            raise TierUnavailable(
                f"the {self.name} tier ({safe_dsn(self.dsn)}) cannot be reached: "
                f"{why}. Check tiers.{self.name}.dsn in persys.yaml"
                + (", or run `persys setup` to start the embedded server" if self.embedded else "")
            ) from None

    @contextlib.contextmanager
    def cursor(self) -> Iterator[psycopg.Cursor]:
        with self.connect(autocommit=True) as conn, conn.cursor() as cur:
            yield cur

    def size_bytes(self) -> int:
        """What the provider bills: pg_database_size of this database, or of all of them."""
        query = (
            "select pg_database_size(current_database())"
            if self.size_scope == "database"
            else "select sum(pg_database_size(datname))::bigint from pg_database "
            "where not datistemplate"
        )
        with self.cursor() as cur:
            return int(cur.execute(query).fetchone()[0])


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def tier_handle(name: str, tier_cfg: CoreTier | MainTier, home: Path) -> PgTier:
    """The tier's handle from its persys.yaml section (`tiers.<name>`); without a dsn, the
    embedded server under `home` (started, its database created)."""
    quota = int(tier_cfg.quota_mb * 1024 * 1024) if tier_cfg.quota_mb else None
    if tier_cfg.dsn is not None:
        return PgTier(name, tier_cfg.dsn.get_secret_value(), False, quota, tier_cfg.size_scope,
                      tier_cfg.pooler)
    return PgTier(name, embedded_uri(home, TIER_DATABASES[name]), True, quota, "database")


def dagster_storage_url(home: Path) -> str:
    """SQLAlchemy URL of the Dagster instance database in the embedded server.

    Named `postgresql+psycopg2` on purpose: with SQLAlchemy 2.1 a bare `postgresql://` selects
    psycopg 3, and dagster-postgres then fails on `NOTIFY run_events, $1`.
    """
    server = embedded_server(home)
    ensure_database(server.get_uri("postgres"), DAGSTER_DB)
    socket_dir = parse_qs(urlsplit(server.get_uri(DAGSTER_DB)).query)["host"][0]
    return f"postgresql+psycopg2://postgres@/{DAGSTER_DB}?host={socket_dir}"
