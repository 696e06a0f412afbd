"""Object stores behind one interface: a folder (the home server's mount) or an S3 bucket.

Archive Parquet files, audio briefings and charts all go through `open_store(url)`:
- `file:///mnt/nas/persys` — a local or mounted folder (NFS/SMB/SSHFS). A write goes to a
  temporary name, is fsync'ed, then atomically renamed, so a crash never leaves half a file
  under a real key.
- `supabase://bucket/prefix` — Supabase Storage through the `supabase` client
  (`supabase_store`).
- `s3://bucket/prefix` — any S3-compatible store through boto3 (AWS S3, MinIO, R2, Supabase
  Storage). `endpoint_url` selects a non-AWS store (or boto3's AWS_ENDPOINT_URL[_S3]
  variable); checksums are sent/validated only "when_required", which S3-compatible stores
  need since boto3 1.36.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..config import ArchiveTier
from ..errors import ArchiveError
from .crypto import Keyring
from .objects import Store, StoredObject, StoreError

__all__ = ["Store", "StoreError", "StoredObject"]  # re-exported: where callers look

log = logging.getLogger(__name__)


class FileStore:
    """A folder; keys are relative paths with `/`."""

    def __init__(self, root: Path):
        self.root = root
        self.url = f"file://{root}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StoreError(f"key {key!r} leaves the store folder {self.root}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            self._put(path, data)
        except OSError as exc:  # a full disk, a read-only or lost mount, a file for a folder
            raise StoreError(
                f"cannot write {self.uri(key)}: {exc.strerror or exc} "
                f"({exc.filename or path}); check that the archive folder is mounted, "
                "writable and has space, then run again") from None

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{self.uri(key)} does not exist") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Walks only the folder `prefix` names: a table's listing must not cost more as
        the digests and backups beside it pile up over the years."""
        folder = prefix.rpartition("/")[0]
        if folder:
            self._path(folder)  # refuses a prefix that leaves the folder
        base = self.root / folder
        if not base.is_dir():
            return
        keys = []
        for parent, _, names in os.walk(base):
            rel = Path(parent).relative_to(self.root).as_posix()
            keys += [name if rel == "." else f"{rel}/{name}" for name in names
                     if not name.startswith(".")]
        for key in sorted(k for k in keys if k.startswith(prefix)):
            try:
                size = (self.root / key).stat().st_size
            except FileNotFoundError:  # deleted while listed: not there
                continue
            yield StoredObject(key, size)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def uri(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    def check_readable(self) -> None:
        """Readable, without writing anything (verify and drills run on read-only stores)."""
        try:
            if not self.root.is_dir():
                raise StoreError(f"folder store {self.root} does not exist (is it mounted?)")
            next(os.scandir(self.root), None)
        except OSError as exc:
            raise StoreError(f"folder store {self.root} is not readable: {exc}") from None

    def check(self) -> None:
        """Writable? (a mount that went away shows up here, not halfway through a write)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".health.{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"folder store {self.root} is not writable: {exc}") from None


class S3Store:
    """A bucket (and optional prefix) through boto3."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None):
        import boto3
        from botocore.config import Config as BotoConfig

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=BotoConfig(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            raise StoreError(f"{self.url}: {what} failed ({code})") from None
        except BotoCoreError as exc:
            raise StoreError(f"{self.url}: {what} failed ({type(exc).__name__})") from None

    def put(self, key: str, data: bytes) -> None:
        self._call(f"put {key}", self.client.put_object, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes:
        return self._call(f"get {key}", self.client.get_object, Key=self._key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self._call(f"head {key}", self.client.head_object, Key=self._key(key))
            return True
        except StoreError as exc:
            if "(404)" in str(exc) or "(NoSuchKey)" in str(exc):
                return False
            raise

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        token = None
        start = len(self.prefix) + 1 if self.prefix else 0
        while True:
            kwargs = {"Prefix": self._key(prefix)}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("list", self.client.list_objects_v2, **kwargs)
            for obj in page.get("Contents", []):
                yield StoredObject(obj["Key"][start:], int(obj["Size"]))
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", self.client.delete_object, Key=self._key(key))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def check(self) -> None:
        self._call("head bucket", self.client.head_bucket)

    def check_readable(self) -> None:
        """HEAD of the bucket writes nothing: the same probe as `check`."""
        self.check()


def open_store(url: str, **s3_options: str | None) -> Store:
    """`file://PATH`, `s3://bucket/prefix` or `supabase://bucket/prefix`; `s3_options` go to
    S3Store (endpoint_url, ...), or to SupabaseStore (project_url, service_key)."""
    parts = urlsplit(url)
    if parts.scheme == "supabase":
        from .supabase_store import open_supabase

        return open_supabase(url, project_url=s3_options.get("project_url"),
                             service_key=s3_options.get("service_key"))
    if parts.scheme == "file":
        return FileStore(Path(parts.netloc + parts.path).expanduser())
    if parts.scheme == "s3":
        if not parts.netloc:
            raise StoreError(f"{url}: an s3 URL needs a bucket, e.g. s3://my-bucket/persys")
        return S3Store(parts.netloc, parts.path, **s3_options)
    raise StoreError(f"{url}: unsupported store; use file://PATH or s3://bucket/prefix")


# ---------------------------------------------------------------------------------------------
# The configured stores: primary, failover to secondary


@dataclass(frozen=True)
class ArchiveStores:
    """The configured stores; `active` is where new files go (primary unless it is down)."""

    primary: Store
    secondary: Store | None
    active: Store
    primary_error: str | None = None

    @property
    def all(self) -> list[Store]:
        return [s for s in (self.primary, self.secondary) if s is not None]

    def role(self, store: Store) -> str:
        return "primary" if store is self.primary else "secondary"


def open_url(archive: ArchiveTier, url: str) -> Store:
    """The store at `url`, with the credentials and endpoint of persys.yaml's
    `tiers.archive` (S3-compatible stores)."""
    secret = archive.secret_access_key.get_secret_value() if archive.secret_access_key else None
    key_id = archive.access_key_id.get_secret_value() if archive.access_key_id else None
    return open_store(url, endpoint_url=archive.endpoint_url, region=archive.region,
                      access_key_id=key_id, secret_access_key=secret)


def open_stores(primary: Store, secondary: Store | None, *, check: bool = True,
                down: str | None = None) -> ArchiveStores:
    """The stores; when the primary fails its check, new files go to the secondary.

    `down`: why the caller already knows the primary is down (the health sensor's open
    incident); the archive then fails over without waiting for its own probe to time out."""
    if not check:
        return ArchiveStores(primary, secondary, primary)
    if secondary is not None and down:
        secondary.check()
        log.warning("archive: primary store down (%s); writing to %s", down, secondary.url)
        return ArchiveStores(primary, secondary, secondary, down)
    try:
        primary.check()
        return ArchiveStores(primary, secondary, primary)
    except StoreError as exc:
        if secondary is None:
            raise ArchiveError(f"archive store is down and no tiers.archive.secondary_url is "
                               f"set: {exc}") from None
        secondary.check()  # both down: StoreError says which
        log.warning("archive: primary store down (%s); writing to %s", exc, secondary.url)
        return ArchiveStores(primary, secondary, secondary, str(exc))


BACKUP_KEY_FILE = "keys/backup.key"  # under home: the key backups use when none is configured


def backup_key_path(home: Path) -> Path:
    return home / BACKUP_KEY_FILE


def home_keyring(path: Path) -> Keyring:
    """The home's own backup key (`persys setup` creates it; the person must keep a copy of
    it elsewhere); an empty keyring when there is none yet."""
    where = {"where": f"the home's backup key file {path}",
             "missing": f"put back the copy of {path.name} you kept (a new key cannot read "
                        "backups made with the old one)"}
    if not path.exists():
        return Keyring([], **where)
    return Keyring.from_texts([path.read_text().strip()], **where)


def ensure_backup_key(path: Path) -> Path | None:
    """Create the home's backup key at `path` (mode 0600) when none exists; returns its path
    when it was created now. The boundary calls it only when no key is configured."""
    from .crypto import new_key_text

    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(new_key_text("home1") + "\n")
    return path
