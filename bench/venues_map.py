#!/usr/bin/env python
"""Benchmark: the aggregated map (Binance + Bybit + OKX) against the Binance-only engine.

30 days of synthetic inputs per venue (5-minute open interest and klines, 1-minute mark
prices; one market's price path, each venue a few basis points apart with its own flows and
book), every date's map (1d/7d/30d windows, last date's
heatmap), as the liqmap flow makes them. The Binance-only map: its engine, then its frames
(bins, key levels, heatmap). The aggregated map: each venue's engine with its own tiers and
formula (the grids), aggregate_parts() summing the grids on Binance's bins, then the
aggregated map's frames. Also printed, not the target: the aggregated map together with each
venue's own frames, as `liqbrief map --venue all` stores all four maps.
Target: aggregated <= 3x the Binance-only engine time (three engines' worth of work).
Run: python bench/venues_map.py [--days 30] [--runs 9]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from functools import partial

import numpy as np

from liqbrief.testing.synthetic_market import synthetic_market
from sources.reference_data import load_margin_rules
from transforms.liqmap.aggregate import aggregate_parts
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import parts_from_stream, streamed_pass
from transforms.venue_margin import VENUES

START = date(2025, 8, 1)  # the shipped OKX tiers start 2025-07-23
SEEDS = {"binance": 1, "bybit": 2, "okx": 3}  # each venue's flows and open interest
BASIS = {"binance": 0.0, "bybit": 0.0003, "okx": -0.0005}  # marks apart (a fraction of price)
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
    parser.add_argument("--runs", type=int, default=9, help="timed runs (best is reported)")
    args = parser.parse_args()
    markets = {
        v: synthetic_market(START, args.days, seed=SEEDS[v], path_seed=1, basis=BASIS[v])
        for v in VENUES
    }
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
        cpu = time.process_time()
        summed = aggregate_parts(by_venue, "BTCUSDT").frames("BTCUSDT", "all")
        return by_venue, summed, time.process_time() - cpu

    def venues_own_frames(by_venue):
        return [by_venue[v].frames("BTCUSDT", v) for v in VENUES]

    single, combined, own, summing = [], [], [], []
    for _ in range(args.runs):  # interleaved, so load from other work hits both alike
        # only the timings are kept: results held from every run would make each later run
        # write to fresh memory (page faults) that the flow, which drops each chunk, never pays
        single.append(timed(lambda: venue_maps("binance", markets["binance"], dates))[:2])
        *seconds, (by_venue, summed, sum_cpu) = timed(aggregated)
        combined.append(seconds)
        wall, cpu, _ = timed(partial(venues_own_frames, by_venue))
        own.append((seconds[0] + wall, seconds[1] + cpu))
        summing.append(sum_cpu)
    report(single, combined, own, min(summing), by_venue, summed)


def report(single, combined, own, summing, by_venue, summed) -> None:
    """The best run of each (wall, CPU), the sum's own CPU time, and the ratios."""
    best = [(min(r[0] for r in runs), min(r[1] for r in runs)) for runs in (single, combined, own)]
    (one_wall, one_cpu), (all_wall, all_cpu), (own_wall, own_cpu) = best
    print(f"Binance-only map: {one_wall * 1e3:6.1f} ms wall, {one_cpu * 1e3:6.1f} ms CPU")
    cells = {v: sum(np.count_nonzero(g.cells) for g in by_venue[v].grids) for v in VENUES}
    print("  non-empty cells per venue: " + ", ".join(f"{v} {n:,}" for v, n in cells.items()))
    print(
        f"aggregated map (3 engines + sum + frames): {all_wall * 1e3:6.1f} ms wall, "
        f"{all_cpu * 1e3:6.1f} ms CPU; aggregate_parts() and its frames {summing * 1e3:5.1f} ms "
        f"CPU ({len(summed.bins):,} summed bin rows, {len(summed.summary)} summary rows)"
    )
    print(
        f"  with each venue's own frames too (what `map --venue all` stores): "
        f"{own_wall * 1e3:6.1f} ms wall, {own_cpu * 1e3:6.1f} ms CPU: "
        f"{own_cpu / one_cpu:4.2f}x CPU (not the target)"
    )
    # each run's pair, one after the other: a machine whose speed drifts moves both alike
    paired = sorted(c[1] / s[1] for s, c in zip(single, combined, strict=True))
    print(
        f"ratio aggregated / Binance-only (best of {len(single)}): {all_wall / one_wall:4.2f}x "
        f"wall, {all_cpu / one_cpu:4.2f}x CPU; median of the runs' paired CPU ratios "
        f"{paired[len(paired) // 2]:4.2f}x (quartiles {paired[len(paired) // 4]:4.2f}–"
        f"{paired[3 * len(paired) // 4]:4.2f}x)   target <= 3x"
    )


if __name__ == "__main__":
    main()
