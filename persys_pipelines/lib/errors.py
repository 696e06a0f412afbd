"""One error root: every problem a person can cause or fix is a `PersysError`.

Each concern has one subclass with its own exit code; the message names the thing (file, key,
table, row, store) and the fix, and never carries a secret. The CLI prints the message and
exits with the code; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class PersysError(Exception):
    """A problem the message fully explains."""

    exit_code = 1


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
