"""Local stand-ins for the monitoring tests: a Telegram Bot API and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from persys_pipelines_tests.http_fakes import FakeHandler, serving


@dataclass
class FakeTelegram:
    """Records sendMessage calls; `fail` makes it answer 500 (Telegram down); with `token`,
    another token is refused (401 Unauthorized, as Telegram answers a revoked token)."""

    base_url: str = ""
    messages: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    fail: bool = False
    token: str | None = None
    voices: list[bytes] = field(default_factory=list)  # sendVoice multipart bodies


@contextmanager
def fake_telegram(token: str | None = None) -> Iterator[FakeTelegram]:
    state = FakeTelegram(token=token)

    class Handler(FakeHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            state.paths.append(self.path)
            if self.headers.get("Content-Type", "").startswith("multipart/"):  # sendVoice
                state.voices.append(raw)
                self.reply_json(200, {"ok": True, "result": {"message_id": 1000 + len(
                    state.voices)}})
                return
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if state.token is not None and not self.path.startswith(f"/bot{state.token}/"):
                body, code = {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401
            elif self.path.endswith("/getMe"):
                body, code = {"ok": True, "result": {"id": 1, "is_bot": True,
                                                     "username": "persys_test_bot"}}, 200
            elif state.fail:
                body, code = {"ok": False, "description": "Internal Server Error"}, 500
            else:
                state.messages.append(form)
                body, code = {"ok": True, "result": {"message_id": len(state.messages)}}, 200
            self.reply_json(code, body)

    with serving(Handler) as state.base_url:
        yield state


@contextmanager
def http_endpoint(status: list[int]) -> Iterator[str]:
    """A GET endpoint answering with status[0] (change it while the server runs)."""

    class Handler(FakeHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.reply(status[0], b"ok", "text/plain")

    with serving(Handler) as base_url:
        yield f"{base_url}/health"


@dataclass
class SmtpBox:
    host: str
    port: int
    messages: list = field(default_factory=list)
    logins: list = field(default_factory=list)


@contextmanager
def smtp_server(password: str | None = None) -> Iterator[SmtpBox]:
    """aiosmtpd on 127.0.0.1; with `password`, AUTH is required and checked."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    box = SmtpBox("127.0.0.1", 0)

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            box.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.password.decode() == password
        box.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok)

    kwargs = {}
    if password is not None:
        kwargs = {"authenticator": authenticator, "auth_require_tls": False,
                  "auth_required": True}
    with socket.socket() as probe:  # a free port (the controller cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        box.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
