"""`persys doctor`: everything persys.yaml names, checked read-only; exit 1 on any FAIL."""

from __future__ import annotations

import argparse

from ..lib.errors import ConfigError
from ..lib.monitoring import doctor
from .common import add_config_arg, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check tiers, tables, archive, keys and services "
                                      "(read-only); exit 1 on any FAIL")
    add_config_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """One line per check (ok / WARN / FAIL, with the fix); the same as `setup --validate`."""
    from ..handles import doctor as run_doctor

    try:
        findings = run_doctor(load(args))
    except ConfigError as exc:
        findings = doctor.config_failures(exc)
    lines, code = doctor.render(findings)
    print("\n".join(lines))
    return code
