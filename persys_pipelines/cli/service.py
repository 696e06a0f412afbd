"""`persys service install|status|uninstall`: Dagster's webserver and daemon as systemd units."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

from ..lib import service as service_lib
from ..lib.errors import UsageError
from ..lib.pg.instance import PROJECT_ROOT, prepare_dagster_home
from .common import add_config_arg, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("service", help="run the Dagster UI and daemon as systemd services")
    cmds = p.add_subparsers(dest="service_command", required=True, metavar="ACTION")
    for name, handler, text in (
        ("install", cmd_install, "write the systemd units (and enable them if systemctl is "
                                 "there)"),
        ("status", cmd_status, "show the units and whether they run"),
        ("uninstall", cmd_uninstall, "stop, disable and remove the units"),
    ):
        c = cmds.add_parser(name, help=text)
        add_config_arg(c)
        c.add_argument("--user", action="store_true",
                       help="user units (~/.config/systemd/user) instead of /etc/systemd/system")
        # tests (and packagers) write elsewhere; systemctl is then never called
        c.add_argument("--target-dir", type=Path, help=argparse.SUPPRESS)
        c.set_defaults(handler=handler)
        if name == "install":
            c.add_argument("--port", type=int, default=3000, help="UI port (default 3000)")
            c.add_argument("--dry-run", action="store_true", help="print the units only")


def _target(args: argparse.Namespace) -> Path:
    if args.target_dir:
        return args.target_dir
    return service_lib.user_dir() if args.user else service_lib.SYSTEM_DIR


def _systemctl(args: argparse.Namespace) -> list[str] | None:
    """The systemctl command for these units, None when there is none to call."""
    if args.target_dir or not shutil.which("systemctl"):
        return None
    return ["systemctl", "--user"] if args.user else ["systemctl"]


def cmd_install(args: argparse.Namespace) -> int:
    cfg = load(args)
    config = args.config or os.environ.get("PERSYS_CONFIG")
    spec = service_lib.ServiceSpec(
        project=PROJECT_ROOT, dagster_home=cfg.home / "dagster",
        config=Path(config).resolve() if config else None, persys_home=cfg.home,
        port=args.port, user=args.user)
    units = service_lib.render_units(spec)
    if args.dry_run:
        for name, text in units.items():
            print(f"# {_target(args) / name}\n{text}")
        return 0
    # dagster.yaml in DAGSTER_HOME, as `persys up` does
    prepare_dagster_home(cfg.home, cfg.instance)
    try:
        written = service_lib.write_units(units, _target(args))
    except PermissionError as exc:
        raise UsageError(f"cannot write {exc.filename}: run as root, or use "
                         "`persys service install --user`") from None
    for path in written:
        print(f"wrote {path}")
    systemctl = _systemctl(args)
    if systemctl is None:
        ctl = "systemctl --user" if args.user else "systemctl"
        print(f"systemctl not called; enable them with: {ctl} daemon-reload && "
              f"{ctl} enable --now {' '.join(service_lib.UNITS)}")
        return 0
    subprocess.run([*systemctl, "daemon-reload"], check=True)
    subprocess.run([*systemctl, "enable", "--now", *service_lib.UNITS], check=True)
    print(f"enabled and started; the UI is at http://127.0.0.1:{args.port}"
          + ("" if not args.user else " (`loginctl enable-linger` keeps it running after "
             "you log out)"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    target = _target(args)
    systemctl = _systemctl(args)
    missing = 0
    for name in service_lib.UNITS:
        path = target / name
        if not path.exists():
            missing += 1
            print(f"{name}: not installed ({path})")
            continue
        state = "installed"
        if systemctl:
            found = subprocess.run([*systemctl, "is-active", name], capture_output=True,
                                   text=True)
            state = found.stdout.strip() or "unknown"
        print(f"{name}: {state} ({path})")
    return 1 if missing else 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    target = _target(args)
    systemctl = _systemctl(args)
    if systemctl:
        subprocess.run([*systemctl, "disable", "--now", *service_lib.UNITS], check=False)
    removed = 0
    for name in service_lib.UNITS:
        path = target / name
        if path.exists():
            path.unlink()
            removed += 1
            print(f"removed {path}")
    if systemctl:
        subprocess.run([*systemctl, "daemon-reload"], check=False)
    print(f"service: {removed} units removed" if removed else "service: nothing installed")
    return 0
