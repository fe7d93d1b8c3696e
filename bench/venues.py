#!/usr/bin/env python
"""Benchmark (fetch part of issue 14): 30 days of 5-minute OI, 1-minute mark prices and
5-minute klines for BTCUSDT from the Binance, Bybit and OKX stand-ins into an empty lake,
then the no-op re-run.

Everything goes through the real path: ccxt (async, its rate limiter on: Binance 50 ms,
Bybit 20 ms, OKX 110 ms a request × cost), loopback HTTP, paging, Parquet writes, ledger.
The venues run side by side, as `liqbrief extract --venues` runs them. OKX serves only its
latest 1,440 OI points (5 days), so its 25 older days are coverage warnings, as live.

Target (2-core machine): the no-op re-run <= 2 s. The first fetch is bound by ccxt's rate limiter (OKX:
100 mark candles a page → 432 pages for 30 days, its rubik statistics cost more per call).
`--no-rate-limit` (diagnostic only) turns ccxt's limiter off to show the pipeline's own cost.
Run: python bench/venues.py [--days N] [--no-rate-limit]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta

import sources.venues.ingest as venue_ingest
from liqbrief.testing.venue_standin import VenueStandin
from sources.venues.exchanges import open_exchange
from sources.venues.ingest import ingest_venue_async
from store.lake import Lake

DATASETS = ("metrics", "mark_klines_1m", "klines_5m")
VENUES = ("binance", "bybit", "okx")


async def fetch_all(lake: Lake, standins: dict[str, VenueStandin], days: int, now: datetime):
    end = now.date() - timedelta(days=1)  # 30 whole days, all ended
    start = end - timedelta(days=days - 1)

    async def timed(venue: str, standin: VenueStandin):
        t0 = time.perf_counter()
        report = await ingest_venue_async(
            lake, venue, standin.base_url, "BTCUSDT", start, end, datasets=DATASETS, now=now
        )
        return report, time.perf_counter() - t0

    return await asyncio.gather(*(timed(venue, s) for venue, s in standins.items()))


def unlimited_exchange(venue: str, base_url: str, markets=None):
    """The production exchange with ccxt's rate limiter off (--no-rate-limit only)."""
    exchange = open_exchange(venue, base_url, markets)
    exchange.enableRateLimit = False
    return exchange


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--no-rate-limit", action="store_true")
    args = parser.parse_args()
    if args.no_rate_limit:
        venue_ingest.open_exchange = unlimited_exchange
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    standins = {v: VenueStandin(v, now) for v in VENUES}
    for s in standins.values():
        s.__enter__()
    try:
        with tempfile.TemporaryDirectory() as root:
            lake = Lake(root)
            t0 = time.perf_counter()
            timed = asyncio.run(fetch_all(lake, standins, args.days, now))
            wall = time.perf_counter() - t0
            reports = [r for r, _ in timed]
            rows = sum(sum(r.rows.values()) for r in reports)
            requests = sum(s.total_requests for s in standins.values())
            print(f"first fetch, {args.days} days x 3 venues: {wall:.1f} s wall, "
                  f"{requests} requests, {rows} rows, {rows / wall:,.0f} rows/s")  # fmt: skip
            for (r, seconds), s in zip(timed, standins.values(), strict=True):
                per = ", ".join(f"{name} {n}" for name, n in r.rows.items())
                print(f"  {r.venue}: {seconds:.1f} s, {s.total_requests} requests; {per}; "
                      f"{len(r.warnings)} coverage warnings; {len(r.failures)} failures")  # fmt: skip
            before = requests
            t0 = time.perf_counter()
            again = asyncio.run(fetch_all(lake, standins, args.days, now))
            noop = time.perf_counter() - t0
            asked = sum(s.total_requests for s in standins.values()) - before
            stored = sum(r.days_stored for r, _ in again)
            print(f"no-op re-run: {noop:.2f} s, {asked} requests, {stored} partitions written "
                  f"(target <= 2 s)")  # fmt: skip
    finally:
        for s in standins.values():
            s.__exit__(None, None, None)


if __name__ == "__main__":
    main()
