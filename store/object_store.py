"""Object-store roots (``s3://bucket/prefix``): recognising them, and checking once at
start that the bucket exists and the credentials are accepted, so a run fails with one line
before any work instead of a traceback from its first write.

pyarrow's S3FileSystem reads the standard AWS settings (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION), so MinIO, Ceph, R2 and AWS all work.
It does not read AWS_CA_BUNDLE (the standard setting for a store whose certificate a private
CA signs), so that one is passed to it here, as its ``tls_ca_file_path``.
"""

from __future__ import annotations

import gc
import os
import sys
from urllib.parse import parse_qsl, urlencode

import pyarrow.fs as pafs

from store.s3_requests import delete_object, get_object, object_exists

OBJECT_SCHEMES = ("s3",)  # object stores the reports directory may name
_MISSING = ("RESOURCE_NOT_FOUND", "NO_SUCH_KEY", "NoSuchKey")
_REFUSED = ("ACCESS_DENIED", "INVALID_ACCESS_KEY", "SIGNATURE_DOES_NOT_MATCH", "FORBIDDEN")
_REFUSED_CODES = ("AWS Error [code 15]", "AWS Error [code 24]", "HTTP status 403")
_UNTRUSTED = ("curlCode: 60", "SSL certificate", "certificate verify failed")
CA_BUNDLE = "AWS_CA_BUNDLE"


class ObjectStoreError(RuntimeError):
    """The object store named by a setting cannot be used (no bucket, refused, unreachable)."""


def is_uri(root: str) -> bool:
    """A ``scheme://`` root (any pyarrow filesystem), as opposed to a local path."""
    return "://" in str(root)


def filesystem_from_uri(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of a URI and the path in it. On S3 an object is opened
    lazily (``allow_delayed_open``), so a small object is one PutObject instead of a
    three-request multipart upload; either way it appears only when complete. AWS_CA_BUNDLE
    (when set and the URI names no ``tls_ca_file_path``) is the CA file both pyarrow and
    the botocore reads (store/s3_requests.py) trust."""
    if not uri.lower().startswith("s3://"):
        return pafs.FileSystem.from_uri(uri)
    base, _, query = uri.partition("?")
    options = {"allow_delayed_open": "true"}
    if os.environ.get(CA_BUNDLE):
        options["tls_ca_file_path"] = os.environ[CA_BUNDLE]
    options |= dict(parse_qsl(query, keep_blank_values=True))  # the URI's own options win
    return pafs.FileSystem.from_uri(f"{base}?{urlencode(options)}")


def ca_bundle_problem() -> str | None:
    """What is wrong with AWS_CA_BUNDLE (set but not a readable file), or None."""
    path = os.environ.get(CA_BUNDLE)
    if path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
        return (
            f"{CA_BUNDLE}={path!r} is not a readable file; point it at the PEM file of the CA "
            "that signs the store's certificate, or unset it to trust the system's CAs"
        )
    return None


def read_whole(fs: pafs.FileSystem, path: str) -> bytes:
    """A file's bytes; FileNotFoundError when it is absent (a lazily opened object reports
    a missing key only when read, as an OSError naming the AWS error). On S3 one GET, not
    pyarrow's HEAD and GET (store/s3_requests.py)."""
    if isinstance(fs, pafs.S3FileSystem):
        raw = get_object(fs, path)
        if raw is not None:
            return raw
    try:
        with fs.open_input_stream(path) as f:
            return f.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        if any(code in str(exc) for code in _MISSING):
            raise FileNotFoundError(path) from None
        raise


def is_file(fs: pafs.FileSystem, path: str) -> bool:
    """Whether ``path`` is a file; on S3 one HEAD (pyarrow follows a missing key's HEAD
    with a listing, asking whether it is a "directory")."""
    if isinstance(fs, pafs.S3FileSystem):
        found = object_exists(fs, path)
        if found is not None:
            return found
    return fs.get_file_info(path).type == pafs.FileType.File


def delete_whole(fs: pafs.FileSystem, path: str) -> None:
    """Delete a file; FileNotFoundError when it is absent, except on S3, where one
    DeleteObject removes it if present (no HEAD before it, no directory marker after)."""
    if isinstance(fs, pafs.S3FileSystem) and delete_object(fs, path):
        return
    fs.delete_file(path)


def is_local_filesystem(fs: pafs.FileSystem) -> bool:
    return isinstance(fs, pafs.LocalFileSystem)


def bucket_of(uri: str) -> str:
    """The bucket of ``s3://bucket/prefix`` ("" if the URI names none)."""
    return uri.split("://", 1)[1].split("?", 1)[0].split("/", 1)[0]


def uri_problem(uri: str) -> str | None:
    """What is wrong with an object-store URI's form, or None (no network)."""
    scheme = uri.split("://", 1)[0].lower()
    if scheme not in OBJECT_SCHEMES:
        return "use a local directory or an s3://bucket/prefix URI"
    if not bucket_of(uri) or any(c.isspace() for c in uri):
        return "names no bucket; use s3://bucket/prefix"
    return ca_bundle_problem()


def require_reachable(name: str, uri: str) -> None:
    """Raise ObjectStoreError (one line: which setting, what is wrong, what to do) unless
    the bucket of ``uri`` exists and the store accepts the credentials (one HEAD request)."""
    where = os.environ.get("AWS_ENDPOINT_URL", "AWS's default endpoint")
    bucket = bucket_of(uri)
    try:
        fs, _ = filesystem_from_uri(uri)
        found = fs.get_file_info(bucket)
    except (OSError, ValueError) as exc:
        text = str(exc)
        if any(code in text for code in _REFUSED + _REFUSED_CODES):
            raise ObjectStoreError(
                f"{name}={uri!r}: the store at {where} refused the credentials "
                "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); set ones that may read and write "
                f"bucket {bucket!r}"
            ) from None
        if any(sign in text for sign in _UNTRUSTED):
            raise ObjectStoreError(
                f"{name}={uri!r}: the store at {where} shows a TLS certificate no trusted CA "
                f"signs; set {CA_BUNDLE} to the PEM file of the CA that signs it"
            ) from None
        raise ObjectStoreError(
            f"{name}={uri!r}: cannot reach the store at {where} ({text.splitlines()[0]}); "
            "check AWS_ENDPOINT_URL and the network"
        ) from None
    if found.type == pafs.FileType.NotFound:
        raise ObjectStoreError(
            f"{name}={uri!r}: bucket {bucket!r} does not exist at {where}; create it or point "
            f"{name} at an existing bucket"
        )


def release_object_stores() -> None:
    """Shut pyarrow's S3 client down while the interpreter is still whole. Left to the
    interpreter's exit, the AWS SDK was seen (rarely, on a loaded machine) to abort the
    process after its work was done ("terminate called without an active exception",
    exit -6); every write is closed by then, so finishing early loses nothing."""
    if "pyarrow._s3fs" not in sys.modules:
        return
    gc.collect()  # filesystems held only by reference cycles go first
    pafs.ensure_s3_finalized()
