"""A process-wide hook through which long jobs report progress to whoever shows it.

Flows cannot take a callback as a parameter (Prefect stores parameters as
JSON), so the CLI installs a reporter here and the ingest code calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

# reporter(event, amount): "total" adds to the expected count, "advance" marks work done.
Reporter = Callable[[str, int], None]
_reporter: Reporter | None = None


def report(event: str, amount: int = 1) -> None:
    if _reporter is not None:
        _reporter(event, amount)


@contextmanager
def reporting_to(reporter: Reporter | None) -> Iterator[None]:
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous


@contextmanager
def silenced() -> Iterator[None]:
    """No progress reported inside (e.g. a backfill's extract: its bar counts days, not files)."""
    with reporting_to(None):
        yield
