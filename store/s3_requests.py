"""Whole-object reads and deletes on S3 in one request each.

pyarrow's S3FileSystem opens every object with a HEAD (for its size) before the GET, so each
small record or day file costs two round trips; a lake read is mostly such objects (bench/
scale.py counted a HEAD beside every GET). Its delete_file asks a HEAD first too and, when the
"directory" empties, writes a marker object for it. botocore's GetObject answers with the
bytes or NoSuchKey in one request, DeleteObject deletes (absent or not) in one. The client is configured from the same pyarrow filesystem (its endpoint,
region, TLS CA file) and takes credentials from the same standard AWS chain (AWS_* variables,
profile, instance role), so both clients talk to the same store as the same user. A
filesystem set up in ways this does not mirror (anonymous, an assumed role, a proxy) keeps
pyarrow's own read.
"""

from __future__ import annotations

import threading
from functools import cache

import pyarrow.fs as pafs

MISSING_CODES = ("NoSuchKey", "404", "NotFound")
# Lake.each runs up to 16 requests at once, and its work can nest once (a briefing's symbols,
# each reading a unit's files): 16 x 16 in flight. A smaller pool drops connections with a
# warning per request ("Connection pool is full").
POOL_CONNECTIONS = 256
_lock = threading.Lock()


def client_settings(fs: pafs.S3FileSystem) -> tuple | None:
    """(endpoint URL or None, region, CA file or None) of a plain S3 filesystem, or None when
    it uses something a botocore client here would not mirror."""
    options = fs.__reduce__()[1][0]
    proxy = options.get("proxy_options") or {}
    if options.get("anonymous") or options.get("role_arn") or proxy.get("host"):
        return None
    if options.get("access_key") or options.get("force_virtual_addressing"):
        return None  # credentials given in the URI, or an addressing style not mirrored
    endpoint = options.get("endpoint_override") or None
    if endpoint and "://" not in endpoint:
        endpoint = f"{options.get('scheme') or 'https'}://{endpoint}"
    return endpoint, fs.region or None, options.get("tls_ca_file_path") or None


@cache
def _client(endpoint: str | None, region: str | None, ca_file: str | None):
    """One thread-safe botocore client per store and process (path-style addressing with a
    custom endpoint, as pyarrow uses; standard retries)."""
    import botocore.session
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard"},
        max_pool_connections=POOL_CONNECTIONS,
        s3={"addressing_style": "path" if endpoint else "auto"},
    )
    session = botocore.session.get_session()
    return session.create_client(
        "s3", endpoint_url=endpoint, region_name=region, verify=ca_file, config=config
    )


def get_object(fs: pafs.S3FileSystem, path: str) -> bytes | None:
    """The bytes of ``bucket/key`` in one GET; FileNotFoundError if absent; None if this
    filesystem must be read through pyarrow instead. Other failures raise OSError with the
    store's error code in the message, as pyarrow's do."""
    settings = client_settings(fs)
    if settings is None:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = path.partition("/")
    with _lock:  # botocore's client creation is not thread-safe; its calls are
        client = _client(*settings)
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in MISSING_CODES:
            raise FileNotFoundError(path) from None
        raise OSError(f"AWS Error {code} during GetObject of {path}: {exc}") from None
    except BotoCoreError as exc:
        raise OSError(f"S3 GetObject of {path} failed: {exc}") from None


def delete_object(fs: pafs.S3FileSystem, path: str) -> bool:
    """Delete ``bucket/key`` in one request (an absent key is no error); False if this
    filesystem must be used through pyarrow instead."""
    settings = client_settings(fs)
    if settings is None:
        return False
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = path.partition("/")
    with _lock:
        client = _client(*settings)
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        raise OSError(f"S3 DeleteObject of {path} failed: {exc}") from None
    return True
