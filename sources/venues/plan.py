"""Which days a venue fetch must (re)do. A day is left alone when the lake holds it from a
fetch made after the day had ended (all the venue could give); Binance days the archive
holds are never fetched over REST: the archive fills them, and replaces REST days when it
publishes them (sources/binance_archive/ingest.py asks ``rest_days``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from store.datasets import Dataset
from store.lake import Lake
from store.ledger import LedgerEntry

REST_SOURCE_PREFIX = "rest:"
# Binance REST fills only the archive's edge: days from this many days ago to today (its
# open interest reaches 30 days back; the archive publishes a day within hours)
BINANCE_REST_DAYS = 30


def rest_source(venue: str, endpoint: str) -> str:
    """The ledger's source_url of a REST-fetched day, e.g. "rest:bybit:/v5/market/kline"."""
    return f"{REST_SOURCE_PREFIX}{venue}:{endpoint}"


def is_rest(entry: LedgerEntry | None) -> bool:
    return entry is not None and entry.source_url.startswith(REST_SOURCE_PREFIX)


def rest_days(lake: Lake, ds: Dataset, symbol: str, days: Iterable[date]) -> set[date]:
    """The days among ``days`` the lake holds from a venue's REST API (not the archive)."""
    held = lake.ingested_days(ds, symbol, days)
    return {d for d in held if is_rest(lake.ledger_entry(ds, symbol, d))}


def fetched_after_day_end(entry: LedgerEntry, day: date) -> bool:
    ingested = datetime.fromisoformat(entry.ingested_at)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    return ingested >= end


def days_to_fetch(
    lake: Lake, ds: Dataset, symbol: str, days: list[date], *, force: bool = False
) -> list[date]:
    """The days of ``days`` to fetch: not held, held from a fetch while the day was still
    running, or (``force``) every REST day. Archive-held Binance days are never fetched."""
    held = lake.ingested_days(ds, symbol, days)
    todo = []
    for day in days:
        if day not in held:
            todo.append(day)
            continue
        entry = lake.ledger_entry(ds, symbol, day)
        if is_rest(entry) and (force or not fetched_after_day_end(entry, day)):
            todo.append(day)
    return todo


def contiguous_runs(days: list[date], max_days: int = 10**6) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days, each at most ``max_days`` long."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day and (day - runs[-1][0]).days < max_days:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
