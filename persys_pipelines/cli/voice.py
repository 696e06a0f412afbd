"""`persys voice preview|send|history`: the daily briefing from the command line.

`preview` prints the script and writes the audio (never sends); a day the daily run has not
summarised yet is computed on the fly. `send` makes the day's briefing (or reuses it) and sends
it as a Telegram voice note unless that day was already sent. Past days use the local voice
unless `--allow-paid`.
"""

from __future__ import annotations

import argparse
import datetime as dt

from .. import handles
from ..handles import resolve_tier
from ..lib.archive.stores import StoreError
from ..lib.config import Config
from ..lib.errors import UsageError
from ..lib.telegram import TelegramError
from ..lib.tiering.reader import ReaderError
from ..lib.voice import VoiceError, briefing, records
from .common import add_config_arg, iso_date, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("voice", help="the spoken daily briefing: preview, send, history")
    vsub = p.add_subparsers(dest="voice_command", required=True, metavar="ACTION")

    preview = vsub.add_parser("preview", help="print the script and write the audio file")
    send = vsub.add_parser("send", help="make the briefing and send it to Telegram (once)")
    for q in (preview, send):
        add_config_arg(q)
        q.add_argument("--date", type=iso_date, help="the day (default: yesterday)")
        q.add_argument("--allow-paid", action="store_true",
                       help="let a past day use the paid voice (ElevenLabs)")
    preview.set_defaults(handler=_guarded(run_preview))
    send.set_defaults(handler=_guarded(run_send))

    history = vsub.add_parser("history", help="the latest briefings: engine, length, sent")
    add_config_arg(history)
    history.add_argument("--limit", type=int, default=30)
    history.set_defaults(handler=_guarded(run_history))


def _guarded(handler):
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (VoiceError, ReaderError, StoreError, TelegramError) as exc:
            raise UsageError(str(exc)) from None
    return run


def default_day(cfg: Config, args: argparse.Namespace) -> dt.date:
    return args.date or cfg.today() - dt.timedelta(days=1)


def show(b: briefing.Briefing) -> None:
    print(b.script.text)
    print()
    engine = f"{b.engine} ({b.voice})" + (", stored audio reused" if b.reused else "")
    print(f"{b.day}: {engine}, {b.audio.duration_s:.1f} s, {len(b.script.text)} characters")
    for note in b.notes:
        print(f"note: {note}")
    if b.plan is not None and b.plan.paid:
        print(f"plan: {b.plan.text()}")
    print(f"audio: {b.uri}")
    if b.signed_url:
        print(f"link: {b.signed_url}")


def run_preview(args: argparse.Namespace) -> int:
    cfg = load(args)
    day = default_day(cfg, args)
    show(briefing.produce(handles.voice_handles(cfg), day, allow_paid=args.allow_paid,
                          compute_missing=True))
    return 0


def run_send(args: argparse.Namespace) -> int:
    cfg = load(args)
    day = default_day(cfg, args)
    if briefing.telegram_client(cfg.telegram) is None:
        raise UsageError("telegram.token and telegram.chat_id are not set in persys.yaml; set "
                        "them (token: env:TELEGRAM_BOT_TOKEN) to send voice notes")
    voice = handles.voice_handles(cfg)
    done = records.find(voice.tiers, day)
    if done is not None and done.sent:
        print(f"{day}: already sent (message {done.telegram_message_id}); nothing to do")
        return 0
    b = briefing.produce(voice, day, allow_paid=args.allow_paid, compute_missing=True)
    show(b)
    result = briefing.send(voice, day, b)
    print(f"telegram: {result.status}" + (f" (message {result.message_id})"
                                          if result.message_id else ""))
    return 0


def run_history(args: argparse.Namespace) -> int:
    cfg = load(args)
    rows = records.history([resolve_tier(cfg, "core"), resolve_tier(cfg, "main")], args.limit)
    if not rows:
        print("no briefings yet: try `persys voice preview`")
        return 0
    print(f"{'day':<10}  {'engine':<10}  {'seconds':>7}  {'chars':>5}  {'sent':<16}  tier  uri")
    for r in rows:
        sent = f"{r.sent_at:%Y-%m-%d %H:%M}" if r.sent_at else "-"
        seconds = f"{r.duration_s:.1f}" if r.duration_s is not None else "-"
        print(f"{r.day}  {r.engine:<10}  {seconds:>7}  {r.characters:>5}  {sent:<16}  "
              f"{r.tier:<4}  {r.uri or '-'}")
    return 0
