"""What every command shares: loading the config, the errors shown without a traceback."""

from __future__ import annotations

import argparse
import datetime as dt

from ..lib.config import Config, load_config


def load(args: argparse.Namespace, *, lenient: bool = False) -> Config:
    """The command's config; `lenient` for commands that need only `home` (see load_config)."""
    return load_config(getattr(args, "config", None), lenient=lenient)


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="persys.yaml to use (default: $PERSYS_CONFIG, "
                        "./persys.yaml, or the packaged default)")


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None
