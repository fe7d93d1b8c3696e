"""Domain errors of the sources, each saying what happened and what to do about it."""

from __future__ import annotations


class SourceError(Exception):
    """A source file could not be turned into lake rows; the lake was left as it was."""


class NotPublishedError(SourceError):
    """The archive answered 404: the day is not published yet, or never existed."""


class DownloadError(SourceError):
    """The server kept failing (5xx, timeouts, resets) after every retry."""


class ChecksumMismatchError(SourceError):
    """The downloaded bytes do not hash to the archive's published checksum."""


class CorruptArchiveError(SourceError):
    """The zip is truncated or damaged, or holds something other than the expected CSV."""


class UnexpectedColumnsError(SourceError):
    """The CSV's columns are not the ones this dataset is known to have."""


class UnknownSymbolError(SourceError):
    """The archive has no file at all for this symbol in the requested range."""


class ArchiveUnreachableError(SourceError):
    """Nothing answers at the archive's base URL (network down, wrong URL)."""


class ArchiveRangeError(SourceError, ValueError):
    """A date range the archive cannot hold (before it starts, after yesterday, reversed)."""
