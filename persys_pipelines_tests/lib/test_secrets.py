"""Secrets never leak: malformed DSNs are refused at load naming the key and the fix, and every
third-party error text passes one scrubber."""

from __future__ import annotations

import textwrap
from urllib.parse import quote, urlsplit

import httpx
import pytest
import yaml

from persys_pipelines.cli import main
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import ConfigError, load_config, parse_config
from persys_pipelines.lib.errors import TierError, scrub
from persys_pipelines.lib.pg.tiers import PgTier, safe_dsn
from persys_pipelines.lib.telegram import TelegramClient, TelegramError
from persys_pipelines_tests.conftest import write_config

HEAD, TAIL = "Hq7w", "Zk9mWx"  # the two halves of every test password: neither may show


def problems_for(tier: str, dsn: str) -> list[str]:
    text = f"tiers:\n  {tier}:\n    dsn: {yaml.safe_dump(dsn).splitlines()[0]}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="test.yaml")
    return info.value.problems


@pytest.mark.parametrize("char", ["/", "%", "?", "#", " ", "@"])
def test_url_password_with_a_reserved_character(char):
    (problem,) = problems_for("core", f"postgresql://app:{HEAD}{char}{TAIL}@db.example.com/app")
    assert problem.startswith("tiers.core.dsn: ")
    assert "percent-encode the password" in problem and "urllib.parse.quote(" in problem
    assert HEAD not in problem and TAIL not in problem


@pytest.mark.parametrize("dsn", [
    f"host=db.example.com user=app password={HEAD} {TAIL} dbname=app",
    f"host=db.example.com password='{HEAD}{TAIL}",
])
def test_key_value_dsn_that_does_not_parse(dsn):
    (problem,) = problems_for("main", dsn)
    assert problem.startswith("tiers.main.dsn: not a valid key=value connection string")
    assert "password='...'" in problem and "percent-encoded" in problem
    assert HEAD not in problem and TAIL not in problem


def test_the_cli_prints_the_problem_without_the_password(tmp_path, tier_dsns, capsys):
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home")
    doc = yaml.safe_load(path.read_text())
    doc["tiers"]["core"]["dsn"] = f"postgresql://app:{HEAD}/{TAIL}@db.example.com:5432/app"
    path.write_text(yaml.safe_dump(doc))
    assert main(["status", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "tiers.core.dsn" in err and "percent-encode" in err
    assert HEAD not in err and TAIL not in err


def test_a_percent_encoded_password_connects(tmp_path, tier_dsns):
    """The fix the message gives works: every awkward character, encoded, reaches the server."""
    password = f"{HEAD}/%?# @'{TAIL}"
    parts = urlsplit(tier_dsns["core"])
    user = parts.username or "postgres"
    netloc = f"{user}:{quote(password, safe='')}@{parts.hostname or ''}" + (
        f":{parts.port}" if parts.port else "")
    encoded = parts._replace(netloc=netloc).geturl()
    cfg = load_config(write_config(tmp_path / "persys.yaml",
                                   {**tier_dsns, "core": encoded}, tmp_path / "home"))
    tier = resolve_tier(cfg, "core")
    with tier.connect() as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert HEAD not in repr(tier) and TAIL not in repr(tier) and "%" not in safe_dsn(encoded)


@pytest.mark.parametrize("dsn", [
    f"postgresql://app:{HEAD}%{TAIL}@127.0.0.1:1/app",  # not from persys.yaml: not checked yet
    f"host=127.0.0.1 port=1 user=app password={HEAD} {TAIL}",
])
def test_a_tier_never_passes_on_libpq_parse_errors(dsn):
    """libpq quotes the token it could not read, here the password: the tier says its own."""
    with pytest.raises(TierError) as info:
        PgTier("core", dsn, False, None).connect()
    message = str(info.value) + repr(PgTier("core", dsn, False, None))
    assert "the core tier cannot be used: tiers.core.dsn" in message
    assert HEAD not in message and TAIL not in message


def test_a_connect_error_names_the_tier_without_the_password():
    dsn = f"postgresql://app:{HEAD}{TAIL}@127.0.0.1:1/app?sslmode=disable"
    with pytest.raises(TierError) as info:
        PgTier("main", dsn, False, None).connect()
    message = str(info.value)
    assert "the main tier (postgresql://app@127.0.0.1:1/app) cannot be reached" in message
    assert "tiers.main.dsn" in message and HEAD not in message and TAIL not in message


def test_scrub_removes_tokens_userinfo_and_remembered_secrets():
    text = (f"GET https://api.telegram.org/bot123456:{HEAD}-{TAIL}/sendMessage failed; "
            f"dsn postgresql://app:{HEAD}@{TAIL}@db/app; password={HEAD}{TAIL} "
            f"key {quote(HEAD + '/' + TAIL, safe='')}")
    cleaned = scrub(text, [f"{HEAD}/{TAIL}"])
    assert HEAD not in cleaned and TAIL not in cleaned
    assert "bot***/sendMessage" in cleaned and "postgresql://app:***@db/app" in cleaned


def test_every_persys_error_drops_the_secrets_of_the_loaded_config(monkeypatch):
    monkeypatch.setenv("TEST_BOT_TOKEN", f"999:{HEAD}{TAIL}")
    parse_config(textwrap.dedent("""
        telegram: {token: env:TEST_BOT_TOKEN, chat_id: "1"}
    """))
    message = str(TierError(f"https://example.org/ echoed 999:{HEAD}{TAIL} back"))
    assert message == "https://example.org/ echoed *** back"


def test_telegram_description_echoing_the_token_is_scrubbed():
    token = f"123456:{HEAD}{TAIL}"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"ok": False,
                                         "description": f"Bad Request: bot{token} unknown"})

    client = TelegramClient(token, "42", transport=httpx.MockTransport(handler))
    with pytest.raises(TelegramError) as info:
        client.send_message("hi")
    assert "Bad Request" in str(info.value) and TAIL not in str(info.value)


def test_health_reasons_pass_the_scrubber():
    from persys_pipelines.lib.monitoring.health import _reason

    reason = _reason(RuntimeError(f"could not use postgresql://app:{HEAD}{TAIL}@db/app"))
    assert reason == "RuntimeError: could not use postgresql://app:***@db/app"


def test_a_common_word_password_leaves_words_around_it_readable():
    text = "the core tier (postgresql://postgres@db:5432/app): password postgres rejected"
    assert scrub(text, ["postgres"]) == (
        "the core tier (postgresql://***@db:5432/app): password *** rejected")


@pytest.mark.parametrize(("dsn", "shown"), [
    ("postgresql://u:pw@h1:5432,h2:5433/db", "postgresql://u@h1:5432,h2:5433/db"),
    ("postgresql://u:pw@h1:6543,h2/db", "postgresql://u@h1:6543,h2:5432/db"),
    ("postgresql://u:pw@[::1]:5433/db", "postgresql://u@[::1]:5433/db"),
    ("postgresql://u:pw@/db?host=/tmp/sock", "postgresql://u@/db?host=/tmp/sock"),
])
def test_a_dsn_with_several_hosts_is_shown_as_libpq_reads_it(dsn, shown):
    assert safe_dsn(dsn) == shown
