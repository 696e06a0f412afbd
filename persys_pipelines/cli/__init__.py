"""`persys`: the command line. One module per command group, each adding its sub-commands."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
import warnings
from typing import NoReturn

import dagster as dg

from ..defs.runner import THROWAWAY_ENV
from ..lib.errors import PersysError
from . import (
    adopt,
    archive,
    backup,
    costs,
    daily,
    demo,
    deploy,
    doctor,
    household,
    imports,
    init,
    lifecycle,
    schedules,
    service,
    setup,
    status,
    today,
    up,
    voice,
)

GROUPS = (init, setup, doctor, status, up, schedules, service, demo, archive, backup, lifecycle,
          adopt, imports, daily, voice, household, deploy, today, costs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persys",
        description="Personal-system data pipelines: tiers, lifecycle, summaries, voice.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens inside")
    household.add_global_args(parser)
    parser.add_argument("--throwaway-instance", action="store_true",
                        help="record this command's Dagster runs in a throwaway instance, not "
                             "in the one `persys up` shows (default: that one, <home>/dagster)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def quiet_warnings() -> None:
    """Warnings meant for developers, not for a person at a terminal: Dagster's beta/preview
    markers on APIs we chose, and platformdirs' note that XDG_RUNTIME_DIR is unset (pgserver
    asks for a runtime folder; the fallback it takes is fine)."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", message=r".*XDG_RUNTIME_DIR", category=UserWarning)


def main(argv: list[str] | None = None) -> int:
    quiet_warnings()
    args = build_parser().parse_args(argv)
    if args.throwaway_instance:
        os.environ[THROWAWAY_ENV] = "1"
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        household.apply(args)  # --household/--person: that person's persys.yaml and secrets
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("persys: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (`persys status | head`): nothing to tell it
        return closed_pipe()
    except PersysError as exc:  # the message says what and how to fix; a traceback would not
        print(f"persys: {exc}", file=sys.stderr)
        return exc.exit_code


def closed_pipe() -> int:
    """Exit code of a command whose output pipe closed (as a shell reports SIGPIPE); stdout is
    pointed at /dev/null so the final flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 141


def run() -> NoReturn:
    """The `persys` console script and `python -m persys_pipelines.cli`: `main`, then a hard
    exit once the output is flushed.

    A normal interpreter exit can abort after the work is done: a native Arrow thread still
    alive at shutdown ends the process with `terminate called without an active exception`
    (exit -6, apache/arrow#34314). Nothing is left to clean up by then (connections are
    closed, files written and closed), so `os._exit` skips the shutdown that can abort.
    """
    try:
        code = main()
    except BrokenPipeError:  # argparse's --help into a closed pipe
        code = closed_pipe()
    except SystemExit as exc:  # argparse: --help, a usage error
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except BaseException:  # a bug: keep its traceback, still leave the safe way
        traceback.print_exc()
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`persys status | head`)
            stream.flush()
    os._exit(code)
