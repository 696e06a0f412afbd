"""Object stores: a folder with atomic writes and an S3 bucket through boto3 (moto's server)."""

from __future__ import annotations

import boto3
import pytest

from persys_pipelines.lib.archive.stores import FileStore, StoreError, open_store


def exercise(store) -> None:
    store.check()
    store.put("t/2024/01/a.bin", b"hello")
    store.put("t/2024/02/b.bin", b"world!")
    store.put("u/x.bin", b"x")
    assert store.get("t/2024/01/a.bin") == b"hello"
    assert store.exists("t/2024/02/b.bin") and not store.exists("t/2024/03/none.bin")
    assert [(o.key, o.size) for o in store.list("t/")] == [
        ("t/2024/01/a.bin", 5), ("t/2024/02/b.bin", 6)]
    store.delete("t/2024/01/a.bin")
    assert not store.exists("t/2024/01/a.bin")
    with pytest.raises(StoreError, match="a.bin"):
        store.get("t/2024/01/a.bin")


def test_folder_store(tmp_path):
    store = open_store(f"file://{tmp_path}/archive")
    exercise(store)
    assert not list((tmp_path / "archive").rglob(".*.tmp")), "no temporary files left behind"
    assert store.uri("u/x.bin") == f"file://{tmp_path}/archive/u/x.bin"
    store.put(".persys/digests/t/d.json", b"{}")
    assert [o.key for o in store.list()] == [".persys/digests/t/d.json", "t/2024/02/b.bin",
                                            "u/x.bin"]
    assert [o.key for o in store.list("t/2024/0")] == ["t/2024/02/b.bin"]
    assert list(store.list("missing/")) == []
    with pytest.raises(StoreError, match="leaves the store folder"):
        store.put("../escape.bin", b"no")


def test_folder_store_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="is not writable"):
        FileStore(blocker / "archive").check()


def test_s3_store_through_boto3(moto_server):
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(
        Bucket="persys")
    store = open_store("s3://persys/archive", endpoint_url=moto_server, region="us-east-1")
    exercise(store)
    assert store.uri("u/x.bin") == "s3://persys/archive/u/x.bin"
    missing = open_store("s3://no-such-bucket", endpoint_url=moto_server, region="us-east-1")
    with pytest.raises(StoreError, match=r"s3://no-such-bucket: head bucket failed \(404\)"):
        missing.check()


def test_unsupported_url():
    with pytest.raises(StoreError, match="use file://PATH or s3://bucket/prefix"):
        open_store("ftp://nas/x")
