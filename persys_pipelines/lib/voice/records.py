"""`voice_messages`: one row per day, kept in whichever tier holds it (core, later main).

A new row is written in core. A re-run updates the row where it lives (so a day that moved to
main is not duplicated into core) and keeps `sent_at` / `telegram_message_id`. Sending is
claimed first: `claim_send` sets `sent_at` under an advisory lock only if neither tier shows the
day as sent, so two runs racing, or a re-run, never send a second message (at most once; a
failed send releases the claim).

Each function is given the tiers, core first, then main (`tiers`: VoiceHandles.tiers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from psycopg.rows import dict_row

from ..moves.engine import held_lock
from ..pg.catalog import table_columns, table_exists
from ..pg.tiers import PgTier
from . import VoiceError

TABLE = "persys.voice_messages"  # persys's own schema (lib/pg/catalog.py)
COLUMNS = ("day", "engine", "voice", "characters", "duration_s", "uri", "sha256", "sent_at",
           "telegram_message_id")


@dataclass(frozen=True)
class VoiceRecord:
    day: dt.date
    engine: str
    voice: str | None
    characters: int
    duration_s: float | None
    uri: str | None
    sha256: str | None
    sent_at: dt.datetime | None = None
    telegram_message_id: int | None = None
    tier: str = "core"
    signed_url: str | None = None  # a link to the audio that works without credentials

    @property
    def sent(self) -> bool:
        return self.sent_at is not None or self.telegram_message_id is not None


def _named(tiers: Sequence[PgTier], name: str) -> PgTier:
    return next(t for t in tiers if t.name == name)


def find(tiers: Sequence[PgTier], day: dt.date) -> VoiceRecord | None:
    """The day's row from core, else main."""
    for tier in tiers:
        with tier.connect() as conn:
            if not table_exists(conn, TABLE):
                continue
            row = conn.cursor(row_factory=dict_row).execute(
                f"select {_columns(conn)} from {TABLE} where day = %s", (day,)).fetchone()
        if row:
            return VoiceRecord(**row, tier=tier.name)
    return None


def _columns(conn) -> str:
    """COLUMNS, and signed_url where the table has it (`persys setup` adds it to a table made
    before it existed)."""
    return ", ".join((*COLUMNS, *(["signed_url"] if _has_signed_url(conn) else [])))


def _has_signed_url(conn) -> bool:
    return "signed_url" in table_columns(conn, TABLE)


def save(tiers: Sequence[PgTier], rec: VoiceRecord) -> VoiceRecord:
    """Insert or update the day's row (audio fields only; sending state is kept)."""
    existing = find(tiers, rec.day)
    tier = _named(tiers, existing.tier if existing else "core")
    values = (rec.engine, rec.voice, rec.characters, rec.duration_s, rec.uri, rec.sha256)
    with tier.connect() as conn:
        if not table_exists(conn, TABLE):
            raise VoiceError(f"table {TABLE} does not exist in {tier.name}; run `persys setup`")
        conn.execute(
            f"""insert into {TABLE} (day, engine, voice, characters, duration_s, uri, sha256)
                values (%s, %s, %s, %s, %s, %s, %s)
                on conflict (day) do update set engine = excluded.engine,
                    voice = excluded.voice, characters = excluded.characters,
                    duration_s = excluded.duration_s, uri = excluded.uri,
                    sha256 = excluded.sha256""",
            (rec.day, *values),
        )
        if _has_signed_url(conn):
            conn.execute(f"update {TABLE} set signed_url = %s where day = %s",
                         (rec.signed_url, rec.day))
        conn.commit()
    found = find(tiers, rec.day)
    assert found is not None
    return found


@contextmanager
def _day_lock(core: PgTier, day: dt.date) -> Iterator[None]:
    with held_lock(core, f"persys_voice_day:{day}",
                   f"another sender of the {day} briefing"):
        yield


@contextmanager
def sending(tiers: Sequence[PgTier], day: dt.date) -> Iterator[VoiceRecord | None]:
    """Yields the claimed record (send now, then `mark_sent`), or None if the day was already
    sent. An exception inside releases the claim so a later run may try again."""
    with _day_lock(_named(tiers, "core"), day):
        rec = find(tiers, day)
        if rec is None:
            raise VoiceError(f"no voice briefing stored for {day}; make it first")
        if rec.sent:
            yield None
            return
        _update(tiers, rec, "sent_at = now()")
        try:
            yield rec
        except BaseException:
            _update(tiers, rec, "sent_at = null, telegram_message_id = null")
            raise


def mark_sent(tiers: Sequence[PgTier], rec: VoiceRecord, message_id: int) -> None:
    _update(tiers, rec, "telegram_message_id = %s", (message_id,))


def _update(tiers: Sequence[PgTier], rec: VoiceRecord, assignments: str, params: tuple = ()
            ) -> None:
    with _named(tiers, rec.tier).connect() as conn:
        conn.execute(f"update {TABLE} set {assignments} where day = %s", (*params, rec.day))
        conn.commit()


def history(tiers: Sequence[PgTier], limit: int = 30) -> list[VoiceRecord]:
    """The latest `limit` days with a briefing, from both tiers, newest first."""
    rows: dict[dt.date, VoiceRecord] = {}
    for tier in reversed(tiers):  # core last, so its copy wins
        with tier.connect() as conn:
            if not table_exists(conn, TABLE):
                continue
            for row in conn.cursor(row_factory=dict_row).execute(
                f"select {_columns(conn)} from {TABLE} order by day desc limit %s",
                (limit,),
            ):
                rows[row["day"]] = VoiceRecord(**row, tier=tier.name)
    return [rows[d] for d in sorted(rows, reverse=True)[:limit]]

