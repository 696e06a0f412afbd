"""Real PostgreSQL for every test: one embedded server per session (or PERSYS_TEST_DSN), and
fresh core/main databases per test.

Dagster contexts (`build_sensor_context`, `build_schedule_context`, instances) are always used
with `with`: one left open keeps its instance as Dagster's current defs-state storage after the
instance is gone, and every later Definitions load in the session fails with "Attempted to
resolve undefined DagsterInstance weakref".
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import yaml

from persys_pipelines.defs.runner import THROWAWAY_ENV
from persys_pipelines.lib.config import Config, load_config
from persys_pipelines_tests.leaks import SESSION_FOLDERS
from persys_pipelines_tests.pooler_fixture import pgbouncer  # noqa: F401  (a fixture)

_STARTED = pytest.StashKey[float]()
_OWN_BASETEMP = pytest.StashKey[str]()
_WORKER_LEAKS = pytest.StashKey[list[str]]()
_LEAKS_KEY = "persys_leaked_servers"

DEFAULT_TABLES = yaml.safe_load(
    (Path(__file__).parents[1] / "persys_pipelines" / "default_persys.yaml").read_text()
)["tables"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests through the transaction pooler need Debian's pgbouncer: marked `pooler`, run by
    `make test-pooler` (`.ci/run` installs pgbouncer first), not by `make test`."""
    for item in items:
        if "pgbouncer" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pooler)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The session's temporary folders in a folder of its own, not under pytest's shared
    /tmp/pytest-of-<user>: every pytest session started meanwhile (another checkout's, as on
    a shared machine) resets that one to mode 0700, and as root the embedded servers of
    tests, running as the `pgserver` user, then lose their data folders. Removed at the end."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="persys-test-tmp-")
        config.stash[_OWN_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN_BASETEMP, None)
    if own:
        shutil.rmtree(own, ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.time()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite leaves the machine as it found it: a server (PostgreSQL, Dagster, pgbouncer)
    that a test started and nobody stopped fails the run, named, and is stopped here.

    With workers (pytest-xdist, `make test`) each worker stops what its own tests left and
    hands the names to the controlling process, which reports them and fails the run."""
    from persys_pipelines_tests.leaks import leaked_servers, stop

    started = session.config.stash.get(_STARTED, None)
    if started is None or os.environ.get("PERSYS_TEST_ALLOW_LEAKS"):
        return
    lines = list(session.config.stash.get(_WORKER_LEAKS, []))
    leaked = leaked_servers(started, _test_folders(session))
    lines += [f"  pid {p.pid}: {' '.join(p.cmdline())[:200]}" for p in leaked]
    stop(leaked)
    if not lines:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a worker: its controller reports and fails the run
        workeroutput[_LEAKS_KEY] = lines
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("\n".join(["servers left running by the tests (stopped now):",
                                       *lines]), red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist's controller: a worker is done; keep the servers it found left running."""
    lines = getattr(node, "workeroutput", {}).get(_LEAKS_KEY)
    if lines:
        node.config.stash.setdefault(_WORKER_LEAKS, []).extend(lines)


def _test_folders(session: pytest.Session) -> list[str]:
    """Where this session's tests keep state: pytest's temporary folders, the session server's
    data folder and the pooler's (never another session's, which may still be running)."""
    from persys_pipelines_tests.leaks import SESSION_FOLDERS

    return [str(session.config._tmp_path_factory.getbasetemp()), *SESSION_FOLDERS]  # noqa: SLF001


@pytest.fixture(autouse=True)
def _no_persys_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees none of the runner's PERSYS_* variables (PERSYS_TEST_* excepted).

    A PERSYS_HOME or PERSYS_CONFIG left over from `make demo` would otherwise point a test at
    the person's own files; tests that need one set it themselves.
    """
    for name in [n for n in os.environ if n.startswith("PERSYS_")]:
        if not name.startswith("PERSYS_TEST_"):
            monkeypatch.delenv(name)
    # Runs started by commands go to a throwaway instance unless a test asks for the real one
    # (a person's runs go to the instance `persys up` shows); never to the runner's own.
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv(THROWAWAY_ENV, "1")


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser DSN on a server tests may create databases in."""
    if os.environ.get("PERSYS_TEST_DSN"):
        yield os.environ["PERSYS_TEST_DSN"]
        return
    # Not under pytest's basetemp: every new pytest session resets /tmp/pytest-of-<user> to
    # mode 0700, and as root the server runs as user `pgserver`, which then can no longer
    # reach its socket there.
    data = Path(tempfile.mkdtemp(prefix="persys-test-pg-"))
    SESSION_FOLDERS.append(str(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(data / "pg", cleanup_mode="delete")
    yield server.get_uri("postgres")
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


def dsn_for(admin_dsn: str, database: str) -> str:
    parts = urlsplit(admin_dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
def make_database(pg_admin_dsn: str) -> Iterator:
    """make_database(label) → DSN of a new empty database, dropped after the test."""
    created: list[str] = []

    def _make(label: str) -> str:
        name = f"t_{uuid.uuid4().hex[:10]}_{label}"
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        created.append(name)
        return dsn_for(pg_admin_dsn, name)

    yield _make
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        for name in created:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def tier_dsns(make_database) -> dict[str, str]:
    return {"core": make_database("core"), "main": make_database("main")}


def write_config(path: Path, tier_dsns: dict[str, str], home: Path, **overrides) -> Path:
    """A persys.yaml pointing at the test's databases; `overrides` replace top-level keys."""
    doc = {
        "home": str(home),
        "timezone": "Europe/London",
        "start_date": "2023-01-01",
        "tiers": {
            "core": {"dsn": tier_dsns["core"], "quota_mb": 500},
            "main": {"dsn": tier_dsns["main"]},
            "archive": {"url": f"file://{home / 'archive'}"},
        },
        "tables": DEFAULT_TABLES,
    }
    doc.update(overrides)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def config_path(tmp_path: Path, tier_dsns, monkeypatch: pytest.MonkeyPatch) -> Path:
    """persys.yaml for this test's fresh databases, also exported as PERSYS_CONFIG."""
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home")
    monkeypatch.setenv("PERSYS_CONFIG", str(path))
    monkeypatch.delenv("PERSYS_HOME", raising=False)
    return path


@pytest.fixture
def cfg(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's HTTP server on 127.0.0.1 (S3, SSM, ...) with fake credentials."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    yield f"http://{host}:{port}"
    server.stop()
