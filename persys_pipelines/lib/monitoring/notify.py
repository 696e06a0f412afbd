"""Alerts by Telegram text and e-mail, through an outbox so that none is lost or doubled.

Every alert has a key (e.g. `quota:core:warn:3`): it is queued once per channel in main's
`persys.notifications` and then delivered. A channel that fails keeps its row pending with the
error, and the next `flush` (the next sensor tick) retries it; nothing here ever raises into a
run. Texts and errors are scrubbed of every configured secret before they are stored or sent.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import psycopg

from ..config import EmailNotify, Notify, Telegram
from ..config.notifications import Sms
from ..errors import ServiceError, scrub
from ..pg.schema import create_monitoring_tables
from ..telegram import TelegramClient

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 200  # about a week of 5-minute ticks, then the alert is given up (and logged)


class Channel(Protocol):
    name: str

    def send(self, subject: str, body: str) -> None: ...


@dataclass
class TelegramChannel:
    client: TelegramClient
    name: str = "telegram"

    def send(self, subject: str, body: str) -> None:
        self.client.send_message(f"{subject}\n\n{body}" if body else subject)


@dataclass
class EmailChannel:
    settings: EmailNotify
    timeout_s: float = 20
    name: str = "email"

    def __repr__(self) -> str:
        return f"EmailChannel({self.settings.smtp_host}:{self.settings.smtp_port})"

    def send(self, subject: str, body: str) -> None:
        s = self.settings
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = subject, s.from_address, ", ".join(s.to)
        msg.set_content(body or subject)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout_s) as smtp:
                if s.starttls:
                    smtp.starttls()
                if s.username:
                    password = s.password.get_secret_value() if s.password else ""
                    smtp.login(s.username, password)
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            # smtplib errors can echo the AUTH exchange; keep only the kind and the code
            code = getattr(exc, "smtp_code", None)
            raise NotifyError(
                f"e-mail via {s.smtp_host}:{s.smtp_port} failed: {type(exc).__name__}"
                + (f" (SMTP {code})" if code else "")
            ) from None


class NotifyError(ServiceError):
    """A channel could not deliver; the message names the channel, never a secret."""


def channels(notify: Notify, telegram: Telegram, sms: Sms | None,
             connect_main: Callable[[], psycopg.Connection]) -> list[Channel]:
    """The configured channels (none unless `notify:` switches them on); `sms` is
    `notifications.sms`, whose monthly cap is counted in main (`connect_main`)."""
    out: list[Channel] = []
    if notify.telegram and telegram.token and telegram.chat_id:
        out.append(TelegramChannel(TelegramClient(
            telegram.token.get_secret_value(), telegram.chat_id,
            base_url=telegram.base_url, max_wait_s=10, timeout_s=15)))
    if notify.email:
        out.append(EmailChannel(notify.email))
    if sms:  # rare alerts only (lib/monitoring/sms.py)
        from .sms import SmsChannel

        out.append(SmsChannel(sms, connect_main))
    return out


def wants(ch: Channel, key: str) -> bool:
    """Whether a channel takes this alert (SMS takes only the rare ones; others take all)."""
    accepts = getattr(ch, "accepts", None)
    return accepts(key) if accepts else True


@dataclass(frozen=True)
class Delivery:
    key: str
    channel: str
    ok: bool
    error: str = ""


class Notifier:
    """Queue alerts by key and deliver them; `connect` opens main (where the outbox lives)."""

    def __init__(self, connect: Callable[[], psycopg.Connection], chans: list[Channel],
                 secrets: list[str] | None = None):
        self._connect = connect
        self.channels = chans
        self.secrets = secrets or []

    def notify(self, key: str, subject: str, body: str = "") -> list[Delivery]:
        """Queue (once per key and channel) and try to deliver everything pending."""
        subject, body = scrub(subject, self.secrets), scrub(body, self.secrets)
        try:
            with self._connect() as conn:
                create_monitoring_tables(conn)
                with conn.cursor() as cur:
                    cur.executemany(
                        "insert into persys.notifications (key, channel, subject, body) "
                        "values (%s, %s, %s, %s) on conflict (key, channel) do nothing",
                        [(key, ch.name, subject, body) for ch in self.channels
                         if wants(ch, key)],
                    )
        except Exception as exc:  # the outbox is unavailable: deliver directly, best effort
            log.warning("notification outbox unavailable (%s); sending %s directly",
                        type(exc).__name__, key)
            return [self._send(ch, key, subject, body) for ch in self.channels
                    if wants(ch, key)]
        if not self.channels:
            log.info("alert %s (no notification channel configured): %s", key, subject)
        return self.flush()

    def flush(self) -> list[Delivery]:
        """Deliver every pending alert; failures stay pending for the next call. Never raises."""
        by_name = {ch.name: ch for ch in self.channels}
        results: list[Delivery] = []
        try:
            with self._connect() as conn:
                create_monitoring_tables(conn)
                conn.commit()
                pending = conn.execute(
                    "select id, key, channel, subject, body from persys.notifications "
                    "where sent_at is null and attempts < %s order by id",
                    (MAX_ATTEMPTS,),
                ).fetchall()
                conn.commit()
                for row_id, key, channel, subject, body in pending:
                    ch = by_name.get(channel)
                    if ch is None:
                        continue  # a channel switched off since: left as it is
                    result = self._send(ch, key, subject, body)
                    conn.execute(
                        "update persys.notifications set attempts = attempts + 1, "
                        "sent_at = case when %s then now() end, last_error = %s where id = %s",
                        (result.ok, result.error or None, row_id),
                    )
                    conn.commit()
                    results.append(result)
        except Exception as exc:
            log.warning("could not read the notification outbox: %s",
                        scrub(str(exc), self.secrets).splitlines()[0] if str(exc) else exc)
        return results

    def _send(self, ch: Channel, key: str, subject: str, body: str) -> Delivery:
        try:
            ch.send(subject, body)
        except Exception as exc:  # any channel failure: logged, kept for the next try
            error = scrub(f"{type(exc).__name__}: {exc}", self.secrets)[:500]
            log.warning("notification %s via %s failed: %s", key, ch.name, error)
            return Delivery(key, ch.name, False, error)
        return Delivery(key, ch.name, True)


def pending_count(conn: psycopg.Connection) -> int:
    with contextlib.suppress(psycopg.errors.UndefinedTable):
        return int(conn.execute(
            "select count(*) from persys.notifications where sent_at is null").fetchone()[0])
    return 0
