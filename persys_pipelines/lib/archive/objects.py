"""What every object store is (the folder, S3 and Supabase Storage stores in `stores` and
`supabase_store`): the `Store` protocol, a listed object, the error a store raises."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ..errors import ArchiveError


class StoreError(ArchiveError):
    """The store cannot be used (unreachable, refused, missing key); says which store."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


class Store(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> Iterator[StoredObject]: ...
    def delete(self, key: str) -> None: ...
    def uri(self, key: str) -> str: ...
    def check(self) -> None: ...
    def check_readable(self) -> None: ...
