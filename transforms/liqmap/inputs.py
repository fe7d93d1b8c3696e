"""Lake frames -> the aligned numpy arrays the engine runs on, with data-coverage counts.

Bar i is the 5-minute interval [t_(i−1), t_i) ending at the open-interest reading t_i:
dC_i = C(t_i) − C(t_(i−1)) in contracts (``sum_open_interest``; undefined across a gap),
entry price and aggressor share from the kline that opens at t_(i−1). Open interest is
counted in contracts, never in USD: the USD series moves with the price when no contract
trades, and differencing it would open or close positions out of nothing. The sweep path is the 1-minute mark-price series;
minutes it lacks are filled from last-price klines and counted as a fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

BAR_US = 300 * 1_000_000
MINUTE_US = 60 * 1_000_000


def _us(series: pd.Series) -> np.ndarray:
    """UTC timestamps -> int64 microseconds since the epoch."""
    return (
        series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]").astype(np.int64)
    )


def _require(frame: pd.DataFrame, name: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks columns {missing}")


@dataclass(frozen=True)
class Bars:
    """The 5-minute bar series (length n)."""

    time_us: np.ndarray  # t_i, bar end = OI reading time
    contracts: np.ndarray  # open interest C_i in contracts (base-asset units)
    d_contracts: np.ndarray  # NaN where the previous reading is not exactly 5 minutes earlier
    entry_vwap: np.ndarray  # NaN where the kline is missing or has no volume
    entry_close: np.ndarray
    aggressor_buy_share: np.ndarray  # taker-buy quote / quote volume; NaN where unknown


@dataclass(frozen=True)
class MarkPath:
    """The 1-minute sweep path (length m), sorted by minute open time."""

    time_us: np.ndarray
    low: np.ndarray
    high: np.ndarray
    close: np.ndarray
    fallback: np.ndarray  # True where the minute came from last-price klines


def build_bars(metrics: pd.DataFrame, klines_5m: pd.DataFrame) -> Bars:
    """Align 5-minute OI readings with the klines that precede them."""
    _require(metrics, "metrics", ["create_time", "sum_open_interest"])
    _require(
        klines_5m,
        "klines_5m",
        ["open_time", "close", "volume", "quote_volume", "taker_buy_quote_volume"],
    )
    m = metrics.drop_duplicates("create_time").sort_values("create_time")
    t = _us(m["create_time"])
    contracts = m["sum_open_interest"].to_numpy(float)
    d_contracts = np.full(len(t), np.nan)
    adjacent = np.diff(t) == BAR_US
    d_contracts[1:] = np.where(adjacent, np.diff(contracts), np.nan)

    k = klines_5m.drop_duplicates("open_time").sort_values("open_time")
    k_open = _us(k["open_time"])
    pos = np.searchsorted(k_open, t - BAR_US)
    pos_clipped = np.minimum(pos, max(len(k_open) - 1, 0))
    found = (
        (len(k_open) > 0) & (pos < len(k_open)) & (k_open[pos_clipped] == t - BAR_US)
        if len(k_open)
        else np.zeros(len(t), bool)
    )

    def pick(column: str) -> np.ndarray:
        values = k[column].to_numpy(float)
        return (
            np.where(found, values[pos_clipped], np.nan) if len(values) else np.full(len(t), np.nan)
        )

    volume, quote = pick("volume"), pick("quote_volume")
    with np.errstate(divide="ignore", invalid="ignore"):
        vwap = np.where(volume > 0, quote / volume, np.nan)
        share = np.where(quote > 0, pick("taker_buy_quote_volume") / quote, np.nan)
    return Bars(t, contracts, d_contracts, vwap, pick("close"), share)


def _finite_prices(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose low, high and close are all finite numbers."""
    return np.isfinite(frame[["low", "high", "close"]].to_numpy(float)).all(axis=1)


def build_mark_path(mark_1m: pd.DataFrame, last_1m: pd.DataFrame | None = None) -> MarkPath:
    """Mark-price minutes, with last-price minutes filling the mark series' holes (flagged).

    A minute whose low, high or close is not a finite number is a hole (filled by the last
    price when it has the minute), never a touch: a NaN low would otherwise read as a price
    below every liquidation level and wipe out a side. Sorted and de-duplicated on the
    arrays, not the frames: years of minutes, copied three times as frames, would set the
    engine's peak memory."""
    _require(mark_1m, "mark_klines_1m", ["open_time", "low", "high", "close"])
    frames = [mark_1m]
    if last_1m is not None and len(last_1m):
        _require(last_1m, "klines_1m", ["open_time", "low", "high", "close"])
        frames.append(last_1m)
    time_us = np.concatenate([_us(f["open_time"]) for f in frames])
    fallback = np.concatenate([np.full(len(f), k > 0) for k, f in enumerate(frames)])
    usable = np.flatnonzero(np.concatenate([_finite_prices(f) for f in frames]))
    # by minute, mark before last price; stable
    order = usable[np.lexsort((fallback[usable], time_us[usable]))]
    ordered = time_us[order]
    first = np.ones(len(order), bool)
    first[1:] = ordered[1:] != ordered[:-1]  # keep each minute's first row
    keep = order[first]

    def column(name: str) -> np.ndarray:
        return np.concatenate([f[name].to_numpy(float) for f in frames])[keep]

    return MarkPath(time_us[keep], column("low"), column("high"), column("close"), fallback[keep])
