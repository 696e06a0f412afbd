"""Telegram through httpx against a local fake Bot API: voice notes, 429 back-off, no token
in any error."""

from __future__ import annotations

import json

import httpx
import pytest

from persys_pipelines.lib.telegram import TelegramClient, TelegramError

TOKEN = "123456:SECRET-token-value"


def fake_api(responses: list[tuple[int, dict]], seen: list[httpx.Request]):
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = responses.pop(0)
        return httpx.Response(status, json=body)
    return httpx.MockTransport(handler)


def test_voice_note_is_multipart_with_caption():
    seen: list[httpx.Request] = []
    client = TelegramClient(TOKEN, "42", transport=fake_api(
        [(200, {"ok": True, "result": {"message_id": 7}})], seen))
    assert client.send_voice(b"OggS-audio", caption="Good morning", duration_s=61.4) == 7
    (req,) = seen
    assert req.url.path == f"/bot{TOKEN}/sendVoice"
    body = req.content
    assert b'name="voice"; filename="briefing.ogg"' in body and b"OggS-audio" in body
    assert b"Good morning" in body and b'name="duration"\r\n\r\n61' in body


def test_429_waits_retry_after_then_succeeds(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr("persys_pipelines.lib.telegram.time.sleep", waits.append)
    seen: list[httpx.Request] = []
    client = TelegramClient(TOKEN, "42", transport=fake_api([
        (429, {"ok": False, "description": "Too Many Requests", "parameters": {"retry_after": 3}}),
        (200, {"ok": True, "result": {"message_id": 9}}),
    ], seen))
    assert client.send_message("hi") == 9
    assert waits == [3.0] and len(seen) == 2


def test_errors_never_show_the_token():
    seen: list[httpx.Request] = []
    client = TelegramClient(TOKEN, "42", transport=fake_api(
        [(401, {"ok": False, "description": "Unauthorized"})], seen))
    with pytest.raises(TelegramError) as info:
        client.send_message("hi")
    assert str(info.value) == "Telegram sendMessage failed: Unauthorized"
    assert TOKEN not in repr(client) and "SECRET" not in json.dumps(str(info.value))

    def boom(request):
        raise httpx.ConnectError(f"cannot connect to {request.url}")
    down = TelegramClient(TOKEN, "42", transport=httpx.MockTransport(boom))
    with pytest.raises(TelegramError) as info:
        down.send_message("hi")
    assert TOKEN not in str(info.value) and info.value.__cause__ is None
