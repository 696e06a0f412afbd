"""The paid voice: ElevenLabs through its official SDK, never called blind.

Before any synthesis `check(characters)` reads the account (`user.subscription.get()`:
character_count of character_limit) and the configured monthly budget; a script that would not
fit is refused with `CreditRefused` (the caller decides whether to fall back to the local
voice). A 401 `quota_exceeded` becomes `QuotaExceeded` at once, never retried; a 429 is retried
after `Retry-After` (or 1, 2, 4 ... s) at most `max_retries` times and never waits longer than
`max_wait_s`. The SDK's own retries are switched off so these limits are the only ones.

The API key travels in the `xi-api-key` header only; every message this module produces is
built from status codes and ElevenLabs' own `detail`, and scrubbed of the key besides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..config import ElevenLabsVoice
from ..errors import scrub
from . import VoiceError
from .audio import Audio, duration_of, extension_of

NO_SDK_RETRIES = {"max_retries": 0}


class CreditRefused(VoiceError):
    """The script would cross the plan's limit or the configured monthly budget."""


class QuotaExceeded(VoiceError):
    """ElevenLabs answered 401 quota_exceeded: no credits left this period."""


@dataclass(frozen=True)
class Credits:
    used: int  # character_count of the current period (credits: Flash/Turbo count half)
    limit: int  # character_limit of the plan
    budget: int | None  # voice.monthly_character_budget
    reset_unix: int | None = None  # next_character_count_reset_unix: when `used` restarts

    @property
    def allowed(self) -> int:
        return min(self.limit, self.budget) if self.budget is not None else self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.allowed - self.used)


class ElevenLabsEngine:
    def __init__(self, settings: ElevenLabsVoice, *, budget: int | None,
                 httpx_client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        from elevenlabs.client import ElevenLabs

        if settings.api_key is None:
            raise VoiceError("voice.elevenlabs.api_key is not set; use api_key: "
                             "env:ELEVENLABS_API_KEY (or ssm:/path), or voice.engine: local")
        self.settings = settings
        self.budget = budget
        self._key = settings.api_key.get_secret_value()
        self._sleep = sleep
        self.client = ElevenLabs(
            api_key=self._key, base_url=settings.base_url.rstrip("/"),
            httpx_client=httpx_client or httpx.Client(timeout=settings.timeout_s),
        )

    def __repr__(self) -> str:
        return f"ElevenLabsEngine(base_url={self.settings.base_url!r})"

    @property
    def voice(self) -> str:
        return self.settings.voice_id

    def credits(self) -> Credits:
        sub = self._call("reading the subscription", lambda: self.client.user.subscription.get(
            request_options=NO_SDK_RETRIES))
        reset = getattr(sub, "next_character_count_reset_unix", None)
        return Credits(used=int(sub.character_count), limit=int(sub.character_limit),
                       budget=self.budget, reset_unix=int(reset) if reset else None)

    def check(self, characters: int, model_id: str | None = None,
              credits: Credits | None = None) -> Credits:
        """Credits if `characters` on `model_id` (the configured one by default; Flash and
        Turbo cost half a credit a character) fit, else CreditRefused saying what is left.
        `credits`: a subscription read moments ago (the plan's), else read now."""
        from .plan import credits_for

        credits = credits or self.credits()
        needed = credits_for(characters, model_id or self.settings.model_id)
        if needed > credits.remaining:
            limit = (f"the monthly budget of {credits.budget:,} characters "
                     "(voice.monthly_character_budget)"
                     if credits.budget is not None and credits.budget < credits.limit
                     else f"the plan's limit of {credits.limit:,}")
            raise CreditRefused(
                f"ElevenLabs credit guard: the briefing needs {characters:,} characters but "
                f"only {credits.remaining:,} remain of {limit} ({credits.used:,} used this "
                f"period; {needed:,} credits on {model_id or self.settings.model_id})"
            )
        return credits

    def synthesize(self, text: str, model_id: str | None = None) -> Audio:
        def convert() -> bytes:
            chunks = self.client.text_to_speech.convert(
                self.settings.voice_id, text=text, model_id=model_id or self.settings.model_id,
                output_format=self.settings.output_format, request_options=NO_SDK_RETRIES,
            )
            return b"".join(chunks)

        data = self._call("text to speech", convert)
        if not data:
            raise VoiceError("ElevenLabs returned no audio")
        return Audio(data, extension_of(data), duration_of(data))

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from elevenlabs.core.api_error import ApiError

        for attempt in range(self.settings.max_retries + 1):
            try:
                return fn()
            except ApiError as exc:
                status, body = exc.status_code, exc.body
                headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            except httpx.HTTPError as exc:
                raise VoiceError(self._scrub(
                    f"ElevenLabs {what}: could not reach {self.settings.base_url} "
                    f"({type(exc).__name__})")) from None
            code, message = _detail(body, self._scrub)
            if status == 401 and code == "quota_exceeded":
                raise QuotaExceeded(self._scrub(
                    f"ElevenLabs {what}: quota_exceeded (401): {message or 'no credits left'}; "
                    "not retried. Wait for the monthly reset, raise the plan, or use "
                    "voice.engine: local")) from None
            if status == 401:
                raise VoiceError(self._scrub(
                    f"ElevenLabs {what}: the API key was rejected (401 {code or ''}); check "
                    "voice.elevenlabs.api_key")) from None
            if status == 429 and attempt < self.settings.max_retries:
                wait = _retry_after(headers, attempt)
                if wait <= self.settings.max_wait_s:
                    self._sleep(wait)
                    continue
            break
        raise VoiceError(self._scrub(
            f"ElevenLabs {what} failed: HTTP {status}" + (f" {code}" if code else "")
            + (f": {message}" if message else "")
            + (" (rate limited; retries exhausted)" if status == 429 else ""))) from None

    def _scrub(self, text: str) -> str:
        """ElevenLabs' own detail text may echo the request; the one scrubber cleans it."""
        return scrub(text, [self._key])


def _detail(body: Any, clean: Callable[[str], str]) -> tuple[str | None, str | None]:
    """ElevenLabs errors look like {"detail": {"status": "quota_exceeded", "message": "..."}}.
    The message is scrubbed (`clean`) before it is cut to 300 characters: cut first, a key
    split by the cut would no longer match the scrubber and its first part would show."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        status = detail.get("status")
        return (clean(str(status))[:100] if status else None,
                clean(str(detail.get("message") or ""))[:300] or None)
    if isinstance(detail, str):
        return None, clean(detail)[:300]
    return None, None


def _retry_after(headers: dict[str, str], attempt: int) -> float:
    try:
        return max(0.0, float(headers["retry-after"]))
    except (KeyError, ValueError):
        return float(2**attempt)
