"""Retries for steps that call out over the network (object stores, ElevenLabs, Telegram, AWS).

A dropped connection or a 5xx is worth another try after a pause that grows; an error the
person must fix (persys.yaml, a refused credit, a corrupt file, a failed move verification)
is not: `terminal_errors()` turns those into a `dg.Failure` Dagster does not retry. Every step
with this policy is idempotent by design (files are content-addressed, sends and moves are
recorded), so a second attempt never doubles anything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg

from ..lib.archive.crypto import CryptoError
from ..lib.archive.format import ArchiveFormatError
from ..lib.errors import ConfigError, MoveError, UsageError
from ..lib.voice.tts_elevenlabs import CreditRefused, QuotaExceeded

NETWORK_RETRY = dg.RetryPolicy(
    max_retries=3,
    delay=5,  # seconds: ~5, ~15, ~35 (each ±5 s, so parallel steps do not retry in step)
    backoff=dg.Backoff.EXPONENTIAL,
    jitter=dg.Jitter.PLUS_MINUS,
)

TERMINAL = (ConfigError, UsageError, MoveError, CryptoError, ArchiveFormatError, CreditRefused,
            QuotaExceeded)


@contextlib.contextmanager
def terminal_errors() -> Iterator[None]:
    """Fail without retries on errors another attempt cannot fix."""
    try:
        yield
    except TERMINAL as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
