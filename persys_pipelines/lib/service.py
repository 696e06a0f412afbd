"""systemd units for running Dagster for years: the webserver and the daemon, started directly.

Plain text work, no systemctl: `render_units` returns the unit files `persys service install`
writes. Values are quoted the way systemd unquotes them (double quotes, `\\` and `"` escaped,
`%` doubled), so a project folder with spaces works.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path

WEBSERVER = "persys-dagster-webserver.service"
DAEMON = "persys-dagster-daemon.service"
UNITS = (WEBSERVER, DAEMON)
SYSTEM_DIR = Path("/etc/systemd/system")


def user_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def quote(value: str) -> str:
    """One word of an ExecStart=/Environment= line as systemd reads it back."""
    value = value.replace("%", "%%")
    if not any(c in value for c in ' \t"\\\''):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class ServiceSpec:
    project: Path  # WorkingDirectory, where workspace.yaml is
    dagster_home: Path
    config: Path | None  # PERSYS_CONFIG (None: persys.yaml found the usual way)
    persys_home: Path
    port: int = 3000
    user: bool = False  # a user unit (systemctl --user) rather than a system one
    bin_dir: Path = Path(sys.executable).parent  # where dagster-webserver / dagster-daemon are


def render_units(spec: ServiceSpec) -> dict[str, str]:
    """{unit file name: text} for the webserver and the daemon."""
    workspace = str(spec.project / "workspace.yaml")
    commands = {
        WEBSERVER: ("Dagster webserver (persys UI)",
                    [str(spec.bin_dir / "dagster-webserver"), "-w", workspace,
                     "-h", "127.0.0.1", "-p", str(spec.port)]),
        DAEMON: ("Dagster daemon (persys schedules and sensors)",
                 [str(spec.bin_dir / "dagster-daemon"), "run", "-w", workspace]),
    }
    env = {"DAGSTER_HOME": str(spec.dagster_home), "PERSYS_HOME": str(spec.persys_home)}
    if spec.config:
        env["PERSYS_CONFIG"] = str(spec.config)
    units = {}
    for name, (description, argv) in commands.items():
        lines = ["[Unit]", f"Description={description}", "After=network-online.target",
                 "Wants=network-online.target", "", "[Service]", "Type=simple",
                 f"WorkingDirectory={spec.project}"]
        if not spec.user:
            lines.append(f"User={getpass.getuser()}")
        lines += [f"Environment={quote(f'{k}={v}')}" for k, v in env.items()]
        lines += [f"ExecStart={' '.join(quote(a) for a in argv)}", "Restart=on-failure",
                  "RestartSec=10", "TimeoutStopSec=60", "", "[Install]",
                  f"WantedBy={'default.target' if spec.user else 'multi-user.target'}", ""]
        units[name] = "\n".join(lines)
    return units


def write_units(units: dict[str, str], target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.items():
        path = target / name
        path.write_text(text)
        written.append(path)
    return written
