"""`persys`: the command line. One module per command group, each adding its sub-commands."""

from __future__ import annotations

import argparse
import logging
import sys

from ..lib.errors import PersysError
from . import archive, demo, lifecycle, setup, status, up, voice

GROUPS = (setup, status, up, demo, archive, lifecycle, voice)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persys",
        description="Personal-system data pipelines: tiers, lifecycle, summaries, voice.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens inside")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("persys: interrupted", file=sys.stderr)
        return 130
    except PersysError as exc:  # the message says what and how to fix; a traceback would not
        print(f"persys: {exc}", file=sys.stderr)
        return exc.exit_code


