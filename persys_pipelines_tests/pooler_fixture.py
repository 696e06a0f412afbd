"""A real transaction pooler for the tests: Debian's pgbouncer in `pool_mode = transaction` in
front of the test server, with a pool so small (2 server sessions per database) that clients
really share server sessions, as they do on Supabase's port 6543.

The tests that use it are marked `pooler` (conftest.py) and run by `make test-pooler`, which
`.ci/run` calls after installing Debian's pgbouncer; `make test` needs no system package and no
root. Without pgbouncer the fixture fails with the command that installs it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from persys_pipelines_tests.leaks import SESSION_FOLDERS

POOL_SIZE = 2


def pgbouncer_binary() -> str:
    """The pgbouncer executable (Debian's package; never installed from here)."""
    found = shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)),
        None)
    if found:
        return found
    raise RuntimeError("pgbouncer is missing: `sudo apt-get install -y pgbouncer`, then "
                       "`make test-pooler` (`.ci/run` does both)")


@dataclass(frozen=True)
class Pooler:
    port: int
    admin_dsn: str  # the test server itself, not through the pooler
    log: Path

    def dsn(self, direct_dsn: str) -> str:
        """The same database as `direct_dsn`, through the pooler."""
        fields = conninfo_to_dict(direct_dsn)
        return (f"postgresql://{fields.get('user', 'postgres')}@127.0.0.1:{self.port}/"
                f"{fields['dbname']}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pgbouncer(pg_admin_dsn: str) -> Iterator[Pooler]:
    """pgbouncer on a free 127.0.0.1 port, every database of the test server behind it."""
    binary = pgbouncer_binary()
    server = conninfo_to_dict(pg_admin_dsn)
    host, user = server.get("host", "127.0.0.1"), server.get("user", "postgres")
    target = f"host={host} port={server.get('port', 5432)}"
    if server.get("password"):
        target += f" user={user} password={server['password']}"
    folder = Path(tempfile.mkdtemp(prefix="persys-test-pgbouncer-"))
    SESSION_FOLDERS.append(str(folder))
    port = _free_port()
    log = folder / "pgbouncer.log"
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(f"""\
[databases]
* = {target}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / 'users.txt'}
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = 100
query_wait_timeout = 30
logfile = {log}
pidfile = {folder / 'pgbouncer.pid'}
""")
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        # pgbouncer refuses to run as root: run it as the owner of the server's socket folder
        # (pgserver's own system user), who can reach the socket.
        owner = pwd.getpwuid(Path(host).stat().st_uid if host.startswith("/") else 0)
        owner_name = owner.pw_name if owner.pw_uid != 0 else "postgres"
        shutil.chown(folder, owner_name)
        for f in folder.iterdir():
            shutil.chown(f, owner_name)
        command[1:1] = ["-u", owner_name]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise RuntimeError(f"pgbouncer did not start: {out}"
                                       f"{log.read_text() if log.exists() else ''}") from None
                time.sleep(0.1)
        yield Pooler(port, pg_admin_dsn, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
