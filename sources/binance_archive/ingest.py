"""Archive -> lake for one symbol and dataset over a date range.

Plans the files, skips days the ledger already holds, downloads the rest with
bounded concurrency, parses, and writes each day atomically. A file that fails
leaves its days exactly as they were; the other files carry on.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
import numpy as np

from liqbrief import progress
from sources.binance_archive.client import ArchiveClient, FetchedFile
from sources.binance_archive.layout import (
    ARCHIVE_DATASETS,
    ArchiveFile,
    check_archive_range,
    daily_files,
    plan_files,
)
from sources.binance_archive.parse import day_of, parse_archive_csv, sort_and_deduplicate
from sources.binance_archive.report import FileOutcome, IngestReport
from sources.binance_archive.snapshot_ingest import DATASET as SNAPSHOT_DATASET
from sources.binance_archive.snapshot_ingest import ingest_snapshots_async
from sources.errors import NotPublishedError, SourceError, UnknownSymbolError
from sources.retry_policy import RetryPolicy
from sources.venues.plan import BINANCE_REST_DAYS, is_rest, rest_days
from store.datasets import DATASETS
from store.lake import Lake
from store.ledger import LedgerEntry

VENUE = "binance"


def _store_file(lake: Lake, fetched: FetchedFile, wanted_days: tuple[date, ...]) -> int:
    """Parse a fetched CSV and replace each of its days in the lake; return rows written."""
    file = fetched.file
    ds = DATASETS[file.dataset.lake_name]
    table = parse_archive_csv(file.dataset.archive_name, ds.name, fetched.csv, file.label)
    if file.period == "daily":
        # A daily file is the unit of truth for its day, edge rows included.
        by_day = {file.days[0]: table}
    else:
        days = day_of(table, ds.time_column)
        by_day = {d: table.filter(days == np.datetime64(d.isoformat(), "D")) for d in wanted_days}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    written = 0
    for day, raw_part in by_day.items():
        part, dropped = sort_and_deduplicate(raw_part, ds.time_column)
        expected = ds.rows_per_day
        previous = lake.ledger_entry(ds, file.symbol, day)
        entry = LedgerEntry(
            venue=VENUE,
            dataset=ds.name,
            symbol=file.symbol,
            date=day.isoformat(),
            source_url=fetched.url,
            source_sha256=fetched.sha256,
            rows=part.num_rows,
            duplicates_dropped=dropped,
            missing_rows=max(0, expected - part.num_rows) if expected else 0,
            ingested_at=now,
            replaces=previous.source_url if is_rest(previous) else None,
        )
        lake.write_day(ds, day, part, entry)
        written += part.num_rows
    return written


def _not_published_status(file: ArchiveFile, today: date) -> str:
    """A 404 for a day that ended less than a day ago is expected ("pending"); older is missing."""
    return "pending" if file.days[-1] >= today - timedelta(days=1) else "missing"


async def _ingest_file(
    lake: Lake, client: ArchiveClient, file: ArchiveFile, today: date, gate: asyncio.Semaphore
) -> list[FileOutcome]:
    """Fetch and store one file while holding a slot of ``gate``; a monthly file the archive
    has not packed yet falls back to its daily files, each taking its own slot (the fallback
    holds none, so every request of the run stays under the one limit)."""
    try:
        async with gate:
            fetched = await client.fetch(file)
            rows = await asyncio.to_thread(_store_file, lake, fetched, file.days)
        return [FileOutcome(file.label, "ingested", len(file.days), rows)]
    except NotPublishedError as exc:
        if file.period == "monthly" and file.dataset.has_daily:
            # A month just ended may not be packed yet; its daily files usually are.
            fallback = daily_files(file.dataset, file.symbol, list(file.days))
            results = await asyncio.gather(
                *(_ingest_file(lake, client, f, today, gate) for f in fallback)
            )
            return [o for r in results for o in r]
        status = _not_published_status(file, today)
        return [_unstored(file, status, str(exc))]
    except SourceError as exc:
        return [_unstored(file, "failed", str(exc))]


def _unstored(file: ArchiveFile, status: str, error: str) -> FileOutcome:
    """A file that was not stored, with the lake days it should have supplied."""
    return FileOutcome(
        file.label, status, len(file.days), error=error,
        symbol=file.symbol, dataset=file.dataset.lake_name, dates=file.days,
    )  # fmt: skip


async def ingest_dataset_async(
    lake: Lake,
    client: ArchiveClient,
    symbol: str,
    dataset_name: str,
    start: date,
    end: date,
    *,
    concurrency: int = 8,
    today: date | None = None,
    force: bool = False,
) -> IngestReport:
    """Bring one dataset of one symbol up to date for [start, end]; with ``force``, fetch and
    replace every day of the range even if the lake holds it (a corrupt partition).
    liquidationSnapshot days are probed and merged as realised liquidations instead."""
    if ARCHIVE_DATASETS[dataset_name] is SNAPSHOT_DATASET:
        return await ingest_snapshots_async(
            lake, client, symbol, start, end, concurrency=concurrency, today=today, force=force
        )
    today = today or datetime.now(UTC).date()
    check_archive_range(start, end, today)
    archive_ds = ARCHIVE_DATASETS[dataset_name]
    ds = DATASETS[dataset_name]
    files = plan_files(archive_ds, symbol, start, end, today)
    wanted = [d for f in files for d in f.days]
    present = set() if force else lake.ingested_days(ds, symbol, wanted)
    # days held from Binance's REST edge wait for the archive, which replaces them
    edge = today - timedelta(days=BINANCE_REST_DAYS + 1)
    present -= rest_days(lake, ds, symbol, [d for d in present if d >= edge])
    report = IngestReport()
    todo = []
    for f in files:
        if set(f.days) <= present:
            report.outcomes.append(FileOutcome(f.label, "skipped", len(f.days)))
        else:
            todo.append(f)
    if todo:
        await (
            client.check_reachable()
        )  # once per client; a re-run with nothing to fetch asks nothing
    progress.report("total", len(todo))
    gate = asyncio.Semaphore(concurrency)

    async def counted(f: ArchiveFile) -> list[FileOutcome]:
        try:
            return await _ingest_file(lake, client, f, today, gate)
        finally:
            progress.report("advance", 1)  # one step per planned file, fallbacks included

    for outcomes in await asyncio.gather(*(counted(f) for f in todo)):
        report.outcomes.extend(outcomes)
    return report


def ingest(
    lake: Lake,
    base_url: str,
    symbols: list[str],
    datasets: list[str],
    start: date,
    end: date,
    *,
    concurrency: int = 8,
    retry: RetryPolicy | None = None,
    timeout_s: float = 60.0,
    today: date | None = None,
    force: bool = False,
) -> IngestReport:
    """Synchronous entry point: every symbol × dataset, one HTTP connection pool. An absurd
    range (before the archive starts, after yesterday, end before start) is refused first."""
    check_archive_range(start, end, today or datetime.now(UTC).date())

    async def run() -> IngestReport:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as http:
            client = ArchiveClient(base_url, http, retry)
            report = IngestReport()
            for symbol in symbols:
                symbol_report = IngestReport()
                for name in datasets:
                    dataset_report = await ingest_dataset_async(
                        lake, client, symbol, name, start, end,
                        concurrency=concurrency, today=today, force=force,
                    )  # fmt: skip
                    symbol_report.extend(dataset_report)
                _raise_if_unknown(symbol, symbol_report)
                report.extend(symbol_report)
            return report

    return asyncio.run(run())


def _raise_if_unknown(symbol: str, report: IngestReport) -> None:
    """Every file of a symbol 404'd and none was stored before: the symbol is not in the archive
    (days of a dataset the archive may lack, "absent", say nothing about the symbol)."""
    statuses = {o.status for o in report.outcomes} - {"absent"}
    if statuses and statuses <= {"missing"}:
        raise UnknownSymbolError(
            f"no archive file exists for {symbol} in the requested range: check the symbol "
            "(USDⓈ-M futures tickers look like BTCUSDT) and the dates"
        )
