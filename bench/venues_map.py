#!/usr/bin/env python
"""Benchmark: the aggregated map (Binance + Bybit + OKX) against the Binance-only engine.

30 days of synthetic inputs per venue (5-minute open interest and klines, 1-minute mark
prices; each venue its own path and book), every date's map (1d/7d/30d windows, last date's
heatmap), as the liqmap flow makes them: the Binance-only engine (maps and frames), then each
venue's engine with its own tiers and formula, aggregate_parts() summing them on Binance's
grid, and the aggregated map's frames.
Target: aggregated <= 3x the Binance-only engine time (three engines' worth of work).
Run: python bench/venues_map.py [--days 30] [--runs 7]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

from liqbrief.testing.synthetic_market import synthetic_market
from sources.reference_data import load_margin_rules
from transforms.liqmap.aggregate import aggregate_parts
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import parts_from_stream, streamed_pass
from transforms.venue_margin import VENUES

START = date(2025, 8, 1)  # the shipped OKX tiers start 2025-07-23
SEEDS = {"binance": 1, "bybit": 2, "okx": 3}
BOOK = {"binance": 1.0, "bybit": 0.6, "okx": 0.4}


def venue_parts(venue, market, dates):
    """One venue's maps as the flow cuts them (streamed pass), before any frame is built."""
    rules, _ = load_margin_rules("BTCUSDT", venue)
    oi = market.metrics["sum_open_interest"] * BOOK[venue]
    streamed = streamed_pass(
        market.metrics.assign(sum_open_interest=oi), market.klines_5m, market.mark_1m, rules,
        ModelConfig(), symbol="BTCUSDT",
    )  # fmt: skip
    return parts_from_stream(
        streamed, dates, ModelConfig(), symbol="BTCUSDT", venue=venue, heatmap_dates=dates[-1:]
    )


def venue_maps(venue, market, dates):
    """The Binance-only engine as the flow runs it: the maps and their frames."""
    return venue_parts(venue, market, dates).frames("BTCUSDT", venue)


def timed(work) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds, result): CPU time is what other work on a
    shared machine does not inflate."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7, help="timed runs (best is reported)")
    args = parser.parse_args()
    markets = {v: synthetic_market(START, args.days, seed=SEEDS[v]) for v in VENUES}
    dates = [START + timedelta(days=i) for i in range(1, args.days)]
    bars = sum(len(m.klines_5m) for m in markets.values())
    minutes = sum(len(m.mark_1m) for m in markets.values())
    print(
        f"input: {args.days} days x 3 venues: {bars:,} five-minute bars, {minutes:,} mark "
        f"minutes; {len(dates)} snapshot dates x 3 windows"
    )
    venue_maps("binance", markets["binance"], dates[:2])  # warm imports and caches

    def aggregated():
        by_venue = {v: venue_parts(v, markets[v], dates) for v in VENUES}
        t0 = time.perf_counter()
        summed = aggregate_parts(by_venue, "BTCUSDT").frames("BTCUSDT", "all")
        return by_venue, summed, time.perf_counter() - t0

    single, combined = [], []
    for _ in range(args.runs):  # interleaved, so load from other work hits both alike
        single.append(timed(lambda: venue_maps("binance", markets["binance"], dates)))
        combined.append(timed(aggregated))
    by_venue, summed, summing = combined[-1][2]
    one_wall, one_cpu = min(r[0] for r in single), min(r[1] for r in single)
    all_wall, all_cpu = min(r[0] for r in combined), min(r[1] for r in combined)
    print(
        f"Binance-only engine: {one_wall:6.2f} s wall, {one_cpu:6.2f} s CPU (best of {args.runs})"
    )
    cells = {v: sum(len(b[-1]) for b in by_venue[v].bins) for v in VENUES}
    print("  non-empty cells per venue: " + ", ".join(f"{v} {n:,}" for v, n in cells.items()))
    print(
        f"aggregated (3 engines + sum + frames): {all_wall:6.2f} s wall, {all_cpu:6.2f} s CPU "
        f"(best of {args.runs}); aggregate_parts() and its frames {summing:5.2f} s "
        f"({len(summed.bins):,} summed bin rows, {len(summed.summary)} summary rows)"
    )
    print(
        f"ratio aggregated / Binance-only: {all_wall / one_wall:4.2f}x wall, "
        f"{all_cpu / one_cpu:4.2f}x CPU   target <= 3x"
    )


if __name__ == "__main__":
    main()
