"""Deployment events told: each as a Telegram text through the notifier's outbox (once per
event, retried when Telegram is down), and the tick's events together as one voice note,
spoken by ElevenLabs when the month's budget allows it (the same credit guard as the
briefing), else by the local voice."""

from __future__ import annotations

import logging

from ..config import LocalVoice
from ..monitoring.notify import Notifier
from ..telegram import TelegramClient
from ..voice import VoiceError, tts_local
from ..voice.audio import Audio
from ..voice.tts_elevenlabs import ElevenLabsEngine
from .watch import Event

log = logging.getLogger(__name__)
MAX_SPOKEN = 600  # characters: a voice note of about half a minute


def tell(events: list[Event], alerts: Notifier) -> None:
    for event in events:
        alerts.notify(event.key, event.subject, event.body)


def spoken_text(events: list[Event]) -> str:
    text = " ".join(e.spoken for e in events)
    return text if len(text) <= MAX_SPOKEN else text[: MAX_SPOKEN - 1].rsplit(" ", 1)[0] + "…"


def speak(text: str, local: LocalVoice, paid: ElevenLabsEngine | None) -> tuple[Audio, str]:
    """(audio, engine used): ElevenLabs if configured and within budget, else eSpeak NG."""
    if paid is not None:
        try:
            paid.check(len(text))  # refuses (CreditRefused) past the month's budget
            return paid.synthesize(text), "elevenlabs"
        except VoiceError as exc:  # over budget, quota exceeded, unreachable: local voice
            log.info("deployment voice note in the local voice: %s", exc)
    return tts_local.synthesize(text, voice=local.voice,
                                words_per_minute=local.words_per_minute), "local"


def voice_note(events: list[Event], client: TelegramClient, local: LocalVoice,
               paid: ElevenLabsEngine | None) -> str:
    """Send one voice note for `events`; the engine used. Raises TelegramError if refused."""
    audio, engine = speak(spoken_text(events), local, paid)
    subjects = "\n".join(e.subject for e in events)
    client.send_voice(audio.data, caption=subjects, duration_s=audio.duration_s,
                      filename=f"deploy.{audio.extension}")
    return engine
