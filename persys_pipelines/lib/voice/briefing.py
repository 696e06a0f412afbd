"""One day's briefing end to end: read → script → voice → store → record → (send once).

Shared by the `voice_briefing` asset and `persys voice`, both giving it the day's handles
(context.VoiceHandles, built by handles.voice_handles). Choosing the voice:
- `voice.engine: local` → eSpeak NG;
- `voice.engine: elevenlabs` → the credit guard first. Over budget (or a 401 quota_exceeded):
  `on_over_budget: refuse` raises; `fallback_local` speaks with eSpeak NG and the briefing says
  so in its second sentence. Past days (before yesterday) use the local voice unless
  `allow_paid` / `voice.allow_paid_backfill`. A re-run whose script is unchanged reuses the
  stored ElevenLabs audio instead of paying for it again.
Files: `voice/<yyyy>/<mm>/<yyyy-mm-dd>.<ogg|mp3>` (+ `.txt`, the script) in `voice.store_url`
(default `file://<home>`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ..archive.stores import Store, open_store
from ..config import Telegram, Tiers, Voice
from ..daily.context import DailyHandles
from ..pg.tiers import PgTier
from ..telegram import TelegramClient
from ..tiering import reader
from ..tiering.reader import TieredReader
from . import VoiceError, records, script, tts_local
from .audio import Audio
from .context import VoiceHandles
from .plan import VoicePlan, make_plan, reset_day
from .records import VoiceRecord
from .tts_elevenlabs import CreditRefused, ElevenLabsEngine, QuotaExceeded

log = logging.getLogger(__name__)
SECTIONS = ("health", "productivity", "finance", "mood", "shadow_work")
FALLBACK_NOTES = {
    "budget": "Today you hear the built-in voice, because the ElevenLabs voice would have "
              "gone over this month's character budget.",
    "quota": "Today you hear the built-in voice, because ElevenLabs has no credits left "
             "this month.",
    "plan": "Today you hear the built-in voice, so that the ElevenLabs credits left last "
            "until they reset.",
}


class PlannedLocal(CreditRefused):
    """The credit plan chose the local voice until the reset (voice.spread_credits)."""


@dataclass
class Briefing:
    day: dt.date
    script: script.Script
    engine: str  # "local" or "elevenlabs": the voice actually used
    voice: str
    audio: Audio
    uri: str
    caption: str
    notes: list[str] = field(default_factory=list)  # why the voice differs from the config
    reused: bool = False  # stored paid audio reused, nothing spent
    signed_url: str | None = None  # a link to the audio (supabase:// stores), see signed_url
    plan: VoicePlan | None = None  # how the paid credits are spread (voice.spread_credits)


@dataclass(frozen=True)
class Sent:
    status: str  # "sent", "already sent", "not configured", "skipped"
    message_id: int | None = None
    detail: str = ""


def audio_key(day: dt.date, extension: str) -> str:
    return f"voice/{day:%Y}/{day:%m}/{day.isoformat()}.{extension}"


def store_for(settings: Voice, home: Path, tiers: Tiers) -> Store:
    """Where the audio goes: `voice.store_url` (a supabase:// bucket with the core project's
    key, an s3:// bucket with the archive's credentials: `tiers`), else `file://<home>`."""
    a = tiers.archive
    url = settings.store_url or f"file://{home}"
    secret = lambda v: v.get_secret_value() if v is not None else None  # noqa: E731
    if url.startswith("supabase://"):
        return open_store(url, project_url=tiers.core.supabase_url,
                          service_key=secret(tiers.core.service_key))
    if not url.startswith("s3://"):
        return open_store(url)
    return open_store(url, endpoint_url=a.endpoint_url, region=a.region,
                      access_key_id=secret(a.access_key_id),
                      secret_access_key=secret(a.secret_access_key))


# ---------------------------------------------------------------------------------------------
# Reading the day


def load_day(tiers: TieredReader, day: dt.date) -> tuple[dict | None, dict | None]:
    """The stored summary (sections + summary_text) and projection of `day`, any tier."""
    summaries = reader.read(tiers, "daily_summaries", day, day)
    summary = None
    if len(summaries):
        row = summaries.iloc[0]
        summary = {k: row[k] for k in (*SECTIONS, "summary_text", "metrics")
                   if k in summaries.columns}
    projections = reader.read(tiers, "daily_projections", day, day)
    projection = None
    if len(projections) and "projections" in projections.columns:
        value = projections.iloc[0]["projections"]
        projection = value if isinstance(value, Mapping) else None
    return summary, projection


def compute_day(daily: DailyHandles, day: dt.date) -> tuple[dict, dict | None]:
    """Summary and projection computed now without storing them (preview of a day the daily
    run has not reached)."""
    from ..daily import projection as projection_lib
    from ..daily import summary as summary_lib

    s = summary_lib.compute(daily, day, day)[0]
    summary = {k: getattr(s, k) for k in (*SECTIONS, "summary_text", "metrics")}
    projected = projection_lib.project(daily.settings, projection_lib.read_series(daily, day, day),
                                       day, day)
    return summary, (projected[0][2] if projected else None)


def context(daily: DailyHandles, day: dt.date) -> tuple[dict, list[dict]]:
    """The person's metric specs and this week's correlations (each with a spoken sentence),
    for the script; no correlations when none are stored yet."""
    from ..daily import weekly
    from ..daily.metric_stats import specs as metric_specs
    from ..insight.correlations import sentence
    from .spoken import spoken

    specs = metric_specs(daily.settings)
    try:
        week = weekly.latest(daily.reader, day)
    except reader.ReaderError:  # no weekly_correlations table yet: `persys setup` adds it
        week = None
    found = list(week["found"]) if week is not None else []
    labels = {m: (s.label, s.unit) for m, s in specs.items()}
    for f in found:
        if f.get("first") in specs and f.get("second") in specs:
            f["spoken"] = sentence(f, labels, lambda v, m: spoken(v, specs[m],
                                                                  script.spoken_money),
                                   spoken=True)
    return specs, [f for f in found if "spoken" in f]


# ---------------------------------------------------------------------------------------------
# Making it


def produce(voice: VoiceHandles, day: dt.date, *, allow_paid: bool = False,
            compute_missing: bool = False,
            today: dt.date | None = None, httpx_client: httpx.Client | None = None,
            voice_engine: ElevenLabsEngine | None = None) -> Briefing:
    """Make (or remake) the day's audio, store it and record it; nothing is sent.

    `voice_engine`: the run's ElevenLabs handle (VoiceEngineResource); left out, one is made from
    the `voice:` settings when the paid voice is used, as the CLI does."""
    daily = voice.daily
    summary, projection = load_day(daily.reader, day)
    if summary is None:
        if not compute_missing:
            raise VoiceError(f"no daily summary stored for {day}; materialize daily_summary "
                             f"partition {day} first (or preview it: persys voice preview "
                             f"--date {day})")
        summary, projection = compute_day(daily, day)
    v = voice.settings
    currency = daily.settings.currency
    specs, found = context(daily, day)
    now = today or voice.today()
    ahead = script.deletions_ahead(_deletions(voice, now), now)

    def make(note: str | None = None, max_characters: int | None = None) -> script.Script:
        return script.build(day, summary, projection, currency=currency,
                            target_seconds=v.target_seconds,
                            words_per_minute=v.local.words_per_minute, note=note,
                            specs=specs, correlations=found,
                            max_characters=max_characters, deletions=ahead)

    text = make()
    notes: list[str] = []
    store = voice.store
    audio: Audio | None = None
    plan: VoicePlan | None = None
    engine, spoken_by, reused = "local", v.local.voice, False
    if v.engine == "elevenlabs":
        today = today or voice.today()
        if day < today - dt.timedelta(days=1) and not (allow_paid or v.allow_paid_backfill):
            notes.append(f"{day} is a past day: the local voice was used instead of ElevenLabs "
                         "(pass --allow-paid or set voice.allow_paid_backfill to pay for it)")
        else:
            reused_audio = _reuse(voice.tiers, store, day, text.text, make)
            if reused_audio is not None:
                audio, spoken_by, text = reused_audio
                engine, reused = "elevenlabs", True
            else:
                try:
                    audio, spoken_by, text, plan = _elevenlabs(v, text, make, today,
                                                               httpx_client, voice_engine)
                    engine = "elevenlabs"
                except (CreditRefused, QuotaExceeded) as exc:
                    if v.on_over_budget == "refuse":
                        raise
                    plan = getattr(exc, "plan", None)
                    kind = ("quota" if isinstance(exc, QuotaExceeded)
                            else "plan" if isinstance(exc, PlannedLocal) else "budget")
                    notes.append(f"{exc}; fell back to the local voice "
                                 "(voice.on_over_budget: fallback_local)")
                    log.warning("voice briefing %s: %s", day, notes[-1])
                    text = make(FALLBACK_NOTES[kind])
    if audio is None:
        audio = tts_local.synthesize(text.text, voice=v.local.voice,
                                     words_per_minute=v.local.words_per_minute)
    key = audio_key(day, audio.extension)
    store.put(key, audio.data)
    store.put(audio_key(day, "txt"), text.text.encode("utf-8"))
    link = signed_url(v, store, key)
    records.save(voice.tiers, VoiceRecord(day=day, engine=engine, voice=spoken_by,
                                          characters=len(text.text), duration_s=audio.duration_s,
                                          uri=store.uri(key), sha256=audio.sha256,
                                          signed_url=link))
    caption = str(summary.get("summary_text") or "") or text.text
    return Briefing(day=day, script=text, engine=engine, voice=spoken_by, audio=audio,
                    uri=store.uri(key), caption=caption, notes=notes, reused=reused,
                    signed_url=link, plan=plan)


def _deletions(voice: VoiceHandles, today: dt.date) -> Sequence:
    """The archive's upcoming deletions; none when they cannot be read (a store that is down
    must not cost the briefing: the purge_notice sensor and `persys status` say it too)."""
    if voice.deletions is None:
        return []
    try:
        return voice.deletions(today)
    except Exception as exc:  # noqa: BLE001
        log.warning("voice briefing: upcoming deletions not read (%s)", type(exc).__name__)
        return []


def signed_url(settings: Voice, store: Store, key: str) -> str | None:
    """A link to the stored audio that works without credentials, for stores that sign
    (Supabase Storage), valid voice.signed_url_days; None for folders and buckets."""
    sign = getattr(store, "signed_url", None)
    return sign(key, settings.signed_url_days * 86400) if sign else None


def _elevenlabs(v: Voice, text: script.Script, make, today: dt.date,
                httpx_client: httpx.Client | None, engine: ElevenLabsEngine | None = None
                ) -> tuple[Audio, str, script.Script, VoicePlan | None]:
    """Plan (voice.spread_credits), guard, speak: audio, voice (`voice_id/model_id`), the
    script spoken (cut when the plan says so), the plan."""
    if engine is None:
        engine = ElevenLabsEngine(v.elevenlabs, budget=v.monthly_character_budget,
                                  httpx_client=httpx_client)
    credits = engine.credits()
    model, plan = v.elevenlabs.model_id, None
    if v.spread_credits:
        reset = reset_day(credits.reset_unix, today)
        plan = make_plan(credits.remaining, (reset - today).days, len(text.text),
                         model_id=model, economy_model_id=v.elevenlabs.economy_model_id,
                         min_characters=v.elevenlabs.min_characters, reset=reset)
        if not plan.paid:
            refused = PlannedLocal("ElevenLabs credit guard: "
                                   + plan.text().removeprefix("ElevenLabs "))
            refused.plan = plan  # type: ignore[attr-defined]
            raise refused
        model = plan.model_id or model
        if plan.max_characters is not None:
            text = make(max_characters=plan.max_characters)
    engine.check(len(text.text), model, credits)
    log.info("ElevenLabs: %d characters on %s (%d of %d credits remain)%s", len(text.text),
             model, credits.remaining, credits.allowed, f"; {plan.text()}" if plan else "")
    return engine.synthesize(text.text, model), f"{v.elevenlabs.voice_id}/{model}", text, plan


def _reuse(tiers: Sequence[PgTier], store: Store, day: dt.date, text: str, make
           ) -> tuple[Audio, str, script.Script] | None:
    """The stored ElevenLabs audio of `day` when its script is `text`, or the same script cut
    as a credit plan cut it (no new spend): audio, voice and script."""
    rec = records.find(tiers, day)
    if rec is None or rec.engine != "elevenlabs" or not rec.uri:
        return None
    extension = rec.uri.rsplit(".", 1)[-1]
    txt = audio_key(day, "txt")
    if not (store.exists(txt) and store.exists(audio_key(day, extension))):
        return None
    stored = store.get(txt).decode("utf-8")
    spoken = make() if stored == text else make(max_characters=len(stored) + 1)
    if spoken.text != stored:
        return None
    data = store.get(audio_key(day, extension))
    audio = Audio(data, extension, float(rec.duration_s or 0))
    return (audio, rec.voice or "", spoken) if audio.sha256 == rec.sha256 else None


# ---------------------------------------------------------------------------------------------
# Sending it


def telegram_client(t: Telegram, **kwargs) -> TelegramClient | None:
    """The bot that sends the briefing (`telegram:`), or None when it is not configured."""
    if t.token is None or not t.chat_id:
        return None
    return TelegramClient(t.token.get_secret_value(), t.chat_id, base_url=t.base_url, **kwargs)


def send(voice: VoiceHandles, day: dt.date, briefing: Briefing | None = None, *,
         client: TelegramClient | None = None) -> Sent:
    """Send the day's stored briefing as a voice note, at most once per day (both tiers)."""
    client = client or telegram_client(voice.telegram)
    if client is None:
        return Sent("not configured", detail="set telegram.token and telegram.chat_id to send")
    with records.sending(voice.tiers, day) as rec:
        if rec is None:
            done = records.find(voice.tiers, day)
            return Sent("already sent", done.telegram_message_id if done else None,
                        detail=f"sent at {done.sent_at:%Y-%m-%d %H:%M}" if done and done.sent_at
                        else "")
        if briefing is not None:
            data, caption = briefing.audio.data, briefing.caption
        else:
            key = audio_key(day, (rec.uri or ".ogg").rsplit(".", 1)[-1])
            data, caption = voice.store.get(key), ""
            summary, _ = load_day(voice.daily.reader, day)
            caption = str((summary or {}).get("summary_text") or "")
        extension = "mp3" if data[:4] != b"OggS" else "ogg"
        message_id = client.send_voice(data, caption=caption, duration_s=rec.duration_s,
                                       filename=f"briefing-{day.isoformat()}.{extension}")
        records.mark_sent(voice.tiers, rec, message_id)
    return Sent("sent", message_id)


def is_current(day: dt.date, today: dt.date) -> bool:
    """Yesterday or today: the days a morning run sends (backfills never message anyone)."""
    return day >= today - dt.timedelta(days=1)
