"""Local stand-ins on 127.0.0.1 for the voice tests: the ElevenLabs API (subscription and
text-to-speech, real audio bytes) and the Telegram Bot API's sendVoice (multipart)."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import numpy as np
import soundfile as sf

from persys_pipelines_tests.http_fakes import FakeHandler, serving

API_KEY = "sk_test-ELEVEN-secret-0123456789"
HALF_PRICE = {"eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_flash_v2", "eleven_turbo_v2"}
BOT_TOKEN = "987654:TG-secret-token-abcdef"


def mp3_bytes(seconds: float = 1.0) -> bytes:
    t = np.arange(int(44100 * seconds)) / 44100
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), 44100, format="MP3")
    return buf.getvalue()


def opus_bytes(seconds: float = 1.0) -> bytes:
    t = np.arange(int(48000 * seconds)) / 48000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), 48000, format="OGG",
             subtype="OPUS")
    return buf.getvalue()


def subscription(count: int, limit: int, reset_unix: int = 0) -> dict:
    return {
        "tier": "free", "character_count": count, "character_limit": limit,
        "max_credit_limit_extension": 0, "can_extend_character_limit": False,
        "allowed_to_extend_character_limit": False, "next_character_count_reset_unix": reset_unix,
        "voice_slots_used": 0, "professional_voice_slots_used": 0,
        "professional_voice_slots_used_in_workspace": 0, "voice_limit": 3,
        "voice_add_edit_counter": 0, "professional_voice_limit": 0,
        "can_extend_voice_limit": False, "can_use_instant_voice_cloning": False,
        "can_use_professional_voice_cloning": False, "currency": "usd",
        "current_overage": {"amount": 0, "currency": "usd"}, "status": "free",
        "open_invoices": [], "has_open_invoices": False,
    }


@dataclass
class FakeElevenLabs:
    """`tts` is a queue of answers for text-to-speech: "ok", 429, "quota" (401 quota_exceeded),
    401, or a (status, json body) pair sent as is; when empty, "ok". Each request is
    recorded (path, query, headers, json body)."""

    base_url: str = ""
    character_count: int = 0
    character_limit: int = 10_000
    reset_unix: int = 0  # next_character_count_reset_unix (0: not given)
    tts: list = field(default_factory=list)
    audio: bytes = b""
    retry_after: str = "0"
    requests: list[dict] = field(default_factory=list)

    @property
    def tts_requests(self) -> list[dict]:
        return [r for r in self.requests if "/text-to-speech/" in r["path"]]


@contextmanager
def fake_elevenlabs(**kwargs) -> Iterator[FakeElevenLabs]:
    state = FakeElevenLabs(**kwargs)
    state.audio = state.audio or opus_bytes(2.0)

    class Handler(FakeHandler):
        def _record(self, body: bytes) -> dict:
            parts = urlsplit(self.path)
            req = {"path": parts.path, "query": parse_qs(parts.query),
                   "headers": dict(self.headers), "json": json.loads(body) if body else None}
            state.requests.append(req)
            return req

        def _authorised(self) -> bool:
            if self.headers.get("xi-api-key") != API_KEY:
                self.reply_json(401, {"detail": {"status": "invalid_api_key",
                                            "message": "Invalid API key"}})
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802
            self._record(b"")
            if not self._authorised():
                return
            if self.path.startswith("/v1/user/subscription"):
                self.reply_json(200, subscription(state.character_count, state.character_limit,
                                                  state.reset_unix))
            else:
                self.reply_json(404, {"detail": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            req = self._record(body)
            if not self._authorised():
                return
            answer = state.tts.pop(0) if state.tts else "ok"
            if isinstance(answer, tuple):
                self.reply_json(*answer)
            elif answer == 429:
                self.reply_json(429, {"detail": {"status": "too_many_concurrent_requests",
                                            "message": "Too many requests"}},
                           {"Retry-After": state.retry_after})
            elif answer == "quota":
                self.reply_json(401, {"detail": {"status": "quota_exceeded", "message":
                                            "This request exceeds your quota of 10000."}})
            elif answer == 401:
                self.reply_json(401, {"detail": {"status": "invalid_api_key",
                                            "message": "Invalid API key"}})
            else:
                # ElevenLabs' pricing: Flash and Turbo cost half a credit a character
                half = req["json"].get("model_id") in HALF_PRICE
                state.character_count += math.ceil(len(req["json"]["text"]) * (0.5 if half
                                                                               else 1))
                fmt = req["query"].get("output_format", ["mp3"])[0]
                ctype = "audio/ogg" if fmt.startswith("opus") else "audio/mpeg"
                self.reply(200, state.audio, ctype)

    with serving(Handler) as state.base_url:
        yield state


@dataclass
class FakeTelegramVoice:
    """Records sendVoice multipart bodies; `answers` queues 429s before the 200s."""

    base_url: str = ""
    answers: list = field(default_factory=list)
    voices: list[bytes] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@contextmanager
def fake_telegram_voice() -> Iterator[FakeTelegramVoice]:
    state = FakeTelegramVoice()

    class Handler(FakeHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.paths.append(self.path)
            if self.path != f"/bot{BOT_TOKEN}/sendVoice":
                code, reply = 404, {"ok": False, "description": "Not Found"}
            elif state.answers and state.answers[0] == 429:
                state.answers.pop(0)
                code, reply = 429, {"ok": False, "description": "Too Many Requests: retry "
                                    "after 0", "parameters": {"retry_after": 0}}
            else:
                state.voices.append(body)
                code, reply = 200, {"ok": True, "result": {"message_id": 100 + len(state.voices)}}
            self.reply_json(code, reply)

    with serving(Handler) as state.base_url:
        yield state


# ---------------------------------------------------------------------------------------------
# A day's stored summary and projection, as the daily assets write them

SUMMARY = {
    "health": {"measurements": 9, "sleep_hours": 7.2, "steps": 8431, "resting_heart_rate": 58.3,
               "weight_kg": 72.4},
    "productivity": {"tasks_done": 5, "tasks_created": 3, "overdue": 2},
    "finance": {"currency": "GBP", "transactions": 4, "spend": 42.1, "income": 0.0,
                "spend_by_category": {"groceries": 30.1, "transport": 12.0},
                "month_to_date_spend": 1200.5, "monthly_budget": 2000},
    "mood": {"entries": 2, "mood_mean": 6.5, "journal_words": 300},
    "shadow_work": {"entries": 1, "intensity_mean": 6.0, "emotions": {"anger": 1}},
    "summary_text": "Tue 04 Jun 2024: Health: slept 7.2 h, 8,431 steps.",
}
PROJECTION = {
    "days_with_data": 30,
    "trends": {"sleep_hours": {"n": 30, "mean": 6.8}, "tasks_done": {"n": 30, "mean": 3.2},
               "weight_kg": {"n": 30, "slope_per_day": -0.04}},
    "month_end_spend": {"projected": 1950.2, "status": "at risk", "budget": 2000},
    "text": "Projections: ...",
}


def store_day(cfg, day, summary: dict | None = None, projection: dict | None = None,
              tier: str = "core") -> None:
    """Insert the day's summary (and projection) rows into a tier, tables created if needed."""
    from psycopg.types.json import Jsonb

    from persys_pipelines.handles import resolve_tier, setup_tiers

    setup_tiers(cfg)
    s = summary or SUMMARY
    with resolve_tier(cfg, tier).connect() as conn:
        conn.execute(
            "insert into persys.daily_summaries (day, health, productivity, finance, mood, "
            "shadow_work, summary_text) values (%s, %s, %s, %s, %s, %s, %s)",
            (day, *(Jsonb(s.get(k, {})) for k in ("health", "productivity", "finance", "mood",
                                                   "shadow_work")), s.get("summary_text", "")),
        )
        conn.execute("insert into persys.daily_projections (day, window_days, projections) "
                     "values (%s, 30, %s)", (day, Jsonb(projection or PROJECTION)))
        conn.commit()
