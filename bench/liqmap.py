#!/usr/bin/env python
"""Benchmark: a year of 5-minute bars with a 1-minute mark path -> all 365 daily maps.

Times the vectorised engine (transforms/liqmap) over 366 days of synthetic market data
(105,408 five-minute bars, 527,040 mark minutes; every daily snapshot, 1d/7d/30d windows,
bins frame included), then the flows' monthly passes (transforms/liqmap/passes.py), then the
per-bar reference loop (bench/reference_liqmap.py) and the engine on the same shorter input,
for the speed ratio. Prints peak memory.

Targets (2-core machine): <= 3 s for the year; >= 50x faster than the reference loop;
peak memory <= 2 GiB; with the streamed pass (--chunk-days N, stream.py) a four-year pass
(--days 1460) at <= 0.8 GiB peak RSS, time linear in days. Peak RSS is the process's: run
one configuration per process to compare (the one pass with --chunk-days 0).
Run: python bench/liqmap.py [--days 366] [--chunk-days 60] [--runs 3] [--reference-days 30]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_liqmap import reference_maps

from liqbrief.testing.synthetic_market import market_reader, synthetic_market
from sources.reference_data import load_brackets
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import (
    CHUNK_DAYS,
    liquidation_maps,
    maps_from_run,
    maps_from_stream,
    run_model,
    streamed_pass,
)
from transforms.liqmap.passes import MonthlyPasses

START = date(2024, 1, 1)


def engine(market, dates, brackets, heatmap_dates=None, chunk_days=None):
    return liquidation_maps(
        market.metrics, market.klines_5m, market.mark_1m, brackets, dates, ModelConfig(),
        symbol="BTCUSDT", heatmap_dates=heatmap_dates, chunk_days=chunk_days or None,
    )  # fmt: skip


def cut_in_chunks(market, dates, brackets, chunk_days) -> int:
    """The engine as the flows use it: maps cut CHUNK_DAYS dates at a time, each chunk's
    frames handed off (written; here dropped) before the next; returns bin rows."""
    config, frames = ModelConfig(), (market.metrics, market.klines_5m, market.mark_1m, brackets)
    if chunk_days:
        source = streamed_pass(*frames, config, symbol="BTCUSDT", chunk_days=chunk_days)
        cut = partial(maps_from_stream, source)
    else:
        cut = partial(maps_from_run, run_model(*frames, config, symbol="BTCUSDT"))
    return sum(
        len(cut(dates[i : i + CHUNK_DAYS], config, symbol="BTCUSDT").bins)
        for i in range(0, len(dates), CHUNK_DAYS)
    )


def monthly_passes(market, dates, brackets) -> tuple[float, int]:
    """The flows' path (transforms/liqmap/passes.py): one streamed pass per calendar month from
    the month's fixed start, cut CHUNK_DAYS dates at a time; (seconds, bin rows)."""
    t0 = time.perf_counter()
    read = market_reader(market)
    passes = MonthlyPasses(read, brackets, ModelConfig(), "BTCUSDT", dates[-1])
    rows = sum(
        len(passes.parts(dates[i : i + CHUNK_DAYS], []).frames("BTCUSDT", "binance").bins)
        for i in range(0, len(dates), CHUNK_DAYS)
    )
    return time.perf_counter() - t0, rows


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=366)
    parser.add_argument("--reference-days", type=int, default=30, help="0: skip the reference")
    parser.add_argument("--chunk-days", type=int, default=CHUNK_DAYS, help="0: the one pass")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (best is reported)")
    args = parser.parse_args()
    chunk = args.chunk_days or None
    brackets, _ = load_brackets("BTCUSDT")

    market = synthetic_market(START, args.days, seed=1)
    dates = [START + timedelta(days=i) for i in range(1, args.days)]
    rss_inputs = rss_mib()
    print(
        f"input: {len(market.klines_5m):,} five-minute bars, {len(market.mark_1m):,} mark minutes, "
        f"{len(dates)} snapshot dates x 3 windows; peak RSS {rss_inputs:,.0f} MiB after "
        "building it (imports and the synthetic market)"
    )
    engine(market, dates[:3], brackets, chunk_days=chunk)  # warm imports and caches
    pass_name = f"streamed pass, {chunk}-day chunks" if chunk else "one pass"
    timings = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        rows = cut_in_chunks(market, dates, brackets, chunk)
        timings.append(time.perf_counter() - t0)
    best = min(timings)
    print(
        f"engine ({pass_name}), {args.days} days, cut {CHUNK_DAYS} dates at a time as the flows "
        f"do: {best:6.2f} s best of {args.runs} ({best / args.days * 1000:.1f} ms per day; "
        f"{rows:,} bin rows); process peak RSS {rss_mib():,.0f} MiB   target (streamed, 1460 "
        "days) <= 819 MiB"
    )
    if chunk:
        monthly = min(monthly_passes(market, dates, brackets) for _ in range(args.runs))
        print(
            f"monthly passes (the flows' path: each month from 30 days before its first day, "
            f"so a date's map is the same in any range): {monthly[0]:6.2f} s best of "
            f"{args.runs} ({monthly[0] / best:.2f}x the one streamed pass; {monthly[1]:,} bin "
            f"rows); process peak RSS {rss_mib():,.0f} MiB   targets <= 3 s a year, <= 819 MiB"
        )
    t0 = time.perf_counter()
    maps = engine(market, dates, brackets, chunk_days=chunk)
    every = time.perf_counter() - t0
    print(
        f"liquidation_maps() ({pass_name}), every date's frames kept together: {every:6.2f} s "
        f"({len(maps.summary):,} summary rows, {len(maps.bins):,} bin rows); process peak RSS "
        f"{rss_mib():,.0f} MiB (the frames grow with the dates asked)   target <= 3 s a year"
    )
    if not args.reference_days:
        return
    run = run_model(market.metrics, market.klines_5m, market.mark_1m, brackets, ModelConfig(), symbol="BTCUSDT")  # fmt: skip
    t0 = time.perf_counter()
    heat = maps_from_run(
        run, dates[-30:], ModelConfig(), symbol="BTCUSDT", heatmap_dates=dates[-30:]
    ).heatmap
    t1 = time.perf_counter()
    maps_from_run(run, dates[-30:], ModelConfig(), symbol="BTCUSDT")
    per_date = (t1 - t0 - (time.perf_counter() - t1)) / 30
    print(f"7-day heatmaps: {per_date * 1000:.1f} ms per date, frame included ({len(heat) / 30:,.0f} rows each)")  # fmt: skip

    short = synthetic_market(START, args.reference_days, seed=1)
    short_dates = [START + timedelta(days=i) for i in range(1, args.reference_days)]
    t0 = time.perf_counter()
    engine(short, short_dates, brackets)
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference_maps(
        short.metrics,
        short.klines_5m,
        short.mark_1m,
        brackets,
        short_dates,
        ModelConfig(),
        "BTCUSDT",
    )
    slow = time.perf_counter() - t0
    print(
        f"same {args.reference_days}-day input: engine {fast:.3f} s, reference loop {slow:.2f} s "
        f"-> {slow / fast:,.0f}x   target >= 50x"
    )


if __name__ == "__main__":
    main()
