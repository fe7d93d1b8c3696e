"""Whole-object reads and deletes on S3 in one request each.

pyarrow's S3FileSystem opens every object with a HEAD (for its size) before the GET, so each
small record or day file costs two round trips; a lake read is mostly such objects (bench/
scale.py counted a HEAD beside every GET). Its delete_file asks a HEAD first too and, when the
"directory" empties, writes a marker object for it. botocore's GetObject answers with the
bytes or NoSuchKey in one request, DeleteObject deletes (absent or not) in one.

The client mirrors the pyarrow filesystem: its endpoint, region, timeouts and CA file (else
the system bundle pyarrow trusts), no proxy from the environment, and credentials from the
same standard AWS chain (AWS_* variables, profile, instance role), re-read when they change.
A filesystem set up in ways it does not mirror (anonymous, an assumed role, a proxy, keys in
the URI) keeps pyarrow's calls.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import pyarrow.fs as pafs

MISSING_CODES = ("NoSuchKey", "404", "NotFound")
# a key refused, expired or rotated: drop the client (its credentials) and ask once more
CREDENTIAL_CODES = ("InvalidAccessKeyId", "ExpiredToken", "SignatureDoesNotMatch", "AccessDenied")
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
)  # fmt: skip
# the system CA bundles pyarrow's S3 client looks for when no tls_ca_file_path is given
# (botocore would use certifi's instead, and refuse a store signed by a private CA)
SYSTEM_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
)  # fmt: skip
# Lake.each runs up to 16 requests at once, and its work can nest once (a briefing's symbols,
# each reading a unit's files): 16 x 16 in flight. A smaller pool drops connections with a
# warning per request ("Connection pool is full").
POOL_CONNECTIONS = 256
_lock = threading.Lock()
_clients: dict[tuple, object] = {}


@dataclass(frozen=True)
class ClientSettings:
    """What a botocore client must share with the pyarrow filesystem it stands in for."""

    endpoint: str | None
    region: str | None
    ca_file: str | None
    connect_timeout: float | None
    read_timeout: float | None


def client_settings(fs: pafs.S3FileSystem) -> ClientSettings | None:
    """The settings of a plain S3 filesystem, or None when it uses something a botocore
    client here would not mirror (anonymous, an assumed role, a proxy, keys in the URI)."""
    options = fs.__reduce__()[1][0]
    proxy = options.get("proxy_options") or {}
    if options.get("anonymous") or options.get("role_arn") or proxy.get("host"):
        return None
    if options.get("access_key") or options.get("force_virtual_addressing"):
        return None
    endpoint = options.get("endpoint_override") or None
    if endpoint and "://" not in endpoint:
        endpoint = f"{options.get('scheme') or 'https'}://{endpoint}"
    ca_file = options.get("tls_ca_file_path") or next(
        (path for path in SYSTEM_CA_FILES if os.path.isfile(path)), None
    )
    timeouts = [options.get(k) for k in ("connect_timeout", "request_timeout")]
    connect, read = (t if t is not None and t > 0 else None for t in timeouts)
    return ClientSettings(endpoint, fs.region or None, ca_file, connect, read)


def _client(settings: ClientSettings, fresh: bool = False):
    """One thread-safe botocore client per store, credentials and process: the cache key
    holds the credential variables, so keys changed in the environment take a new client."""
    key = (settings, tuple(os.environ.get(name) for name in CREDENTIAL_VARIABLES))
    with _lock:  # botocore's client creation is not thread-safe; its calls are
        if fresh or key not in _clients:
            _clients[key] = _new_client(settings)
        return _clients[key]


def _new_client(settings: ClientSettings):
    """Path-style addressing with a custom endpoint (as pyarrow), standard retries, and no
    proxy from the environment (pyarrow ignores HTTP(S)_PROXY too)."""
    import botocore.session
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard"},
        max_pool_connections=POOL_CONNECTIONS,
        s3={"addressing_style": "path" if settings.endpoint else "auto"},
        proxies={},
        connect_timeout=settings.connect_timeout or 60,
        read_timeout=settings.read_timeout or 60,
    )
    return botocore.session.get_session().create_client(
        "s3", endpoint_url=settings.endpoint, region_name=settings.region,
        verify=settings.ca_file, config=config,
    )  # fmt: skip


def _call(fs: pafs.S3FileSystem, operation: str, path: str, key_name: str = "Key", **extra):
    """``operation`` on ``bucket/key`` through the client (the key passed as ``key_name``:
    "Prefix" for a listing), once more with a fresh client if the store refused its
    credentials; None if the filesystem must be used through pyarrow. Errors raise OSError
    naming the store's error code (FileNotFoundError for a missing key)."""
    settings = client_settings(fs)
    if settings is None:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = path.partition("/")
    for attempt in (1, 2):
        try:
            call = getattr(_client(settings, fresh=attempt == 2), operation)
            return call(Bucket=bucket, **{key_name: key}, **extra)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in MISSING_CODES:
                raise FileNotFoundError(path) from None
            if code in CREDENTIAL_CODES and attempt == 1:
                continue
            raise OSError(f"AWS Error {code} during {operation} of {path}: {exc}") from None
        except BotoCoreError as exc:
            raise OSError(f"S3 {operation} of {path} failed: {exc}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def get_object(fs: pafs.S3FileSystem, path: str) -> bytes | None:
    """The bytes of ``bucket/key`` in one GET; FileNotFoundError if absent; None if this
    filesystem must be read through pyarrow instead."""
    answer = _call(fs, "get_object", path)
    return None if answer is None else answer["Body"].read()


def object_exists(fs: pafs.S3FileSystem, path: str) -> bool | None:
    """Whether ``bucket/key`` is an object, in one HEAD; None if this filesystem must be
    asked through pyarrow instead."""
    try:
        answer = _call(fs, "head_object", path)
    except FileNotFoundError:
        return False
    return None if answer is None else True


def delete_object(fs: pafs.S3FileSystem, path: str) -> bool:
    """Delete ``bucket/key`` in one request (an absent key is no error); False if this
    filesystem must be used through pyarrow instead."""
    return _call(fs, "delete_object", path) is not None


def keys_between(
    fs: pafs.S3FileSystem, prefix: str, first: str, last: str, page_size: int = 1000
) -> list[str] | None:
    """The names under ``bucket/prefix/`` from ``first`` to ``last`` (inclusive, in key
    order), one request per ``page_size`` names: a listing that starts at ``first`` and stops past
    ``last``, so its cost follows the range asked, not what else the prefix holds. None if
    this filesystem must be used through pyarrow instead."""
    directory = prefix.rstrip("/") + "/"
    # a proper prefix of ``first`` sorts just before it: the listing starts at ``first``
    start = {"StartAfter": directory.partition("/")[2] + first[:-1]}
    names: list[str] = []
    while True:
        page = _call(fs, "list_objects_v2", directory, "Prefix", MaxKeys=page_size, **start)
        if page is None:
            return None
        found = [item["Key"].rsplit("/", 1)[-1] for item in page.get("Contents", [])]
        names += [name for name in found if first <= name <= last]
        if not page.get("IsTruncated") or not found or found[-1] > last:
            return names
        start = {"ContinuationToken": page["NextContinuationToken"]}
