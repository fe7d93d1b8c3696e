#!/usr/bin/env python
"""Benchmark: probing 30 months of liquidationSnapshot days for one symbol, then a re-run.

A loopback mirror in the archive's layout serves files only for 2023-07-01..2024-03-31 (the
real files stop on 2024-03-31), each listing every row twice as the real ones do; every other
day answers 404. The run probes 2022-01-01..2024-06-30 through the real code path (HTTP,
checksum, unzip, the stream's extractor per row, merge_realised, coverage, absence record).

Targets (2-core machine, none set by the issue; these are ours): the cold probe <= 60 s;
the re-run <= 2 s with no HTTP request (stored and absent days are known).
Run: python bench/liquidation_snapshot.py [--events N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import date

import httpx

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import archive_entry, daily_file, liquidation_snapshot_csv
from sources.binance_archive.client import ArchiveClient
from sources.binance_archive.snapshot_ingest import ingest_snapshots_async, snapshot_coverage
from store.lake import Lake, days_between

START, END = date(2022, 1, 1), date(2024, 6, 30)
PUBLISHED = days_between(date(2023, 7, 1), date(2024, 3, 31))
TODAY = date(2026, 12, 1)


def run(lake: Lake, base_url: str, concurrency: int):
    async def go():
        async with httpx.AsyncClient(timeout=30) as http:
            client = ArchiveClient(base_url, http)
            return await ingest_snapshots_async(
                lake, client, "BTCUSDT", START, END, concurrency=concurrency, today=TODAY
            )

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="liquidations per day")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    t0 = time.perf_counter()
    files: dict[str, bytes] = {}
    for day in PUBLISHED:
        content = liquidation_snapshot_csv("BTCUSDT", day, events=args.events, doubled=True)
        files |= archive_entry(daily_file("liquidation_snapshot", "BTCUSDT", day), content)
    print(f"built {len(PUBLISHED)} files in {time.perf_counter() - t0:.1f} s (not timed)")
    with ArchiveMirror(files) as mirror, tempfile.TemporaryDirectory() as root:
        lake = Lake(root)
        t0 = time.perf_counter()
        report = run(lake, mirror.base_url, args.concurrency)
        cold = time.perf_counter() - t0
        assert not report.problems, report.problems[:3]
        lines = 2 * args.events * len(PUBLISHED)
        print(
            f"cold probe  : {cold:6.2f} s  {(END - START).days + 1} days probed, "
            f"{report.count('ingested')} found, {report.count('absent')} absent; "
            f"{lines:,} CSV lines -> {report.rows:,} liquidations ({lines / cold:,.0f} lines/s; "
            f"{len(mirror.requests)} HTTP requests)   target <= 60 s"
        )
        mirror.requests.clear()
        t0 = time.perf_counter()
        again = run(lake, mirror.base_url, args.concurrency)
        noop = time.perf_counter() - t0
        print(
            f"re-run      : {noop:6.2f} s  {again.count('skipped')} skipped, "
            f"{again.count('absent')} known absent, {len(mirror.requests)} HTTP requests"
            "   target <= 2 s, 0 requests"
        )
        print(snapshot_coverage(lake, "BTCUSDT", START, END).line())


if __name__ == "__main__":
    main()
