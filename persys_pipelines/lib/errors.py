"""One error root: every problem a person can cause or fix is a `PersysError`.

Each concern has one subclass with its own exit code; the message names the thing (file, key,
table, row, store) and the fix, and never carries a secret. The CLI prints the message and
exits with the code; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote


class PersysError(Exception):
    """A problem the message fully explains; a secret of the loaded config never shows in it."""

    exit_code = 1

    def __init__(self, *args: object):
        super().__init__(*(scrub_known(a) if isinstance(a, str) else a for a in args))


class UsageError(PersysError):
    """A command was asked for something it cannot do (bad argument, nothing to do)."""

    exit_code = 1


class ConfigError(PersysError):
    """persys.yaml (or a value it points to) is wrong; the message names the key and the fix."""

    exit_code = 2

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


class TierError(PersysError):
    """A PostgreSQL tier cannot be used as asked (unreachable, missing table, wrong shape)."""

    exit_code = 3


class MoveError(PersysError):
    """A move could not be completed safely; nothing was deleted at the source."""

    exit_code = 4


class ArchiveError(PersysError):
    """The archive cannot do what was asked; the message names the table, month or key."""

    exit_code = 5


class ServiceError(PersysError):
    """An outside service (voice engine, Telegram, e-mail, cost API) refused or failed."""

    exit_code = 6


# ---------------------------------------------------------------------------------------------
# Secrets out of third-party texts

_KNOWN_SECRETS: set[str] = set()
_BOT_TOKEN = re.compile(r"\bbot\d+:[\w-]+")  # Telegram URLs: /bot<id>:<token>/method
_URL_USERINFO = re.compile(r"(\b[a-z][\w+.-]*://[^:/@\s]*):\S*@", re.IGNORECASE)
_KEY_VALUE_SECRET = re.compile(
    r"(?i)\b(password|passwd|token|secret|api_key|apikey)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
MIN_SECRET = 4  # a shorter value would blank bits of ordinary words everywhere


def remember_secrets(values: Iterable[str | None]) -> None:
    """Secrets of the loaded persys.yaml: every later `scrub` removes them too."""
    _KNOWN_SECRETS.update(v for v in values if v and len(v) >= MIN_SECRET)


def scrub_known(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Only the given and remembered secret values out (our own messages: their examples such
    as password='...' stay readable)."""
    values = {v for v in (*_KNOWN_SECRETS, *secrets) if v and len(v) >= MIN_SECRET}
    for value in sorted(values, key=len, reverse=True):
        for form in dict.fromkeys((value, quote(value, safe=""), quote(value))):
            # not inside a longer word: a password "postgres" leaves "postgresql://" readable
            text = re.sub(rf"(?<![A-Za-z]){re.escape(form)}(?![A-Za-z])", "***", text)
    return text


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Text from a driver, an HTTP body or an SMTP reply, made safe to show or store.

    Removes the given and the remembered secrets (as written and percent-encoded), Telegram's
    `bot<token>`, the password of `scheme://user:password@` and `password=...` pairs.
    """
    text = _BOT_TOKEN.sub("bot***", text)  # the patterns first: a value blanked inside a
    text = _URL_USERINFO.sub(r"\1:***@", text)  # token would hide the rest of it from them
    return scrub_known(_KEY_VALUE_SECRET.sub(r"\1=***", text), secrets)
