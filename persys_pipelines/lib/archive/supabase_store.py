"""`supabase://bucket/prefix`: a Supabase Storage bucket as a store (the voice briefings).

Through the `supabase` client's Storage API with the project's service key (it bypasses the
bucket's policies, so the bucket may stay private). Beyond the `Store` interface it hands out
signed URLs: a private file anyone with the link can fetch until it expires, which is how the
day's briefing is shared without making the bucket public. A `put` is an upsert, so a re-made
briefing replaces the day's file.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from ..errors import scrub
from ..supabase_rest import PAUSED_HINT, client
from .objects import StoredObject, StoreError

LIST_PAGE = 1000


class SupabaseStore:
    """A bucket (and optional prefix) of the project at `project_url`."""

    def __init__(self, bucket: str, prefix: str, *, project_url: str, service_key: str):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"supabase://{bucket}/{self.prefix}".rstrip("/")
        self._project = project_url
        self._key_secret = service_key
        self._files = client(project_url, service_key).storage.from_(bucket)

    def __repr__(self) -> str:
        return f"SupabaseStore({self.url!r}, {self._project!r})"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn, *args, **kwargs):
        from storage3.exceptions import StorageApiError

        try:
            return fn(*args, **kwargs)
        except StorageApiError as exc:
            if str(exc.status) in {"401", "403"}:
                raise StoreError(f"{self.url}: {what} failed, the key was rejected "
                                 f"({exc.status}); check tiers.core.service_key (the "
                                 "project's service_role key)") from None
            detail = scrub(f"{exc.status} {exc.code}: {exc.message}", [self._key_secret])[:200]
            fix = (f"create the bucket {self.bucket} in the Supabase dashboard (Storage)"
                   if "bucket" in str(exc.message).lower() else "see the project's Storage logs")
            raise StoreError(f"{self.url}: {what} failed ({detail}); {fix}") from None
        except httpx.HTTPError as exc:
            raise StoreError(f"{self.url}: {what} failed, {self._project} cannot be reached "
                             f"({type(exc).__name__}); {PAUSED_HINT}") from None

    def put(self, key: str, data: bytes) -> None:
        ctype = "audio/ogg" if data[:4] == b"OggS" else (
            "text/plain;charset=utf-8" if key.endswith(".txt") else "application/octet-stream")
        self._call(f"upload {key}", self._files.upload, self._key(key), data,
                   {"content-type": ctype, "upsert": "true"})

    def get(self, key: str) -> bytes:
        return self._call(f"download {key}", self._files.download, self._key(key))

    def exists(self, key: str) -> bool:
        return bool(self._call(f"info {key}", self._files.exists, self._key(key)))

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Objects under `prefix` (folders walked); Storage lists one folder level per call."""
        folders = [self._key(prefix).rstrip("/")]
        start = len(self.prefix) + 1 if self.prefix else 0
        while folders:
            folder = folders.pop()
            offset = 0
            while True:
                page = self._call("list", self._files.list, folder,
                                  {"limit": LIST_PAGE, "offset": offset})
                for item in page:
                    path = f"{folder}/{item['name']}" if folder else item["name"]
                    if item.get("id") is None:  # a folder
                        folders.append(path)
                    else:
                        yield StoredObject(path[start:], int((item.get("metadata") or {}).get(
                            "size", 0)))
                if len(page) < LIST_PAGE:
                    break
                offset += LIST_PAGE

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", self._files.remove, [self._key(key)])

    def uri(self, key: str) -> str:
        return f"supabase://{self.bucket}/{self._key(key)}"

    def signed_url(self, key: str, expires_s: int) -> str:
        """An HTTPS link to the private object, valid for `expires_s` seconds."""
        answer = self._call(f"sign {key}", self._files.create_signed_url, self._key(key),
                            expires_s)
        url = answer.get("signedURL") or answer.get("signedUrl")
        if not url:
            raise StoreError(f"{self.url}: Storage returned no signed URL for {key}")
        return str(url)

    def check(self) -> None:
        """The bucket is there and the key may use it (a one-entry list writes nothing)."""
        self._call("list", self._files.list, self.prefix, {"limit": 1})

    def check_readable(self) -> None:
        self.check()


def open_supabase(url: str, *, project_url: str | None, service_key: str | None
                  ) -> SupabaseStore:
    parts = urlsplit(url)
    if not parts.netloc:
        raise StoreError(f"{url}: a supabase URL needs a bucket, e.g. supabase://voice/persys")
    if not (project_url and service_key):
        raise StoreError(f"{url} needs tiers.core.supabase_url and tiers.core.service_key "
                         "(service_key: env:SUPABASE_SERVICE_KEY)")
    return SupabaseStore(parts.netloc, parts.path, project_url=project_url,
                         service_key=service_key)
