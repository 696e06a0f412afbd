"""Doctor's checks outside PostgreSQL: archive stores (and their marker), encryption keys,
the Supabase REST API and Storage, Telegram, e-mail, ElevenLabs and the SSM parameters read.

Each is read-only: a folder is checked with `os.access`, a bucket with HEAD, Telegram with
`getMe`, SMTP with a login and QUIT, ElevenLabs with the subscription read. A service that is
not configured gets no line (nothing to check).
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Callable

from ...archive.crypto import Keyring
from ...archive.marker import MARKER, archived_into, has_marker, missing_marker_problem
from ...archive.stores import ArchiveStores, FileStore, Store
from ...config import ArchiveTier, EmailNotify, Telegram, Voice
from ...config.text import SSM_USED
from ...errors import PersysError
from ...telegram import TelegramClient
from ..context import SupabaseRest
from .database import TierProbe
from .findings import FAIL, OK, WARN, Finding


def archive_checks(probe: TierProbe, stores_of: Callable[[], ArchiveStores],
                   voice_url: str | None, voice_store: Callable[[], Store]) -> list[Finding]:
    """Each archive store (readable, writable, its marker against main's ledger) and the voice
    store when it is not a folder; both opened here (`stores_of`, `voice_store`: the boundary's
    openers), so a store that cannot be opened is this check's FAIL line."""
    stores = stores_of()
    main = probe.reachable().get("main")
    findings = []
    for store in stores.all:
        item = f"archive {stores.role(store)}"
        try:
            archived = 0
            if main is not None:
                with main.connect() as conn:
                    archived = archived_into(conn, store)
            findings.append(_store(item, store, archived))
        except PersysError as exc:
            findings.append(Finding(item, FAIL, str(exc)))
    if voice_url and not voice_url.startswith("file://"):
        try:
            voice_store().check_readable()
            findings.append(Finding("voice store", OK, voice_url))
        except PersysError as exc:
            findings.append(Finding("voice store", FAIL, str(exc)))
    return findings


def _store(item: str, store: Store, archived: int) -> Finding:
    if isinstance(store, FileStore) and not store.root.is_dir():
        if archived:
            return Finding(item, FAIL, f"folder {store.root} does not exist, but the ledger "
                           f"records {archived} month(s) archived there: mount the share or "
                           "fix tiers.archive.url")
        return Finding(item, OK, f"{store.url} (not created yet: `persys setup` makes it)")
    store.check_readable()
    if isinstance(store, FileStore) and not os.access(store.root, os.W_OK | os.X_OK):
        return Finding(item, FAIL, f"folder {store.root} is not writable by this user; fix its "
                       "permissions or the mount options")
    if has_marker(store):
        return Finding(item, OK, f"{store.url}, marker {MARKER} present, {archived} month(s) "
                       "archived there")
    if archived:
        return Finding(item, FAIL, missing_marker_problem(store, archived))
    return Finding(item, OK, f"{store.url}, empty so far (the marker {MARKER} is written by "
                   "`persys setup` or the first archive run)")


def key_checks(archive: ArchiveTier) -> list[Finding]:
    """Keys were checked at load (a bad one fails the config); here: which are in use."""
    texts = archive.encryption_keys
    if not texts:
        return [Finding("encryption keys", WARN, "none: archive files are stored unencrypted; "
                        "set tiers.archive.encryption_key: env:PERSYS_ARCHIVE_KEY")]
    ring = Keyring.from_texts(texts)
    ids = list(ring.keys)
    return [Finding("encryption keys", OK, f"{len(ids)} of 32 bytes ({', '.join(ids)}); "
                    f"{ids[-1]} encrypts new files")]


def supabase_checks(rest: SupabaseRest) -> list[Finding]:
    if not rest.configured:
        return []
    try:
        return [Finding("supabase: rest", OK, rest.probe())]
    except PersysError as exc:
        return [Finding("supabase: rest", FAIL, str(exc))]


def telegram_checks(t: Telegram) -> list[Finding]:
    if t.token is None:
        return []
    if not t.chat_id:
        return [Finding("telegram", FAIL, "telegram.token is set but chat_id is not; set "
                        "telegram.chat_id (send the bot a message, then read getUpdates)")]
    client = TelegramClient(t.token.get_secret_value(), t.chat_id, base_url=t.base_url,
                            max_retries=0, timeout_s=10)
    try:
        me = client.get_me()
    except PersysError as exc:
        return [Finding("telegram", FAIL, f"{exc}; check telegram.token (BotFather's token)")]
    return [Finding("telegram", OK, f"bot @{me.get('username', '?')}, chat {t.chat_id}")]


def email_checks(s: EmailNotify | None) -> list[Finding]:
    if s is None:
        return []
    where = f"{s.smtp_host}:{s.smtp_port}"
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.username:
                smtp.login(s.username, s.password.get_secret_value() if s.password else "")
    except smtplib.SMTPAuthenticationError as exc:
        return [Finding("e-mail", FAIL, f"{where} refused the login of {s.username} "
                        f"(SMTP {exc.smtp_code}); check notify.email.username and password")]
    except (smtplib.SMTPException, OSError) as exc:
        code = getattr(exc, "smtp_code", None)
        return [Finding("e-mail", FAIL, f"{where}: {type(exc).__name__}"
                        + (f" (SMTP {code})" if code else "")
                        + "; check notify.email.smtp_host, smtp_port and starttls")]
    login = f"login as {s.username} ok" if s.username else "no login configured"
    return [Finding("e-mail", OK, f"{where}, {login}")]


def elevenlabs_checks(voice: Voice) -> list[Finding]:
    settings = voice.elevenlabs
    if settings.api_key is None:
        return []
    from ...voice.tts_elevenlabs import ElevenLabsEngine

    engine = ElevenLabsEngine(settings.model_copy(update={"max_retries": 0}),
                              budget=voice.monthly_character_budget)
    try:
        credits = engine.credits()
    except PersysError as exc:
        return [Finding("elevenlabs", FAIL, str(exc))]
    status = OK if credits.remaining > 0 else WARN
    return [Finding("elevenlabs", status, f"{credits.used:,} of {credits.limit:,} characters "
                    f"used this period, {credits.remaining:,} left for briefings")]


def ssm_checks() -> list[Finding]:
    """The `ssm:` values read when persys.yaml was loaded (a failed read fails the config)."""
    return [Finding(f"ssm: {key}", OK, f"read from parameter {name}")
            for key, name in sorted(SSM_USED.items())]
