"""Single-request reads and deletes on S3 (store/s3_requests.py) against moto on loopback:
the same bytes and errors as pyarrow's own calls, with one request where pyarrow makes two or
three, and pyarrow's path kept for a filesystem the botocore client would not mirror."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pyarrow.fs as pafs
import pytest

from liqbrief.testing.s3_server import ACCESS_KEY, SECRET_KEY, S3Server
from store.object_store import delete_whole, filesystem_from_uri, read_whole
from store.s3_requests import client_settings

pytestmark = pytest.mark.server


def since(s3: S3Server, before: int) -> list[tuple[str, str, int]]:
    return [(m, p.rsplit("/", 1)[-1], status) for m, p, status in s3.requests()[before:]]


def test_a_read_and_a_delete_are_one_request_each(s3: S3Server) -> None:
    fs, root = filesystem_from_uri(f"s3://{s3.bucket}/x")
    assert client_settings(fs) == (s3.endpoint_url, "us-east-1", None)
    s3.client().put_object(Bucket=s3.bucket, Key="x/a.json", Body=b'{"a": 1}')
    before = s3.request_count()
    assert read_whole(fs, f"{root}/a.json") == b'{"a": 1}'
    assert since(s3, before) == [("GET", "a.json", 200)]
    before = s3.request_count()
    with pytest.raises(FileNotFoundError):
        read_whole(fs, f"{root}/absent.json")
    assert since(s3, before) == [("GET", "absent.json", 404)]
    before = s3.request_count()
    delete_whole(fs, f"{root}/a.json")
    delete_whole(fs, f"{root}/a.json")  # absent now: no error, as the callers expect
    assert since(s3, before) == [("DELETE", "a.json", 204)] * 2
    assert s3.object_keys() == []  # no "directory" marker left behind


def test_a_filesystem_the_client_would_not_mirror_is_read_through_pyarrow(s3: S3Server) -> None:
    s3.client().put_object(Bucket=s3.bucket, Key="x/a.json", Body=b"[]")
    host = s3.endpoint_url.split("://", 1)[1]
    keyed = pafs.S3FileSystem(
        access_key=ACCESS_KEY, secret_key=SECRET_KEY, endpoint_override=host, scheme="http"
    )  # keys given to the filesystem itself, not through the AWS chain both clients share
    assert client_settings(keyed) is None
    assert client_settings(pafs.S3FileSystem(anonymous=True)) is None
    before = s3.request_count()
    assert read_whole(keyed, f"{s3.bucket}/x/a.json") == b"[]"
    assert [m for m, _, _ in since(s3, before)] == ["HEAD", "GET"]  # pyarrow's own read


def test_many_concurrent_reads_share_the_client_without_pool_warnings(
    s3: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    """The lake's reads nest (symbols x files, 16 threads each): every one gets its bytes and
    urllib3 never drops a connection with a warning on the user's terminal."""
    fs, root = filesystem_from_uri(f"s3://{s3.bucket}/x")
    for i in range(8):
        s3.client().put_object(Bucket=s3.bucket, Key=f"x/{i}.json", Body=str(i).encode())
    with caplog.at_level(logging.WARNING), ThreadPoolExecutor(200) as pool:
        got = list(pool.map(lambda i: read_whole(fs, f"{root}/{i % 8}.json"), range(400)))
    assert got == [str(i % 8).encode() for i in range(400)]
    assert not [r.getMessage() for r in caplog.records if "pool" in r.getMessage()]
