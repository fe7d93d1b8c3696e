"""The archive's liquidationSnapshot daily files -> realised liquidations, probed day by day.

Binance published one file per symbol and day (one row per liquidation order, with prices)
until 2024-03-31, then withdrew them (binance/binance-public-data #337, #361: "this data is
no longer provided"; #420: removed from the listing and the server). So a range is *probed*:
each day is fetched through the same client as every archive file (checksum, unzip), read by
the stream's own extractor (``binance_liquidation``) and merged with ``merge_realised``
(de-duplicated on ``liq_id``, so a re-run or a file listing every row twice adds nothing);
a day found also gets a whole-day coverage row (source "archive").

A 404 is *absent*, never a failure of the run. The absence is recorded with when it was seen
(store/archive_probes.py): a re-run does not ask again for RECHECK_ABSENT_AFTER, then does, so
a later publication is still picked up (``force`` re-asks at once). A 404 for yesterday is
"pending" and not recorded. Like the stream, the files hold at most the latest liquidation
per symbol per second: a lower bound.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from liqbrief import progress
from liqbrief.symbols import validate_symbol
from sources.binance_archive.client import ArchiveClient, FetchedFile
from sources.binance_archive.layout import (
    ARCHIVE_DATASETS,
    ArchiveFile,
    check_archive_range,
    daily_files,
)
from sources.binance_archive.parse import parse_liquidation_snapshot
from sources.binance_archive.report import FileOutcome, IngestReport
from sources.errors import NotPublishedError, SourceError
from sources.liquidation_streams.model import liquidations_frame
from store.archive_probes import read_absences, write_absences
from store.lake import Lake, days_between
from store.realised import merge_coverage, merge_realised, read_coverage

VENUE = "binance"
SOURCE = "archive"
DATASET = ARCHIVE_DATASETS["liquidation_snapshot"]
LAST_PUBLISHED = date(2024, 3, 31)  # the last day Binance published (binance-public-data #337)
RECHECK_ABSENT_AFTER = timedelta(days=30)
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class SnapshotCoverage:
    """What the lake holds from liquidationSnapshot files for a symbol over [start, end]."""

    symbol: str
    start: date
    end: date
    found: list[date]  # days stored from the archive (whole-day coverage rows)
    absent: list[date]  # days the archive answered 404 for

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def line(self) -> str:
        """One line for the terminal and the flow log."""
        head = f"liquidationSnapshot {self.symbol} {self.start}..{self.end}: "
        found = f"found {len(self.found)} of {self.days} day(s)"
        if self.found:
            found += f" (first {self.found[0]}, last {self.found[-1]})"
        unknown = self.days - len(self.found) - len(self.absent)
        parts = [found, f"not in the archive: {len(self.absent)}"]
        if unknown:
            parts.append(f"not known yet (failed or not published yet): {unknown}")
        text = head + "; ".join(parts)
        if not self.found:
            text += (
                f" — Binance published these files only until {LAST_PUBLISHED} and has withdrawn"
                " them (binance-public-data #361); record the stream instead (`liqbrief record`)"
            )
        return text


def archive_days(lake: Lake, symbol: str, start: date, end: date) -> set[date]:
    """The days of [start, end] a liquidationSnapshot file was stored for."""
    coverage = read_coverage(lake, VENUE, symbol, start, end)
    whole = coverage[(coverage["source"] == SOURCE) & (coverage["end"] - coverage["start"] == DAY)]
    return {t.date() for t in whole["start"]}


def snapshot_coverage(lake: Lake, symbol: str, start: date, end: date) -> SnapshotCoverage:
    found = archive_days(lake, symbol, start, end)
    recorded = read_absences(lake, VENUE, DATASET.lake_name, symbol)
    absent = [d for d in recorded if start <= d <= end and d not in found]
    return SnapshotCoverage(symbol, start, end, sorted(found), sorted(absent))


def _store_snapshot(lake: Lake, fetched: FetchedFile, force: bool = False) -> int:
    """Merge one fetched file's liquidations and cover its day; return the rows added. With
    ``force`` the day's archive rows are replaced (a republished file; a corrupt stored file
    is set aside), the recorded stream's rows stay."""
    file = fetched.file
    items = parse_liquidation_snapshot(fetched.csv, file.symbol, file.label)
    frame = liquidations_frame(items, None, SOURCE)
    replace = SOURCE if force else None
    added = merge_realised(lake, VENUE, file.symbol, frame, fetched.url, replace, file.days)
    start = pd.Timestamp(file.days[0].isoformat(), tz="UTC")
    covered = pd.DataFrame({"start": [start], "end": [start + DAY], "source": [SOURCE]})
    merge_coverage(lake, VENUE, file.symbol, covered, replace)  # after the rows: a crash re-fetches
    return sum(added.values())


async def _probe_file(
    lake: Lake, client: ArchiveClient, file: ArchiveFile, today: date,
    gate: asyncio.Semaphore, writer: asyncio.Lock, force: bool = False,
) -> FileOutcome:  # fmt: skip
    """Fetch and store one day while holding a slot of ``gate``; writes go one at a time
    (a day's partition is read, merged and replaced)."""
    try:
        async with gate:
            fetched = await client.fetch(file)
        async with writer:
            rows = await asyncio.to_thread(_store_snapshot, lake, fetched, force)
        return FileOutcome(file.label, "ingested", 1, rows)
    except NotPublishedError:
        if file.days[0] >= today - timedelta(days=1):
            return FileOutcome(file.label, "pending", 1, error=f"{file.label}: not published yet")
        return FileOutcome(file.label, "absent", 1, error=f"{file.label}: not in the archive")
    except SourceError as exc:
        return FileOutcome(file.label, "failed", 1, error=str(exc))
    finally:
        progress.report("advance", 1)


def _plan(
    lake: Lake, symbol: str, days: list[date], now: datetime, force: bool
) -> tuple[IngestReport, list[date]]:
    """Outcomes for the days already known (stored, or recently absent) and the days to ask."""
    report = IngestReport()
    if force:
        return report, days
    stored = archive_days(lake, symbol, days[0], days[-1])
    absences = read_absences(lake, VENUE, DATASET.lake_name, symbol)
    todo: list[date] = []
    for day in days:
        label = f"{symbol} {DATASET.lake_name} {day}"
        if day in stored:
            report.outcomes.append(FileOutcome(label, "skipped", 1))
        elif day in absences and now - absences[day] < RECHECK_ABSENT_AFTER:
            seen = f"{label}: not in the archive (404 on {absences[day]:%Y-%m-%d})"
            report.outcomes.append(FileOutcome(label, "absent", 1, error=seen))
        else:
            todo.append(day)
    return report, todo


def _record_answers(
    lake: Lake, symbol: str, files: list[ArchiveFile], outcomes: list[FileOutcome], now: datetime
) -> None:
    """Remember the days that answered 404 (and forget the ones found, failed or pending
    since: a day that failed is not known to be absent)."""
    absences = read_absences(lake, VENUE, DATASET.lake_name, symbol)
    before = dict(absences)
    for file, outcome in zip(files, outcomes, strict=True):
        if outcome.status == "absent":
            absences[file.days[0]] = now
        else:
            absences.pop(file.days[0], None)
    if absences != before:
        write_absences(lake, VENUE, DATASET.lake_name, symbol, absences)


async def ingest_snapshots_async(
    lake: Lake,
    client: ArchiveClient,
    symbol: str,
    start: date,
    end: date,
    *,
    concurrency: int = 8,
    today: date | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> IngestReport:
    """Probe every day of [start, end] for a liquidationSnapshot file and store what exists;
    with ``force``, ask again for every day (stored or recorded absent)."""
    now = now or datetime.now(UTC)
    today = today or now.date()
    check_archive_range(start, end, today)
    validate_symbol(symbol)
    report, todo = _plan(lake, symbol, days_between(start, end), now, force)
    files = daily_files(DATASET, symbol, todo)
    if files:
        await client.check_reachable()
    progress.report("total", len(files))
    gate, writer = asyncio.Semaphore(concurrency), asyncio.Lock()
    outcomes = list(
        await asyncio.gather(
            *(_probe_file(lake, client, f, today, gate, writer, force) for f in files)
        )
    )
    _record_answers(lake, symbol, files, outcomes, now)
    report.outcomes.extend(outcomes)
    return report
