#!/usr/bin/env python
"""Benchmark: a year of daily archive files for one symbol into an empty lake, then a re-run.

Serves metrics, 5m klines and 1m mark-price klines for 2024 (366 days, daily files only)
from a loopback mirror in the archive's layout and ingests them through the real code
path (HTTP, checksum, unzip, parse, atomic Parquet writes, ledger).

Targets (2-core machine): the year <= 60 s; the no-op re-run <= 2 s.
Run: python bench/extract.py [--days N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from store.lake import Lake

DATASETS = ["metrics", "klines_5m", "mark_klines_1m"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=366)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    start = date(2024, 1, 1)
    end = start + timedelta(days=args.days - 1)
    today = date(2025, 6, 1)

    t0 = time.perf_counter()
    files = build_archive(["BTCUSDT"], DATASETS, start, end, monthly=False)
    print(f"built {len(files) // 2} archive files in {time.perf_counter() - t0:.1f} s (not timed)")

    with ArchiveMirror(files) as mirror, tempfile.TemporaryDirectory() as root:
        lake = Lake(root)
        t0 = time.perf_counter()
        report = ingest(
            lake, mirror.base_url, ["BTCUSDT"], DATASETS, start, end,
            concurrency=args.concurrency, today=today,
        )  # fmt: skip
        cold = time.perf_counter() - t0
        stored = report.count("ingested")
        assert not report.problems, report.problems[:3]
        print(
            f"cold ingest : {cold:6.2f} s  {stored} files  {stored / cold:7.1f} files/s  "
            f"{report.rows:,} rows  {report.rows / cold:,.0f} rows/s  "
            f"({len(mirror.requests)} HTTP requests)   target <= 60 s"
        )
        mirror.requests.clear()
        t0 = time.perf_counter()
        again = ingest(lake, mirror.base_url, ["BTCUSDT"], DATASETS, start, end, today=today)
        noop = time.perf_counter() - t0
        print(
            f"no-op re-run: {noop:6.2f} s  {again.count('skipped')} files skipped  "
            f"{len(mirror.requests)} HTTP requests   target <= 2 s"
        )


if __name__ == "__main__":
    main()
