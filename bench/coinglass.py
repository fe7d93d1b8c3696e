#!/usr/bin/env python
"""Benchmark: Coinglass's incremental fetch cost, against the loopback stand-in.

A cold fetch of BTC into an empty lake (three years of daily bars and one year of 4-hourly
bars per history, made up; the snapshots from the real files), then the no-op re-run a few
minutes later, through the real code path (httpx, envelope, paging, monthly partitions,
ledger, fetch_status). Prints wall times and the requests of each series.

Target: the no-op re-run makes at most one request per series (none for a bar history
whose latest closed bar is stored; one per snapshot, which is live).
Run: python bench/coinglass.py [--daily-years N] [--four-hourly-years N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from flows.coinglass import fetch_coinglass
from liqbrief.settings import DEFAULT_COINGLASS_EXCHANGES, Settings
from liqbrief.testing.coinglass_standin import STANDIN_KEY, CoinglassStandin, synthetic_btc
from sources.coinglass_series import bar_series, snapshots
from sources.retry_policy import RetryPolicy
from store.lake import Lake

NOW = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)


def series_of(path: str, params: dict[str, str]) -> str:
    """The series a stand-in request was for (the liquidation path serves four)."""
    for series in bar_series(DEFAULT_COINGLASS_EXCHANGES):
        wanted = series.params("BTC")
        if series.path == path and all(params.get(k) == v for k, v in wanted.items()):
            return series.name
    return next(s.name for s in snapshots() if s.path == path)


def timed_run(lake: Lake, settings: Settings, standin: CoinglassStandin, now: datetime):
    standin.now = now
    standin.clear_counts()
    started = time.perf_counter()
    outcomes = fetch_coinglass(lake, settings, ["BTC"], now, RetryPolicy(attempts=3))
    elapsed = time.perf_counter() - started
    per_series = Counter(series_of(path, params) for path, params in standin.requests)
    return elapsed, outcomes, per_series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daily-years", type=int, default=3)
    parser.add_argument("--four-hourly-years", type=int, default=1)
    args = parser.parse_args()
    data = synthetic_btc(DEFAULT_COINGLASS_EXCHANGES, NOW, args.daily_years, args.four_hourly_years)
    history_start = (NOW - timedelta(days=365 * args.daily_years)).date()
    with CoinglassStandin(data, NOW) as standin, tempfile.TemporaryDirectory() as root:
        settings = Settings(
            COINGLASS_API_KEY=STANDIN_KEY, coinglass_url=standin.url,
            coinglass_history_start=history_start,
        )  # fmt: skip
        lake = Lake(root)
        runs = [
            ("cold", timed_run(lake, settings, standin, NOW)),
            ("no-op", timed_run(lake, settings, standin, NOW + timedelta(minutes=5))),
        ]
    names = [s.name for s in bar_series(DEFAULT_COINGLASS_EXCHANGES)] + [
        s.name for s in snapshots()
    ]
    print(f"{'series':28} {'cold req':>8} {'no-op req':>9}  cold outcome")
    for name in names:
        cold, noop = runs[0][1], runs[1][1]
        print(f"{name:28} {cold[2][name]:>8} {noop[2][name]:>9}  {cold[1][f'BTC/{name}'][:60]}")
    for label, (elapsed, _, per_series) in runs:
        print(f"{label:6} run: {elapsed:6.2f} s wall, {sum(per_series.values())} requests")
    worst = max(runs[1][1][2][name] for name in names)
    verdict = "met" if worst <= 1 else "MISSED"
    print(f"no-op target (<= 1 request per series): {verdict} (max {worst})")


if __name__ == "__main__":
    main()
