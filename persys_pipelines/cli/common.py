"""What every command shares: loading the config, the errors shown without a traceback."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

from ..lib.config import CONFIG_ENV, HOME_ENV, PACKAGED_DEFAULT, Config, load_config
from ..lib.errors import UsageError

DEMO_HOME = ".persys-demo"  # `persys demo` never touches the home of your own persys.yaml


def load(args: argparse.Namespace, *, lenient: bool = False) -> Config:
    """The command's config; `lenient` for commands that need only `home` (see load_config)."""
    if getattr(args, "demo", False):
        use_demo(args)
    return load_config(getattr(args, "config", None), lenient=lenient)


def add_demo_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demo", action="store_true",
                        help=f"the demo's system (packaged default config, home ./{DEMO_HOME}) "
                             "instead of your persys.yaml")


def use_demo(args: argparse.Namespace) -> None:
    """The demo's config for this process and every process it starts: the packaged default
    with home ./.persys-demo (an explicit --config is used as it is)."""
    if getattr(args, "config", None):
        return
    os.environ[CONFIG_ENV] = str(Path(__file__).resolve().parents[1] / PACKAGED_DEFAULT)
    os.environ[HOME_ENV] = str(Path.cwd() / DEMO_HOME)


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="persys.yaml to use (default: $PERSYS_CONFIG, "
                        "./persys.yaml, or the packaged default)")


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def add_yes_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true",
                        help="go ahead with an --as-of later than tomorrow (it purges for real)")


def refuse_future_as_of(cfg: Config, args: argparse.Namespace, command: str, effect: str) -> None:
    """A purge dated in the future deletes for good what is not due yet: ask for --yes.

    Tomorrow is allowed (a zone ahead of the clock); a dry run changes nothing, so needs none.
    """
    tomorrow = cfg.today() + dt.timedelta(days=1)
    if args.as_of is None or args.as_of <= tomorrow or args.dry_run or args.yes:
        return
    raise UsageError(
        f"--as-of {args.as_of} is later than tomorrow ({tomorrow} in {cfg.timezone}): "
        f"`persys {command}` would act as if that day had come and {effect}, which cannot be "
        "undone; check the date, look first with --dry-run, or add --yes to go ahead"
    )
