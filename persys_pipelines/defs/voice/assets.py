"""`voice_briefing` [daily]: the spoken briefing of each day from its summary and projection.

A ranged backfill is one run (`BackfillPolicy.single_run()`) that makes every day of the range
with the local voice (past days never use the paid voice unless voice.allow_paid_backfill) and
sends nothing; a run for yesterday or today also sends the Telegram voice note, once. A
catch-up run (tag persys/send_only_latest) makes every missed day and sends only its last day,
so a week of downtime ends in one message, not seven.
"""

import datetime as dt

import dagster as dg

from ... import handles
from ...lib.config import Config
from ...lib.voice import briefing
from ...lib.voice.context import VoiceHandles
from ...lib.voice.plan import VoicePlan
from ...lib.voice.tts_elevenlabs import ElevenLabsEngine
from ..partitions import daily, window_days
from ..resources import (
    NotifierResource,
    PersysConfigResource,
    PostgresTierResource,
    VoiceEngineResource,
)
from ..retries import NETWORK_RETRY, terminal_errors
from ..tags import SEND_ONLY_LATEST_TAG


def voice_briefing_asset(cfg: Config) -> dg.AssetsDefinition:
    @dg.asset(
        name="voice_briefing",
        group_name="daily",
        kinds={"audio"},
        partitions_def=daily(cfg),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[dg.AssetKey("daily_summary"), dg.AssetKey("daily_projection")],
        retry_policy=NETWORK_RETRY,  # ElevenLabs, Telegram
        description="A 60–90 s spoken briefing of the day (eSpeak NG, or ElevenLabs behind a "
        "credit guard) as OGG/Opus under `voice/YYYY/MM/`, a voice_messages row, and one "
        "Telegram voice note for the current day.",
    )
    def voice_briefing(
        context: dg.AssetExecutionContext, persys_config: PersysConfigResource,
        voice_engine: VoiceEngineResource, notifier: NotifierResource,
        core: PostgresTierResource, main: PostgresTierResource,
    ) -> dg.MaterializeResult:
        with terminal_errors():
            cfg = persys_config.load()
            voice = handles.voice_handles(cfg, core=core.handle(), main=main.handle())
            made, sent = _produce(context, cfg, voice, voice_engine.handle())
        b = made[-1]
        plans = [m.plan for m in made if m.plan is not None]
        if plans:
            announce_plan(notifier, plans[-1])
        metadata: dict = {
            "days": len(made),
            "engine": b.engine,
            "voice": b.voice,
            "duration_s": b.audio.duration_s,
            "characters": len(b.script.text),
            "uri": dg.MetadataValue.path(b.uri),
            "script": dg.MetadataValue.md(b.script.text),
            "telegram": ", ".join(sent) or "not sent (backfill or not configured)",
        }
        if b.signed_url:  # Supabase Storage: a link that plays without credentials
            metadata["signed_url"] = dg.MetadataValue.url(b.signed_url)
        if plans:
            metadata["credit_plan"] = plans[-1].text()
        if b.notes:
            metadata["notes"] = dg.MetadataValue.md("\n".join(f"- {n}" for n in b.notes))
        if len(made) > 1:
            metadata["engines"] = {e: sum(m.engine == e for m in made) for e in
                                   sorted({m.engine for m in made})}
            metadata["total_duration_s"] = round(sum(m.audio.duration_s for m in made), 1)
        return dg.MaterializeResult(metadata=metadata)

    return voice_briefing


def announce_plan(notifier: NotifierResource, plan: VoicePlan) -> None:
    """Once per credit cycle and level: the paid voice now degrades (or goes local) so that
    its credits last to the reset; a full-script plan is nothing to announce."""
    if plan.level == "full":
        return
    subject = {"economy": "🔉 persys: briefings move to ElevenLabs' half-price voice",
               "shorter": "🔉 persys: shorter briefings so ElevenLabs' credits last",
               "local": "🔈 persys: the built-in voice until ElevenLabs' credits reset"}
    notifier.handle().notify(f"voice-plan:{plan.reset}:{plan.level}", subject[plan.level],
                             plan.text())


def _produce(context: dg.AssetExecutionContext, cfg: Config, voice: VoiceHandles,
             engine: ElevenLabsEngine | None) -> tuple[list[briefing.Briefing], list[str]]:
    """Every day of the run's window; the current day's note is sent (once, recorded)."""
    first, last = window_days(context)
    only_latest = context.run.tags.get(SEND_ONLY_LATEST_TAG) == "true"
    made: list[briefing.Briefing] = []
    sent: list[str] = []
    day = first
    while day <= last:
        b = briefing.produce(voice, day, voice_engine=engine)
        made.append(b)
        for note in b.notes:
            context.log.warning(note)
        if cfg.voice.send_telegram and should_send(cfg, day, last, only_latest):
            result = briefing.send(voice, day, b)
            sent.append(f"{day}: {result.status}")
            context.log.info(f"Telegram {day}: {result.status} {result.detail}".strip())
        day += dt.timedelta(days=1)
    return made, sent


def should_send(cfg: Config, day: dt.date, last: dt.date, only_latest: bool) -> bool:
    """A day's note goes out when the day is current (yesterday/today); in a catch-up run
    (`only_latest`) only the run's last day, the latest missed briefing, goes out."""
    if only_latest:
        return day == last
    return briefing.is_current(day, cfg.today())
