"""Single-request reads and deletes on S3 (store/s3_requests.py) against moto on loopback:
the same bytes and errors as pyarrow's own calls, with one request where pyarrow makes two or
three, and pyarrow's path kept for a filesystem the botocore client would not mirror."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
    settings = client_settings(fs)
    assert (settings.endpoint, settings.region) == (s3.endpoint_url, "us-east-1")
    assert settings.ca_file is None or os.path.isfile(settings.ca_file)  # the system bundle
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


@pytest.fixture(scope="module")
def signed_s3() -> Iterator[S3Server]:
    """An S3 API that checks signatures against its IAM users (three unsigned requests
    create the first one)."""
    with S3Server(require_auth=True, free_actions=3) as server:
        yield server


def use_keys(monkeypatch, server: S3Server, key: tuple[str, str] | None) -> None:
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    if key is not None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key[0])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key[1])


def test_reads_and_deletes_follow_credentials_changed_or_rotated_like_pyarrow(
    signed_s3: S3Server, monkeypatch, tmp_path: Path
) -> None:
    """The client is the same user as the pyarrow filesystem: keys changed in the
    environment take a new client, and a key rotated in the credentials file (the old one
    revoked) is picked up on the refusal, as a new pyarrow filesystem would."""
    first = signed_s3.new_access_key()
    use_keys(monkeypatch, signed_s3, first)
    fs, _ = filesystem_from_uri("s3://lake/p?allow_bucket_creation=true")
    fs.create_dir("lake")
    with fs.open_output_stream("lake/p/a.json") as out:
        out.write(b"A")
    assert read_whole(fs, "lake/p/a.json") == b"A"
    use_keys(monkeypatch, signed_s3, ("revoked", "revoked"))
    with pytest.raises(OSError, match="InvalidAccessKeyId"):
        delete_whole(filesystem_from_uri("s3://lake/p")[0], "lake/p/a.json")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id={first[0]}\naws_secret_access_key={first[1]}\n"
    )
    use_keys(monkeypatch, signed_s3, None)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    assert read_whole(filesystem_from_uri("s3://lake/p")[0], "lake/p/a.json") == b"A"
    second = signed_s3.new_access_key(signed_by=first)
    credentials.write_text(
        f"[default]\naws_access_key_id={second[0]}\naws_secret_access_key={second[1]}\n"
    )
    signed_s3.revoke(first)
    assert read_whole(filesystem_from_uri("s3://lake/p")[0], "lake/p/a.json") == b"A"


def test_a_proxy_in_the_environment_is_ignored_as_pyarrow_ignores_it(
    s3: S3Server, monkeypatch
) -> None:
    s3.client().put_object(Bucket=s3.bucket, Key="x/a.json", Body=b"A")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    fs, root = filesystem_from_uri(f"s3://{s3.bucket}/x")
    assert fs.open_input_stream(f"{root}/a.json").read() == b"A"  # pyarrow goes direct
    assert read_whole(fs, f"{root}/a.json") == b"A"
