"""A consistent synthetic market as lake-shaped DataFrames: 1-minute mark path, 5-minute
klines aggregated from it, and 5-minute open interest — for engine tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Market:
    metrics: pd.DataFrame
    klines_5m: pd.DataFrame
    mark_1m: pd.DataFrame


def _utc(us: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(us, unit="us", utc=True))


def synthetic_market(
    start: date,
    days: int,
    *,
    seed: int = 7,
    price: float = 60_000.0,
    vol_per_minute: float = 0.0007,
    path_seed: int | None = None,
    basis: float = 0.0,
) -> Market:
    """``seed`` draws the flows and open interest, ``path_seed`` (default: ``seed``) the
    price path: venues of one market share a path_seed, each with its own seed and a small
    ``basis`` (a fraction of price) between their marks."""
    rng = np.random.default_rng(seed)
    path_rng = rng if path_seed is None else np.random.default_rng(path_seed)
    minutes = days * 1440
    t0 = np.datetime64(start, "us").astype(np.int64)
    minute_t = t0 + np.arange(minutes, dtype=np.int64) * 60_000_000
    price = price * (1 + basis)
    close = price * np.exp(np.cumsum(path_rng.normal(0, vol_per_minute, minutes)))
    open_ = np.concatenate([[price], close[:-1]])
    spread = np.abs(path_rng.normal(0, vol_per_minute / 2, minutes)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    mark = pd.DataFrame(
        {"open_time": _utc(minute_t), "open": open_, "high": high, "low": low, "close": close}
    )

    bars = minutes // 5
    shape = (bars, 5)
    volume_1m = rng.gamma(2.0, 10.0, minutes)
    typical = (high + low + close) / 3
    k_volume = volume_1m.reshape(shape).sum(1)
    k_quote = (volume_1m * typical).reshape(shape).sum(1)
    share = np.clip(rng.normal(0.5, 0.08, bars), 0.05, 0.95)
    klines = pd.DataFrame(
        {
            "open_time": _utc(minute_t[::5]),
            "open": open_[::5],
            "high": high.reshape(shape).max(1),
            "low": low.reshape(shape).min(1),
            "close": close[4::5],
            "volume": k_volume,
            "quote_volume": k_quote,
            "taker_buy_quote_volume": k_quote * share,
        }
    )
    # OI readings at the end of each bar; changes lean with the taker flow.
    oi_t = minute_t[::5] + 300_000_000
    d_contracts = rng.normal(0, 60.0, bars) + (share - 0.5) * 400
    contracts = 100_000 + np.cumsum(d_contracts)
    metrics = pd.DataFrame(
        {
            "create_time": _utc(oi_t),
            "sum_open_interest": contracts,
            "sum_open_interest_value": contracts * close[4::5],
        }
    )
    return Market(metrics, klines, mark)


def market_reader(market: Market) -> Callable[[date, date], dict[str, pd.DataFrame]]:
    """The market as the engine's inputs of the days [first, last] (transforms/liqmap/passes.py
    InputReader; no last-price 1-minute klines). Its rows are stamped within their own day, so
    cutting by time is what a lake's day partitions hold for it."""

    def read(first: date, last: date) -> dict[str, pd.DataFrame]:
        lo = pd.Timestamp(first, tz="UTC")
        hi = pd.Timestamp(last + timedelta(days=1), tz="UTC")

        def cut(frame: pd.DataFrame, column: str) -> pd.DataFrame:
            return frame.loc[(frame[column] >= lo) & (frame[column] < hi)].reset_index(drop=True)

        mark = cut(market.mark_1m, "open_time")
        return {
            "metrics": cut(market.metrics, "create_time"),
            "klines_5m": cut(market.klines_5m, "open_time"),
            "mark_klines_1m": mark,
            "klines_1m": mark.iloc[0:0],
        }

    return read
