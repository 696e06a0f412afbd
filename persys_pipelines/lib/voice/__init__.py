"""The spoken daily briefing: a script from a day's summary and projection, a voice (eSpeak NG
locally, or ElevenLabs behind a credit guard), an OGG/Opus file in the object store, a row in
`voice_messages`, and at most one Telegram voice note per day.

- `script`: the words (tolerant of missing summary keys), cut to a target length;
- `tts_local` / `tts_elevenlabs`: the two engines; `audio`: encoding and decoding;
- `records`: the `voice_messages` rows (core first, then main);
- `briefing`: one day end to end, shared by the Dagster asset and `persys voice`.
"""

from __future__ import annotations

from ..errors import ServiceError


class VoiceError(ServiceError):
    """The briefing cannot be made or sent; the message says why and what to do (no secrets)."""
