"""Alerts through a local fake Telegram Bot API and a local SMTP server; outbox retries."""

from __future__ import annotations

import psycopg
from pydantic import SecretStr

from persys_pipelines.lib.config import EmailNotify, parse_config, secret_values
from persys_pipelines.lib.monitoring.notify import (
    EmailChannel,
    Notifier,
    TelegramChannel,
    channels,
    scrub,
)
from persys_pipelines.lib.telegram import TelegramClient
from persys_pipelines_tests.monitoring_fakes import fake_telegram, smtp_server

TOKEN = "123456:SECRET-bot-token"


def notifier(main_dsn: str, chans, secrets=()) -> Notifier:
    return Notifier(lambda: psycopg.connect(main_dsn), chans, list(secrets))


def test_telegram_alert_is_delivered_once_per_key(make_database):
    main = make_database("main")
    with fake_telegram() as tg:
        ch = TelegramChannel(TelegramClient(TOKEN, "42", base_url=tg.base_url))
        n = notifier(main, [ch], [TOKEN])
        first = n.notify("quota:core:warn:1", "core at 81%", "quota 60 MB")
        again = n.notify("quota:core:warn:1", "core at 82%", "quota 60 MB")
    assert [d.ok for d in first] == [True] and again == []
    assert len(tg.messages) == 1
    assert tg.messages[0]["chat_id"] == "42"
    assert tg.messages[0]["text"] == "core at 81%\n\nquota 60 MB"


def test_a_failing_channel_is_retried_on_the_next_flush_and_never_raises(make_database):
    main = make_database("main")
    with fake_telegram() as tg:
        tg.fail = True
        n = notifier(main, [TelegramChannel(TelegramClient(TOKEN, "42", base_url=tg.base_url,
                                                           max_retries=0))], [TOKEN])
        failed = n.notify("run-failure:abc", "run failed")
        assert [d.ok for d in failed] == [False]
        assert TOKEN not in failed[0].error and "Internal Server Error" in failed[0].error
        tg.fail = False
        retried = n.flush()
        assert [d.ok for d in retried] == [True]
        assert n.flush() == []  # delivered: nothing pending
    assert [m["text"] for m in tg.messages] == ["run failed"]
    with psycopg.connect(main) as conn:
        attempts, error = conn.execute(
            "select attempts, last_error from persys.notifications").fetchone()
    assert attempts == 2 and error is None


def test_unreachable_outbox_and_unreachable_telegram_do_not_raise():
    def broken():
        raise psycopg.OperationalError("connection refused")

    ch = TelegramChannel(TelegramClient(TOKEN, "42", base_url="http://127.0.0.1:9",
                                        max_retries=0))
    result = Notifier(broken, [ch], [TOKEN]).notify("k", "subject")
    assert [d.ok for d in result] == [False]
    assert TOKEN not in result[0].error


def test_email_through_local_smtp_with_login(make_database):
    main = make_database("main")
    with smtp_server(password="smtp-pass-1") as box:
        settings = EmailNotify.model_validate({
            "smtp_host": box.host, "smtp_port": box.port, "starttls": False,
            "username": "alerts", "password": "smtp-pass-1",
            "from": "persys@example.org", "to": ["me@example.org"]})
        result = notifier(main, [EmailChannel(settings)]).notify(
            "quota:core:critical:1", "core at 91%", "emergency migration requested")
    assert [d.ok for d in result] == [True]
    assert box.logins == [("alerts", True)]
    [msg] = box.messages
    assert msg["Subject"] == "core at 91%" and msg["To"] == "me@example.org"
    assert "emergency migration requested" in msg.get_payload()


def test_email_wrong_password_fails_without_leaking_it(make_database):
    main = make_database("main")
    with smtp_server(password="right") as box:
        settings = EmailNotify(smtp_host=box.host, smtp_port=box.port, starttls=False,
                               username="alerts", password=SecretStr("wrong-pass-9"),
                               **{"from": "a@example.org"}, to=["b@example.org"])
        # after a refused login smtplib tries the next mechanism, which aiosmtpd leaves hanging
        chan = EmailChannel(settings, timeout_s=2)
        [result] = notifier(main, [chan], ["wrong-pass-9"]).notify("k", "s")
    assert not result.ok and "wrong-pass-9" not in result.error
    assert "e-mail via" in result.error and box.messages == []
    assert box.logins == [("alerts", False)]


def test_texts_are_scrubbed_of_secrets(make_database):
    cfg = parse_config(f"""
telegram: {{token: "{TOKEN}", chat_id: "42"}}
notify: {{telegram: true}}
tiers: {{core: {{dsn: "postgresql://app:core-db-pw@db.example.org/postgres"}}}}
""")
    secrets = secret_values(cfg)
    assert TOKEN in secrets
    text = scrub(f"failed on postgresql://app:core-db-pw@db.example.org/x with {TOKEN} "
                 "and password=hunter22", secrets)
    assert "core-db-pw" not in text and TOKEN not in text and "hunter22" not in text
    assert "postgresql://app:***@db.example.org/x" in text
    main = make_database("main")
    with fake_telegram() as tg:
        cfg = cfg.model_copy(update={"telegram": cfg.telegram.model_copy(
            update={"base_url": tg.base_url})})
        [ch] = channels(cfg.notify, cfg.telegram, cfg.notifications.sms,
                        lambda: psycopg.connect(main))
        notifier(main, [ch], secrets).notify("k", "boom", "dsn postgresql://app:core-db-pw@h/db")
    assert "core-db-pw" not in tg.messages[0]["text"]
    assert all(TOKEN not in p or p.startswith(f"/bot{TOKEN}/") for p in tg.paths)


def test_no_channel_configured_means_no_channel():
    cfg = parse_config("")
    assert channels(cfg.notify, cfg.telegram, cfg.notifications.sms, lambda: None) == []
