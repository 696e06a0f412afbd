"""`persys today [--date D] [--open]`: the day's briefing, audio, chart, metric table,
correlations and tiers' usage as one static HTML file (lib/monitoring/today.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import webbrowser

from ..lib.archive.stores import StoreError
from ..lib.errors import UsageError
from ..lib.tiering.reader import ReaderError
from ..lib.voice import VoiceError
from .common import add_config_arg, iso_date, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("today", help="the day's briefing, charts and metric table as one "
                       "static HTML page")
    add_config_arg(p)
    p.add_argument("--date", type=iso_date, help="the day (default: yesterday)")
    p.add_argument("--open", action="store_true", help="open the page in a browser")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..handles import today_page

    cfg = load(args)
    day = args.date or cfg.today() - dt.timedelta(days=1)
    if day >= cfg.today():
        raise UsageError(f"--date {day}: that day is not over yet in {cfg.timezone}; the "
                         f"latest day with a page is yesterday, {cfg.today() - dt.timedelta(1)}")
    try:
        path = today_page(cfg, day)
    except (VoiceError, ReaderError, StoreError) as exc:
        raise UsageError(str(exc)) from None
    print(path)
    if args.open:
        webbrowser.open(path.as_uri())
    return 0
