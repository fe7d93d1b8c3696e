#!/usr/bin/env python
"""Benchmark: a year of daily validation for one symbol -> the track record in a lake.

A synthetic market (5-minute bars, 1-minute mark path; the frames the engine reads from the
lake) over 366 + 30 days of warm-up, and synthetic realised liquidations (about 300 a day,
just beyond the mark price, the recorder connected all the time) merged into a scratch lake
through store.realised. Timed: reading the realised data back, one engine pass per model
variant (exact, naive, single_side, no_shrink) with every day's price- and time-level
scores, the rolling 30/90-day summaries as of every date, and the atomic writes of both
datasets (one partition per day each).

Target (2-core machine): <= 10 s for the year, everything above included.
Run: python bench/validate.py [--days 366]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from flows.validate import read_evidence, write_days
from liqbrief.testing.synthetic_market import synthetic_market
from sources.reference_data import load_brackets
from store.datasets import DATASETS
from store.lake import Lake
from store.realised import liquidation_id, merge_coverage, merge_realised
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import run_model
from transforms.liqmap.track_record import ABLATIONS, score_days, variant_config
from transforms.liqmap.track_summary import rolling_summaries

START = date(2024, 1, 1)
WARMUP = 30
PER_DAY = 300


def realised(mark: pd.DataFrame, first: date, days: int) -> pd.DataFrame:
    """About PER_DAY liquidations a day at random minutes, 0.3 % beyond the mark close."""
    rng = np.random.default_rng(11)
    n = days * PER_DAY
    offset = np.searchsorted(mark["open_time"], pd.Timestamp(first, tz="UTC"))
    pick = offset + rng.integers(0, days * 1440, n)
    side = np.where(rng.random(n) < 0.5, "long", "short")
    price = mark["close"].to_numpy()[pick] * np.where(side == "long", 0.997, 1.003)
    quantity = rng.gamma(2.0, 0.1, n)
    times = (mark["open_time"].iloc[pick] + pd.Timedelta("20s")).reset_index(drop=True)
    return pd.DataFrame({
        "time": times, "received_at": times, "side": side, "price": price,
        "quantity": quantity, "notional_usd": price * quantity, "source": "stream",
        "liq_id": [liquidation_id("binance", (i,)) for i in range(n)], "raw": "{}",
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=366)
    args = parser.parse_args()
    brackets, _ = load_brackets("BTCUSDT")
    market = synthetic_market(START, args.days + WARMUP, seed=1)
    first = START + timedelta(days=WARMUP)
    dates = [first + timedelta(days=i) for i in range(args.days)]
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(root)
        merge_realised(
            lake, "binance", "BTCUSDT", realised(market.mark_1m, first, args.days), "bench"
        )
        t0 = pd.Timestamp(first, tz="UTC")
        merge_coverage(lake, "binance", "BTCUSDT", pd.DataFrame(
            {"start": [t0], "end": [t0 + pd.Timedelta(days=args.days)], "source": ["stream"]}
        ))  # fmt: skip
        print(f"input: {len(market.klines_5m):,} five-minute bars, {len(market.mark_1m):,} mark "
              f"minutes, {args.days * PER_DAY:,} realised liquidations, {args.days} days x {len(ABLATIONS)} models")  # fmt: skip
        clock = {"start": time.perf_counter()}
        evidence = read_evidence(lake, "BTCUSDT", dates[0], dates[-1])
        clock["read realised + coverage"] = time.perf_counter()
        frames = []
        for model in ABLATIONS:
            config = variant_config(ModelConfig(), model)
            run = run_model(market.metrics, market.klines_5m, market.mark_1m, brackets, config, symbol="BTCUSDT")  # fmt: skip
            clock[f"engine pass {model}"] = time.perf_counter()
            frames.append(score_days(run, config, dates, evidence, symbol="BTCUSDT", model=model))
            clock[f"scores {model}"] = time.perf_counter()
        rows = pd.concat(frames, ignore_index=True)
        as_of = [d + timedelta(days=1) for d in dates]
        summaries = rolling_summaries(rows, as_of, symbol="BTCUSDT")
        clock["rolling summaries (30 and 90 days)"] = time.perf_counter()
        write_days(lake, DATASETS["validation"], "BTCUSDT", rows)
        write_days(lake, DATASETS["validation_summary"], "BTCUSDT", summaries)
        clock["write both datasets"] = time.perf_counter()
    names = list(clock)
    for previous, name in itertools.pairwise(names):
        print(f"  {name:<38} {clock[name] - clock[previous]:6.2f} s")
    total = clock[names[-1]] - clock["start"]
    exact = summaries[(summaries["model"] == "exact") & (summaries["window_days"] == 30)].iloc[-1]
    print(f"total {total:.2f} s for {args.days} days (target <= 10 s): "
          f"{'OK' if total <= 10 else 'OVER TARGET'}; {len(rows):,} validation rows, "
          f"{len(summaries):,} summary rows; last 30-day exact: top-decile "
          f"{exact['top_precision']:.1%} vs baseline {exact['baseline_hit_share']:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
