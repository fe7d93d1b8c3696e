"""Downloading one archive file: HTTP with retries, checksum check, unzip.

The HTTP client is injected (an ``httpx.AsyncClient``), so tests and offline
runs point it at a loopback mirror through the base URL alone.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass

import httpx
from tenacity import AsyncRetrying

from sources.binance_archive.layout import ArchiveFile
from sources.errors import (
    ArchiveUnreachableError,
    ChecksumMismatchError,
    CorruptArchiveError,
    DownloadError,
    NotPublishedError,
)
from sources.retry_policy import RetryPolicy


class _TransientHTTPError(Exception):
    """A 5xx or 429 answer: worth another try."""


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _TransientHTTPError | httpx.TransportError)


@dataclass(frozen=True)
class FetchedFile:
    file: ArchiveFile
    url: str
    sha256: str
    csv: bytes


class ArchiveClient:
    """Fetches verified CSV bytes for archive files from ``base_url``."""

    def __init__(
        self, base_url: str, http: httpx.AsyncClient, retry: RetryPolicy | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.retry = retry or RetryPolicy()
        self._reachable = False

    async def check_reachable(self) -> None:
        """One request to the base URL first: when nothing answers, say so once, instead of
        retrying every file of the range (any HTTP answer, even 404, means reachable)."""
        if self._reachable:
            return
        try:
            async for attempt in AsyncRetrying(**self.retry.tenacity_kwargs(_is_transient)):
                with attempt:
                    await self.http.get(self.base_url + "/")
            self._reachable = True
        except httpx.TransportError as exc:
            raise ArchiveUnreachableError(
                f"the archive at {self.base_url} does not answer ({type(exc).__name__}: {exc}); "
                "check the network, or point LIQBRIEF_BINANCE_ARCHIVE_URL at a mirror"
            ) from exc

    def url(self, file: ArchiveFile) -> str:
        return f"{self.base_url}/{file.path}"

    async def _get(self, url: str, label: str) -> bytes:
        async for attempt in AsyncRetrying(**self.retry.tenacity_kwargs(_is_transient)):
            with attempt:
                response = await self.http.get(url)
                if response.status_code == 404:
                    raise NotPublishedError(
                        f"{label}: not in the archive (404 for {url}); a recent day appears "
                        "some hours after it ends (UTC): retry later; an older one means the "
                        "archive lacks it: check the symbol and date"
                    )
                if response.status_code == 429 or response.status_code >= 500:
                    raise _TransientHTTPError(f"HTTP {response.status_code} for {url}")
                if response.status_code != 200:
                    raise DownloadError(f"{label}: HTTP {response.status_code} for {url}")
                return response.content
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_with_retries(self, url: str, label: str) -> bytes:
        try:
            return await self._get(url, label)
        except (_TransientHTTPError, httpx.TransportError) as exc:
            raise DownloadError(
                f"{label}: download failed after {self.retry.attempts} attempts "
                f"({type(exc).__name__}: {exc}); nothing was stored — re-run to try again"
            ) from exc

    async def fetch(self, file: ArchiveFile) -> FetchedFile:
        """Download, verify against the .CHECKSUM file, and unzip one archive file."""
        url = self.url(file)
        checksum_text = (await self.get_with_retries(url + ".CHECKSUM", file.label)).decode(
            "ascii", "replace"
        )
        expected = parse_checksum(checksum_text, file)
        body = await self.get_with_retries(url, file.label)
        actual = hashlib.sha256(body).hexdigest()
        if actual != expected:
            raise ChecksumMismatchError(
                f"{file.label}: checksum mismatch (expected {expected[:12]}…, got {actual[:12]}…); "
                "the file was not stored — re-run to fetch it again"
            )
        return FetchedFile(file, url, actual, unzip_single_csv(body, file))


def parse_checksum(text: str, file: ArchiveFile) -> str:
    """Read ``<sha256 hex>  <file name>`` and check that it names this file."""
    parts = text.split()
    if len(parts) != 2 or len(parts[0]) != 64 or parts[1] != file.file_name:
        raise CorruptArchiveError(
            f"{file.label}: malformed .CHECKSUM file {text[:120]!r}; expected "
            f"'<sha256>  {file.file_name}'"
        )
    try:
        int(parts[0], 16)
    except ValueError:
        raise CorruptArchiveError(f"{file.label}: .CHECKSUM is not hex: {parts[0]!r}") from None
    return parts[0].lower()


def unzip_single_csv(body: bytes, file: ArchiveFile) -> bytes:
    """The one CSV inside an archive zip; corrupt or truncated zips raise CorruptArchiveError."""
    expected_name = file.file_name.removesuffix(".zip") + ".csv"
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            names = archive.namelist()
            if names != [expected_name]:
                raise CorruptArchiveError(
                    f"{file.label}: zip holds {names}, expected exactly [{expected_name!r}]"
                )
            return archive.read(expected_name)  # verifies the CRC
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError) as exc:
        raise CorruptArchiveError(
            f"{file.label}: corrupt or truncated zip ({exc}); nothing was stored — "
            "re-run to fetch it again"
        ) from exc
