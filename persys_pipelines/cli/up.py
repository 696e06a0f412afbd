"""`persys up` / `persys down`: the Dagster UI and daemon on 127.0.0.1, and stopping it all."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from ..lib import processes
from ..lib.errors import UsageError
from ..lib.monitoring.units import plural
from ..lib.pg.instance import prepare_dagster_home
from ..lib.pg.tiers import embedded_running, embedded_server, stop_embedded
from .common import add_config_arg, add_demo_arg, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="run the Dagster UI, daemon and code server on 127.0.0.1")
    add_config_arg(p)
    add_demo_arg(p)
    p.add_argument("--port", type=int, default=3000, help="UI port (default 3000)")
    p.add_argument("--detach", action="store_true", help="return once the UI answers")
    p.add_argument("--timeout", type=float, default=180, help="seconds to wait for the UI")
    p.set_defaults(handler=run_up)
    d = sub.add_parser("down", help="stop what `persys up` started and the embedded PostgreSQL")
    add_config_arg(d)
    add_demo_arg(d)
    d.set_defaults(handler=run_down)


def run_up(args: argparse.Namespace) -> int:
    cfg = load(args)
    running = processes.read_record(cfg.home)
    if running:
        print(f"persys up is already running at {running['url']} (pid {running['pid']}); "
              "`persys down` stops it")
        return 0
    check_port_free(args.port)
    started_pg = embedded_running(cfg.home) is None
    embedded_server(cfg.home)
    dagster_home = prepare_dagster_home(cfg.home, cfg.instance)
    prepare_tiers(cfg)
    url = f"http://127.0.0.1:{args.port}"
    env = dict(os.environ)
    if getattr(args, "config", None):
        env["PERSYS_CONFIG"] = os.path.abspath(args.config)
    env["PERSYS_HOME"] = str(cfg.home)
    log_path = cfg.home / "run" / "dagster-dev.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # SIGTERM (e.g. `kill`, systemd) stops it like Ctrl-C does, from here on; SIGINT too when
    # it was started with SIGINT ignored (a `&` job of a script: Python then has no handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    with open(log_path, "ab") as log_file:
        # Its own session: Ctrl-C reaches only this process, which then stops the whole tree.
        # The code server, webserver and daemon are started directly (lib/supervisor.py), not
        # by `dagster dev`, whose own two processes cost ~230 MB for a reload nobody uses here.
        child = subprocess.Popen(
            [sys.executable, "-m", "persys_pipelines.lib.supervisor", "--ui-port",
             str(args.port), "--grpc-port", str(free_port()), "--workspace",
             str(cfg.home / "run" / "workspace.yaml"), "--load-timeout", str(args.timeout)],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
    processes.write_record(cfg.home, pid=child.pid, url=url, dagster_home=str(dagster_home))
    print(f"starting Dagster (pid {child.pid}), instance in PostgreSQL database persys_dagster, "
          f"log {log_path}", flush=True)
    detached = False
    try:
        if not _wait_for_ui(url, child, args.timeout):
            raise UsageError(f"Dagster did not answer at {url} within {args.timeout:.0f}s; "
                            f"see {log_path}")
        print(f"Dagster UI: {url}", flush=True)
        after_start(cfg, url)
        if args.detach:
            detached = True
            print("running in the background; `persys down` stops it")
            return 0
        print("Ctrl-C stops it", flush=True)
        child.wait()
        print(f"Dagster exited with code {child.returncode}; see {log_path}")
        return child.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        if not detached:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            n = processes.stop_tree(child.pid)
            processes.record_path(cfg.home).unlink(missing_ok=True)
            print(f"stopped {plural(n, 'process')}", flush=True)
            if started_pg and stop_embedded(cfg.home):
                print("stopped the embedded PostgreSQL (`persys up` had started it)", flush=True)


def prepare_tiers(cfg) -> None:
    """What the project needs itself (its own tables, the archive marker), as `persys setup`
    makes it, so the morning runs have somewhere to write; never the sample tables unless
    persys.yaml names them. A tier that cannot be reached does not stop the UI."""
    from .. import handles as provision
    from ..lib.errors import PersysError

    try:
        for tier, tables in provision.setup_tiers(cfg).items():
            if tables:
                print(f"{tier}: created {', '.join(tables)}", flush=True)
        provision.mark_archive_stores(cfg)
    except PersysError as exc:
        first = (str(exc).splitlines() or [""])[0]
        print(f"note: could not prepare the tiers ({first}); the UI starts anyway, "
              "`persys doctor` says what to fix", flush=True)


def after_start(cfg, url: str) -> None:
    """Once the UI answers: a go-ahead given while it was not running, an observation of every
    core table (so none says "Never observed"), and which schedules and sensors are on."""
    import dagster as dg
    import httpx

    from ..defs.lifecycle.sources import record_core_tables
    from ..handles import resolve_tier
    from ..lib.errors import PersysError
    from . import schedules

    try:
        with dg.DagsterInstance.get() as instance:
            record_core_tables(cfg, resolve_tier(cfg, "core"), instance)
    except PersysError as exc:
        print(f"note: core tables not observed ({(str(exc).splitlines() or [''])[0]})")
    try:
        schedules.apply_pending(cfg, url)
        schedules.print_states(url, cfg.home)
    except (httpx.HTTPError, schedules.GraphQLProblem) as exc:
        print(f"note: could not read the schedules from the UI ({exc}); `persys schedules` "
              "tries again", flush=True)


def check_port_free(port: int) -> None:
    """Refuse at once when the UI port is taken: the webserver would only fail after the
    definitions loaded."""
    with socket.socket() as probe:
        # as the web server binds: a port only in TIME_WAIT after a recent `down` is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise UsageError(
                f"port {port} on 127.0.0.1 is already in use ({exc.strerror}); stop what uses "
                f"it, or pick another port with `persys up --port {port + 1}`"
            ) from None


def free_port() -> int:
    """A port nobody listens on now, for the code server (127.0.0.1 only)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def _wait_for_ui(url: str, child: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def run_down(args: argparse.Namespace) -> int:
    cfg = load(args, lenient=True)  # stopping needs only `home`, never a token or a DSN
    running = processes.read_record(cfg.home)
    if running:
        n = processes.stop_tree(running["pid"])
        processes.record_path(cfg.home).unlink(missing_ok=True)
        print(f"stopped Dagster ({plural(n, 'process')})")
    print(f"stopped the embedded PostgreSQL of {cfg.home}" if stop_embedded(cfg.home)
          else f"the embedded PostgreSQL of {cfg.home} was not running")
    return 0
