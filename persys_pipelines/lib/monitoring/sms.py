"""SMS for the rare alerts only, through AWS SNS, at most `monthly_cap` a month.

A text message costs money and wakes a person, so this channel takes only the alerts that
need someone now (`RARE`): the core tier past its critical line, backups failing, the core
project paused or unreachable, a scheduled run failing three nights in a row. Routine
messages (warnings, forecasts, daily reports, deployments) never go by SMS. Each message first
claims a slot of the month in main's `persys.sms` under a lock, so two processes never send
past the cap; past it the alert is recorded as `capped` and not sent (the other channels still
carry it). The phone number is a secret: it appears in no log, error or table.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from ..config.notifications import Sms
from ..errors import scrub

log = logging.getLogger(__name__)

# key prefixes of the alerts worth a text message (lib/monitoring/watch.py, rare.py)
RARE = ("quota:core:critical:", "backups-failing:", "core-paused:", "run-failing-nights:")
MAX_CHARS = 300  # two SMS segments at most
LOCK = 7_361_029  # pg_advisory_xact_lock key of the monthly cap

DDL = """
create table if not exists persys.sms (
    id bigserial primary key,
    month text not null,
    subject text not null,
    status text not null check (status in ('sent', 'capped')),
    message_id text,
    at timestamptz not null default now()
)
"""


def _ensure(conn: psycopg.Connection) -> None:
    """The cap's table, private like every table of persys's (lib/pg/private.protect)."""
    from ..pg.catalog import table_exists
    from ..pg.private import ensure_persys_schema, protect

    if not table_exists(conn, "persys.sms"):
        ensure_persys_schema(conn)
        conn.execute(DDL)
        protect(conn, "persys.sms")


def is_rare(key: str) -> bool:
    return key.startswith(RARE)


@dataclass
class SmsChannel:
    """A `notify` channel (lib/monitoring/notify) that accepts only the rare alerts."""

    settings: Sms
    connect: Callable[[], psycopg.Connection]
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    name: str = "sms"

    def __repr__(self) -> str:  # never the number
        return f"SmsChannel(region={self.settings.region!r}, cap={self.settings.monthly_cap})"

    def accepts(self, key: str) -> bool:
        return is_rare(key)

    def send(self, subject: str, body: str) -> None:
        text = subject if not body else f"{subject}\n{body.splitlines()[0]}"
        text = text[:MAX_CHARS]
        month = self.now().strftime("%Y-%m")
        with self.connect() as conn:
            _ensure(conn)
            conn.execute("select pg_advisory_xact_lock(%s)", (LOCK,))
            sent = conn.execute("select count(*) from persys.sms where month = %s and "
                                "status = 'sent'", (month,)).fetchone()[0]
            if sent >= self.settings.monthly_cap:
                conn.execute("insert into persys.sms (month, subject, status) values "
                             "(%s, %s, 'capped')", (month, subject))
                log.warning("SMS not sent: the monthly cap of %d (notifications.sms.monthly_cap)"
                            " is reached; %s", self.settings.monthly_cap, subject)
                return
            message_id = self._publish(text)
            conn.execute("insert into persys.sms (month, subject, status, message_id) values "
                         "(%s, %s, 'sent', %s)", (month, subject, message_id))

    def _publish(self, text: str) -> str:
        import boto3

        client = boto3.client("sns", region_name=self.settings.region,
                              endpoint_url=self.settings.endpoint_url)
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                              "StringValue": "Transactional"}}
        if self.settings.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String",
                                                  "StringValue": self.settings.sender_id}
        number = self.settings.phone_number.get_secret_value()
        try:
            answer = client.publish(PhoneNumber=number, Message=text,
                                    MessageAttributes=attributes)
        except Exception as exc:  # botocore raises many kinds; the kind and a clean text do
            raise RuntimeError(f"SNS publish failed: {type(exc).__name__}: "
                               f"{scrub(str(exc), [number])[:200]}") from None
        return str(answer.get("MessageId", ""))


def sent_this_month(conn: psycopg.Connection, now: dt.datetime | None = None) -> int:
    month = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m")
    try:
        return int(conn.execute("select count(*) from persys.sms where month = %s and status = "
                                "'sent'", (month,)).fetchone()[0])
    except psycopg.errors.UndefinedTable:
        return 0
