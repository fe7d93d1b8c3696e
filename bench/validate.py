#!/usr/bin/env python
"""Benchmark: a year of daily validation for one symbol -> the track record in a lake.

A synthetic market (5-minute bars, 1-minute mark path, 5-minute open interest) over 366 + 30
days of warm-up, written into a scratch lake day by day as the extract writes it, and
synthetic realised liquidations (about 300 a day, just beyond the mark price, the recorder
connected all the time) merged through store.realised. Three figures:

1. the in-memory core: the streamed engine pass per model variant (exact, naive,
   single_side, no_shrink) with every day's price- and time-level scores, the rolling
   30/90-day summaries and the atomic writes of both datasets;
2. the flow's task body without Prefect (flows.validate.validate_symbol): the same plus
   reading the engine inputs and the realised data back from the lake, and the summaries
   from the stored rows; then the command's range report;
3. the user's command, `liqbrief validate --start … --end …` in a subprocess (its own
   Prefect home): wall time, Prefect's start included.

Target (2-core machine): <= 10 s for the year — the user's command is what it is held to.
Run: python bench/validate.py [--days 366] [--no-cli]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.validate import read_evidence, validate_symbol, write_days
from liqbrief.cli_validate import range_report
from liqbrief.testing.synthetic_market import Market, synthetic_market
from sources.reference_data import load_brackets
from store.datasets import DATASETS
from store.lake import Lake
from store.ledger import LedgerEntry
from store.realised import liquidation_id, merge_coverage, merge_realised
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import streamed_pass
from transforms.liqmap.track_record import ABLATIONS, score_days_streamed, variant_config
from transforms.liqmap.track_summary import rolling_summaries

ROOT = Path(__file__).resolve().parents[1]
START = date(2024, 1, 1)
WARMUP = 31  # flows.liqmap.WARMUP_DAYS before the first scored day, and one more
PER_DAY = 300
SYMBOL = "BTCUSDT"


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


def lake_frame(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """A synthetic frame with the dataset's other columns filled as the archive would."""
    ds = DATASETS[name]
    out = frame.copy()
    if "open_time" in out:
        step = pd.Timedelta(seconds=ds.bar_seconds) - pd.Timedelta("1ms")
        out = out.assign(
            close_time=out["open_time"] + step, count=np.int64(0),
            volume=out.get("volume", 0.0), quote_volume=out.get("quote_volume", 0.0),
            taker_buy_quote_volume=out.get("taker_buy_quote_volume", 0.0),
        )  # fmt: skip
        out["taker_buy_volume"] = out["volume"] / 2
    for column in ds.schema.names:
        if column not in out:
            out[column] = np.nan
    return out[ds.schema.names]


def store_market(lake: Lake, market: Market) -> None:
    """The market's frames as the extract stores them: one partition per dataset and day
    (the mark path doubles as the last-price 1-minute klines)."""
    frames = {"metrics": market.metrics, "klines_5m": market.klines_5m,
              "mark_klines_1m": market.mark_1m, "klines_1m": market.mark_1m}  # fmt: skip
    for name, frame in frames.items():
        ds = DATASETS[name]
        full = lake_frame(frame, name)
        table = pa.Table.from_pandas(full, schema=ds.schema, preserve_index=False)
        days = full[ds.time_column].dt.date.to_numpy()
        for day in sorted(set(days)):
            rows = table.filter(pa.array(days == day))
            entry = LedgerEntry(venue=ds.venue, dataset=ds.name, symbol=SYMBOL, date=day.isoformat(),
                                source_url="bench", source_sha256="", rows=rows.num_rows,
                                duplicates_dropped=0, missing_rows=0, ingested_at="2026-01-01T00:00:00+00:00")  # fmt: skip
            lake.write_day(ds, day, rows, entry)


def core(lake: Lake, market: Market, dates: list[date], clock: dict) -> pd.DataFrame:
    """The in-memory core: the frames in hand, not read from the lake."""
    brackets, _ = load_brackets(SYMBOL)
    evidence = read_evidence(lake, SYMBOL, dates[0], dates[-1])
    clock["read realised + coverage"] = time.perf_counter()
    frames = []
    for model in ABLATIONS:
        config = variant_config(ModelConfig(), model)
        streamed = streamed_pass(market.metrics, market.klines_5m, market.mark_1m, brackets,
                                 config, symbol=SYMBOL)  # fmt: skip
        frames.append(score_days_streamed(streamed, config, dates, evidence, symbol=SYMBOL, model=model))  # fmt: skip
        clock[f"streamed pass + scores {model}"] = time.perf_counter()
    rows = pd.concat(frames, ignore_index=True)
    summaries = rolling_summaries(rows, [d + timedelta(days=1) for d in dates], symbol=SYMBOL)
    clock["rolling summaries (30 and 90 days)"] = time.perf_counter()
    write_days(lake, DATASETS["validation"], SYMBOL, rows)
    write_days(lake, DATASETS["validation_summary"], SYMBOL, summaries)
    clock["write both datasets"] = time.perf_counter()
    return summaries


def print_clock(title: str, clock: dict) -> float:
    names = list(clock)
    print(title)
    for previous, name in itertools.pairwise(names):
        print(f"  {name:<40} {clock[name] - clock[previous]:6.2f} s")
    return clock[names[-1]] - clock[names[0]]


def verdict(total: float) -> str:
    return "OK" if total <= 10 else "OVER TARGET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=366)
    parser.add_argument("--no-cli", action="store_true", help="skip the subprocess run")
    args = parser.parse_args()
    market = synthetic_market(START, args.days + WARMUP, seed=1)
    first = START + timedelta(days=WARMUP)
    dates = [first + timedelta(days=i) for i in range(args.days)]
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(str(Path(root) / "lake"))
        store_market(lake, market)
        merge_realised(lake, "binance", SYMBOL, realised(market.mark_1m, first, args.days), "bench")
        t0 = pd.Timestamp(first, tz="UTC")
        merge_coverage(lake, "binance", SYMBOL, pd.DataFrame(
            {"start": [t0], "end": [t0 + pd.Timedelta(days=args.days)], "source": ["stream"]}
        ))  # fmt: skip
        print(f"input: {len(market.klines_5m):,} five-minute bars, {len(market.mark_1m):,} mark "
              f"minutes, {args.days * PER_DAY:,} realised liquidations, {args.days} days x {len(ABLATIONS)} models")  # fmt: skip
        clock = {"start": time.perf_counter()}
        summaries = core(lake, market, dates, clock)
        total_core = print_clock("1. in-memory core (frames in hand):", clock)
        os.environ["LIQBRIEF_LAKE"] = lake.root
        clock = {"start": time.perf_counter()}
        validate_symbol.fn(SYMBOL, dates[0], dates[-1])
        clock["validate_symbol (lake in, lake out)"] = time.perf_counter()
        range_report(lake, SYMBOL, dates[0], dates[-1])
        clock["range report (the printed table)"] = time.perf_counter()
        total_task = print_clock("2. the flow's task body without Prefect, and the report:", clock)
        nan = float("nan")
        fresh = cli_run(root, dates, "a fresh Prefect home") if not args.no_cli else nan
        total_cli = cli_run(root, dates, "again, Prefect home set up") if not args.no_cli else nan
    exact = summaries[(summaries["model"] == "exact") & (summaries["window_days"] == 30)].iloc[-1]
    print(f"core {total_core:.2f} s ({verdict(total_core)}); task + report {total_task:.2f} s "
          f"({verdict(total_task)}); `liqbrief validate` wall {total_cli:.2f} s "
          f"({verdict(total_cli)}; {fresh:.2f} s the first time) for {args.days} days (target <= 10 s for the command); last "
          f"30-day exact: top-decile {exact['top_precision']:.1%} vs all bins "
          f"{exact['baseline_hit_share']:.1%}, nearest bins {exact['nearest_hit_share']:.1%}")  # fmt: skip


def cli_run(root: str, dates: list[date], how: str) -> float:
    """The user's command in a subprocess with its own Prefect home: the first run creates
    Prefect's database, a second one is what a user meets every day."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": root, "PYTHONPATH": str(ROOT),
           "DO_NOT_TRACK": "1", "PREFECT_HOME": str(Path(root) / "prefect"),
           "LIQBRIEF_LAKE": str(Path(root) / "lake"), "LIQBRIEF_REPORTS_DIR": str(Path(root) / "reports"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    command = [sys.executable, "-m", "liqbrief.cli", "validate", "--start", str(dates[0]), "--end", str(dates[-1])]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True)
    wall = time.perf_counter() - start
    print(
        f"3. `liqbrief validate --start {dates[0]} --end {dates[-1]}` ({how}): exit "
        f"{result.returncode}, {wall:.2f} s wall (Prefect start included)"
    )
    if result.returncode:
        print(result.stderr[-2000:])
    return wall


if __name__ == "__main__":
    main()
