"""A lake on an https store whose certificate a private CA signs (moto on loopback with a
throwaway certificate): trusted through AWS_CA_BUNDLE or the URI's ``tls_ca_file_path`` by
both clients the lake uses (pyarrow's writes, botocore's whole-object reads), refused with
one line naming AWS_CA_BUNDLE when nothing trusts it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from liqbrief.testing.s3_server import S3Server
from liqbrief.testing.smtp_inbox import self_signed_certificate
from store.lake import Lake
from store.object_store import ObjectStoreError, require_reachable, uri_problem
from tests.store.test_lake import FUNDING, entry, funding_table

pytestmark = pytest.mark.server
DAY = date(2024, 1, 1)


@pytest.fixture(scope="module")
def private_store(tmp_path_factory) -> Iterator[tuple[S3Server, Path]]:
    """An https S3 API whose certificate no system CA signs, and that certificate (its CA)."""
    certificate, key = self_signed_certificate(tmp_path_factory.mktemp("private-ca"))
    with S3Server(tls=(certificate, key)) as server:
        server.create_bucket("private")
        yield server, certificate


@pytest.fixture
def on_private_store(private_store, monkeypatch) -> tuple[S3Server, Path]:
    server, certificate = private_store
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    return server, certificate


def write_and_read_back(server: S3Server, root: str) -> list[tuple[str, str, int]]:
    """Write a day, read it back; the requests the read made."""
    lake = Lake(root)
    lake.write_day(FUNDING, DAY, funding_table(DAY, [0.5, 0.25], [0, 8]), entry(DAY, 2))
    before = server.request_count()
    assert list(Lake(root).read(FUNDING, "BTCUSDT", DAY, DAY)["last_funding_rate"]) == [0.5, 0.25]
    return [(m, p.rsplit("/", 1)[-1], s) for m, p, s in server.requests()[before:]]


def test_aws_ca_bundle_makes_the_private_store_usable(on_private_store, monkeypatch) -> None:
    server, certificate = on_private_store
    assert server.endpoint_url.startswith("https://")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certificate))
    require_reachable("LIQBRIEF_LAKE", "s3://private/lake")  # no error: the CA is trusted
    reads = write_and_read_back(server, "s3://private/lake")
    # botocore's one-GET reads went through too: they trust the same CA file
    assert reads == [("GET", "2024-01-01.json", 200), ("GET", "data.parquet", 200)]


def test_the_uris_own_ca_file_works_without_the_variable(on_private_store) -> None:
    server, certificate = on_private_store
    root = f"s3://private/uri-lake?tls_ca_file_path={certificate}"
    reads = write_and_read_back(server, root)
    assert reads == [("GET", "2024-01-01.json", 200), ("GET", "data.parquet", 200)]
    keys = server.object_keys("private", "uri-lake/")
    assert len(keys) == 2 and all("?" not in key for key in keys)  # the query is no key part


def test_an_untrusted_certificate_is_one_line_naming_aws_ca_bundle(on_private_store) -> None:
    with pytest.raises(ObjectStoreError) as refused:
        require_reachable("LIQBRIEF_LAKE", "s3://private/lake")
    message = str(refused.value)
    assert "TLS certificate no trusted CA signs; set AWS_CA_BUNDLE" in message
    assert "\n" not in message


def test_a_ca_bundle_that_is_not_a_file_is_named(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "absent.pem"))
    problem = uri_problem("s3://private/lake")
    assert problem is not None and problem.startswith("AWS_CA_BUNDLE=")
    assert "is not a readable file" in problem
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path))  # a directory is not a PEM file
    assert "is not a readable file" in uri_problem("s3://private/lake")
