#!/usr/bin/env python
"""Benchmark: a year of daily BTCUSDT briefings (HTML + PDF) from a warm lake, end to end.

Warms a lake with 395 days of archive files (through the loopback mirror; not timed), then
times one `backfill` flow run over 365 days — maps and context a chunk of days at a time,
briefings rendered by two worker processes meanwhile — and prints the per-day cost and
Prefect's share (task-run overhead measured with no-op tasks in the same kind of run).

Target (2-core machine): <= 180 s for the year.
Run: python bench/backfill.py [--days 365]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from prefect import flow, task
from prefect.testing.utilities import prefect_test_harness

from flows.backfill import CHUNK_DAYS
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.demo_lake import synthetic_fred
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from store.lake import Lake
from transforms.liqmap.passes import pass_start

DATASETS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m", "funding_rate"]


@task
def noop(i: int) -> int:
    return i


@flow
def overhead(n: int) -> None:
    for i in range(n):
        noop(i)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    first = date(2024, 1, 1)
    last = first + timedelta(days=args.days - 1)
    warm_start = pass_start(first - timedelta(days=1))  # what the backfill's extract asks for
    # the harness's server services log cancelled event flushes when it shuts down: noise
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    with tempfile.TemporaryDirectory() as root:
        os.environ["LIQBRIEF_LAKE"] = str(Path(root) / "lake")
        os.environ["LIQBRIEF_REPORTS_DIR"] = str(Path(root) / "out")
        t0 = time.perf_counter()
        files = build_archive(["BTCUSDT"], DATASETS, warm_start, last, monthly=False)
        with ArchiveMirror(files) as mirror:
            ingest(
                Lake(os.environ["LIQBRIEF_LAKE"]),
                mirror.base_url,
                ["BTCUSDT"],
                DATASETS,
                warm_start,
                last,
                today=date(2030, 1, 1),
            )
            os.environ["LIQBRIEF_BINANCE_ARCHIVE_URL"] = mirror.base_url
            with (
                FredServer(synthetic_fred(last)) as fred,
                prefect_test_harness(server_startup_timeout=90),
            ):
                os.environ["LIQBRIEF_FRED_CSV_URL"] = fred.base_url
                print(f"warm lake: {time.perf_counter() - t0:.0f} s (not timed)")
                from flows.backfill import backfill

                t0 = time.perf_counter()
                result = backfill(first + timedelta(days=1), last + timedelta(days=1), ["BTCUSDT"])
                total = time.perf_counter() - t0
                t0 = time.perf_counter()
                # the backfill's task runs: a brief per day; maps and context per chunk of days
                task_runs = args.days + 2 * -(-args.days // CHUNK_DAYS)
                overhead(task_runs)
                prefect_share = time.perf_counter() - t0
    days = len(result["done"])
    print(
        f"backfill of {days} daily briefings: {total:.1f} s, {total / days:.2f} s per day   target <= 180 s\n"
        f"Prefect task overhead for the same {task_runs} task runs: {prefect_share:.1f} s "
        f"({prefect_share / total:.0%} of the run)"
    )


if __name__ == "__main__":
    main()
