"""AES-256-GCM for archive files: encrypted on this machine before a file leaves it.

Keys come from `tiers.archive.encryption_key`: one key or a list. Each is `ID:BASE64` (32
random bytes, e.g. `python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"`)
or a bare BASE64 whose id is derived from its fingerprint. The LAST key in the list is the
newest: it encrypts; every listed key decrypts. Rotation = append a key, then
`persys archive rekey`; drop the old key only after rekey finished.

Envelope: b"PSYE1" | len(key id) | key id | 12-byte nonce | ciphertext+tag. The object key
(`table/yyyy/mm/sha.parquet`) is the associated data, so a file moved to another key fails to
decrypt. GCM's tag makes any changed byte an error, never silently wrong rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import ArchiveError

MAGIC = b"PSYE1"
NONCE_BYTES = 12


class CryptoError(ArchiveError):
    """A key is malformed or missing, or a file does not decrypt (wrong key or damaged)."""


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes

    def __repr__(self) -> str:  # never show the secret
        return f"Key({self.id!r})"


def parse_key(text: str, position: int = 0) -> Key:
    """`ID:BASE64` or `BASE64` → Key; errors name the list position, never the value."""
    where = f"tiers.archive.encryption_key[{position}]"
    key_id, _, b64 = text.strip().rpartition(":")
    try:
        secret = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError(f"{where}: not base64; use ID:BASE64 of 32 random bytes") from None
    if len(secret) != 32:
        raise CryptoError(
            f"{where}: decodes to {len(secret)} bytes, AES-256 needs 32; generate one with "
            "python -c \"import os,base64;print(base64.b64encode(os.urandom(32)).decode())\""
        )
    if not key_id:
        key_id = "k" + hashlib.sha256(secret).hexdigest()[:8]
    if not key_id.replace("-", "").replace("_", "").isalnum() or len(key_id) > 64:
        raise CryptoError(f"{where}: key id {key_id!r} must be letters, digits, - or _")
    return Key(key_id, secret)


class Keyring:
    """The configured keys: the newest encrypts, all decrypt."""

    def __init__(self, keys: Sequence[Key], where: str = "tiers.archive.encryption_key",
                 missing: str = "add it back (old keys still decrypt)"):
        self.where, self.missing = where, missing  # where the keys come from, for errors
        ids = [k.id for k in keys]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise CryptoError(f"tiers.archive.encryption_key: key id {dupes[0]!r} used twice")
        self.keys = {k.id: k for k in keys}
        self.newest: Key | None = keys[-1] if keys else None

    @classmethod
    def from_texts(cls, texts: Sequence[str], **where: str) -> Keyring:
        return cls([parse_key(t, i) for i, t in enumerate(texts)], **where)

    def __bool__(self) -> bool:
        return self.newest is not None

    def encrypt(self, data: bytes, aad: str) -> tuple[bytes, str | None]:
        """(bytes to store, key id); without keys the data is stored as it is."""
        if self.newest is None:
            return data, None
        nonce = os.urandom(NONCE_BYTES)
        kid = self.newest.id.encode()
        sealed = AESGCM(self.newest.secret).encrypt(nonce, data, aad.encode())
        return MAGIC + bytes([len(kid)]) + kid + nonce + sealed, self.newest.id

    def decrypt(self, stored: bytes, aad: str) -> tuple[bytes, str | None]:
        """(plain bytes, key id it was encrypted with); plain files pass through."""
        if not stored.startswith(MAGIC):
            return stored, None
        n = stored[len(MAGIC)]
        start = len(MAGIC) + 1
        key_id = stored[start:start + n].decode(errors="replace")
        nonce = stored[start + n:start + n + NONCE_BYTES]
        key = self.keys.get(key_id)
        if key is None:
            raise CryptoError(
                f"{aad}: encrypted with key {key_id!r}, which is not in {self.where}; "
                f"{self.missing}")
        try:
            plain = AESGCM(key.secret).decrypt(nonce, stored[start + n + NONCE_BYTES:],
                                               aad.encode())
        except InvalidTag:
            raise CryptoError(f"{aad}: does not decrypt with key {key_id!r} of {self.where}: "
                              "the file is damaged or was altered, or the key was replaced"
                              ) from None
        return plain, key_id


def new_key_text(key_id: str) -> str:
    """A fresh `ID:BASE64` key for persys.yaml."""
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"
