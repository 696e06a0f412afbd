"""Telegram Bot API over httpx: text messages and voice notes, with 429 back-off.

The bot token is part of every URL (`/bot<token>/method`), so it is kept out of every message,
log line and exception this module produces: errors name the method and Telegram's own
description, never the URL.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import httpx

from .errors import ServiceError, scrub

API_URL = "https://api.telegram.org"
_TOKEN_IN_URL = re.compile(r"/bot[^/\s\"]+/")


class _RedactBotToken(logging.Filter):
    """httpx logs every request URL at INFO (`persys -v`, Dagster's captured logs); the bot
    token is part of Telegram URLs, so it is blanked out of those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_URL.sub("/bot<redacted>/", str(a)) if "/bot" in str(a) else a
                for a in record.args
            )
        if isinstance(record.msg, str) and "/bot" in record.msg:
            record.msg = _TOKEN_IN_URL.sub("/bot<redacted>/", record.msg)
        return True


logging.getLogger("httpx").addFilter(_RedactBotToken())


class TelegramError(ServiceError):
    """Telegram refused or could not be reached; the message never contains the token."""


@dataclass
class TelegramClient:
    token: str
    chat_id: str
    base_url: str = API_URL
    max_retries: int = 3
    max_wait_s: float = 60.0
    timeout_s: float = 30.0
    transport: httpx.BaseTransport | None = None

    def __repr__(self) -> str:
        return f"TelegramClient(chat_id={self.chat_id!r}, base_url={self.base_url!r})"

    def get_me(self) -> dict:
        """The bot's own account (`getMe`): proves the token without sending anything."""
        return self._call("getMe", data={})

    def send_message(self, text: str) -> int:
        """Send a text message; returns Telegram's message_id."""
        result = self._call("sendMessage", data={"chat_id": self.chat_id, "text": text[:4096]})
        return int(result["message_id"])

    def send_voice(self, audio: bytes, *, caption: str = "", filename: str = "briefing.ogg",
                   duration_s: float | None = None) -> int:
        """Send an OGG/Opus file as a voice note (multipart); returns message_id."""
        data = {"chat_id": self.chat_id, "caption": caption[:1024]}
        if duration_s is not None:
            data["duration"] = str(round(duration_s))
        files = {"voice": (filename, audio, "audio/ogg")}
        result = self._call("sendVoice", data=data, files=files)
        return int(result["message_id"])

    def _call(self, method: str, *, data: dict, files: dict | None = None) -> dict:
        url = f"{self.base_url.rstrip('/')}/bot{self.token}/{method}"
        with httpx.Client(timeout=self.timeout_s, transport=self.transport) as client:
            for attempt in range(self.max_retries + 1):
                try:
                    response = client.post(url, data=data, files=files)
                except httpx.HTTPError as exc:
                    raise TelegramError(
                        f"Telegram {method}: could not reach {self.base_url} "
                        f"({type(exc).__name__})"
                    ) from None
                body = _json(response)
                if response.status_code == 429 and attempt < self.max_retries:
                    wait = float(body.get("parameters", {}).get("retry_after", 1))
                    if wait > self.max_wait_s:
                        break
                    time.sleep(wait)
                    continue
                if response.status_code == 200 and body.get("ok"):
                    return body["result"]
                break
        description = scrub(str(body.get("description") or f"HTTP {response.status_code}"),
                            [self.token])
        raise TelegramError(f"Telegram {method} failed: {description}")


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
        return body if isinstance(body, dict) else {}
    except ValueError:
        return {}
