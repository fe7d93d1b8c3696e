"""Venue REST → lake for one venue and symbol over a date range: plan the days (plan.py),
page each series over the contiguous runs of days to fetch (fetchers.py), and write one
partition per UTC day through Lake.write_day, the ledger naming the REST endpoint
("rest:<venue>:<path>") and the bars still missing. Every gap left after paging is a
coverage warning; a series that keeps failing leaves its days as they were."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sources.retry_policy import RetryPolicy
from sources.venues.calls import VenueRequestError
from sources.venues.depth import DEPTH_HINTS
from sources.venues.exchanges import open_exchange
from sources.venues.fetchers import DATASET_NAMES, SERIES, FetchContext, Series
from sources.venues.plan import BINANCE_REST_DAYS, contiguous_runs, days_to_fetch, rest_source
from sources.venues.report import VenueReport
from sources.venues.tables import (
    DAY_MS,
    closed_rows,
    deduplicated,
    split_by_day,
    to_table,
    with_funding_intervals,
)
from store.datasets import Dataset, market_dataset
from store.lake import Lake, days_between
from store.ledger import LedgerEntry

CHUNK_DAYS = 31  # days paged and stored together: memory bounded, a crash keeps the rest
PUBLISH_LAG_MS = 10 * 60_000  # venues publish a 5-minute OI point some minutes after its time


def _ms(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)


async def page_range(
    ctx: FetchContext, series: Series, start: int, end: int
) -> list[dict[str, Any]]:
    """Every row of [start, end), one page at a time, each page no wider than the venue
    serves in one reply (so no page can be cut short by its row limit)."""
    width = series.step_ms * series.page_bars
    rows: list[dict[str, Any]] = []
    since = start
    while since < end:
        until = min(since + width, end)
        page = await series.fetch(ctx, since, until)
        rows.extend(r for r in page if since <= row_time(r) < until)
        since = until
    return rows


def row_time(row: dict[str, Any]) -> int:
    """A fetched row's time (ms): its bar's open, its OI stamp or its funding time."""
    return row.get("open_time", row.get("create_time", row.get("calc_time")))


def expected_bars(ds: Dataset, day: date, now_ms: int) -> int:
    """Bars of ``day`` a venue must have published by ``now_ms``: those stamped (klines:
    closed) more than PUBLISH_LAG_MS before now, so a bar just due is no gap yet."""
    if ds.bar_seconds is None:
        return 0
    step = ds.bar_seconds * 1000
    due = now_ms - PUBLISH_LAG_MS + (0 if ds.time_column == "open_time" else step)
    end = min(_ms(day) + DAY_MS, due)
    return max(0, (end - _ms(day)) // step)


def _gap_warning(
    venue: str, ds: Dataset, symbol: str, day: date, missing: int, expected: int
) -> str:
    hint = DEPTH_HINTS.get((venue, ds.name))
    return (
        f"{venue} {ds.name} {symbol} {day}: {missing} of {expected} bars missing after paging"
        + (f" ({hint})" if hint else "")
    )


def store_days(
    lake: Lake, venue: str, series: Series, ds: Dataset, symbol: str,
    days: list[date], rows: list[dict[str, Any]], now_ms: int, report: VenueReport,
) -> None:  # fmt: skip
    """Write each of ``days`` that got rows; warn for every bar or day still missing."""
    closed = closed_rows(ds, rows, now_ms)
    if ds.name == "funding_rate":  # intervals from the gaps across the whole fetch
        closed = with_funding_intervals(deduplicated(ds, closed)[0])
    by_day = split_by_day(ds, closed)
    ingested_at = datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="seconds")
    for day in days:
        day_rows, dropped = deduplicated(ds, by_day.get(day, []))
        expected = expected_bars(ds, day, now_ms)
        missing = max(0, expected - len(day_rows))
        if missing:
            report.warnings.append(_gap_warning(venue, ds, symbol, day, missing, expected))
        no_ratio = sum(1 for r in day_rows if math.isnan(r.get("count_long_short_ratio", 0.0)))
        if no_ratio:
            report.warnings.append(
                f"{venue} {ds.name} {symbol} {day}: {no_ratio} open-interest bars without the "
                "long/short account ratio"
            )
        ended = _ms(day) + DAY_MS <= now_ms
        if not day_rows:
            if ds.bar_seconds is None and ended:
                report.warnings.append(f"{venue} {ds.name} {symbol} {day}: no rows served")
            if not ended:
                continue  # asked again next run
            # an ended day the venue has nothing for (OKX OI beyond its depth) is recorded
            # empty, its gap in the ledger: a re-run does not ask again (--force does)
        entry = LedgerEntry(
            venue=venue, dataset=ds.name, symbol=symbol, date=day.isoformat(),
            source_url=rest_source(venue, series.endpoint), source_sha256="",
            rows=len(day_rows), duplicates_dropped=dropped,
            missing_rows=missing, ingested_at=ingested_at,
        )  # fmt: skip
        lake.write_day(ds, day, to_table(ds, day_rows), entry)
        report.rows[ds.name] = report.rows.get(ds.name, 0) + len(day_rows)
        report.days_stored += 1


async def ingest_venue_async(
    lake: Lake, venue: str, base_url: str, symbol: str, start: date, end: date, *,
    datasets: tuple[str, ...] = DATASET_NAMES, now: datetime | None = None,
    policy: RetryPolicy | None = None, force: bool = False,
) -> VenueReport:  # fmt: skip
    """Bring ``venue``'s datasets of ``symbol`` up to date for [start, end] (days after now
    are ignored). The exchange is opened only when some day needs fetching, so a re-run
    with nothing to do asks the venue nothing."""
    now = now or datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    report = VenueReport(venue, symbol)
    days = [d for d in days_between(start, end) if d <= now.date()]
    if venue == "binance":  # the archive's edge only: older days are the archive's
        days = [d for d in days if d >= now.date() - timedelta(days=BINANCE_REST_DAYS)]
    plans = {}
    for name in datasets:
        ds = market_dataset(venue, name)
        todo = days_to_fetch(lake, ds, symbol, days, force=force)
        report.days_skipped += len(days) - len(todo)
        if todo:
            plans[name] = (ds, todo)
    if not plans:
        return report
    ctx = FetchContext(open_exchange(venue, base_url), venue, symbol, policy or RetryPolicy())
    try:
        for name, (ds, todo) in plans.items():
            series = SERIES[venue][name]
            for first, last in contiguous_runs(todo, CHUNK_DAYS):
                run = days_between(first, last)
                try:
                    rows = await page_range(
                        ctx, series, _ms(first), min(_ms(last) + DAY_MS, now_ms)
                    )
                except VenueRequestError as exc:
                    report.failures.append(f"{name} {first}..{last}: {exc}")
                    continue
                await asyncio.to_thread(
                    store_days, lake, venue, series, ds, symbol, run, rows, now_ms, report
                )
    finally:
        await ctx.exchange.close()
    report.warnings.extend(sorted(ctx.notes))
    return report


def ingest_venues(
    lake: Lake, base_urls: dict[str, str], symbols: list[str], start: date, end: date, *,
    now: datetime | None = None, policy: RetryPolicy | None = None, force: bool = False,
    datasets: tuple[str, ...] = DATASET_NAMES,
) -> list[VenueReport]:  # fmt: skip
    """Synchronous entry point: every venue of ``base_urls`` concurrently (each has its own
    rate limiter), symbols one after another within a venue."""

    async def one_venue(venue: str) -> list[VenueReport]:
        return [
            await ingest_venue_async(
                lake,
                venue,
                base_urls[venue],
                symbol,
                start,
                end,
                datasets=datasets,
                now=now,
                policy=policy,
                force=force,
            )
            for symbol in symbols
        ]

    async def run() -> list[VenueReport]:
        results = await asyncio.gather(*(one_venue(v) for v in base_urls))
        return [r for venue_reports in results for r in venue_reports]

    return asyncio.run(run())
