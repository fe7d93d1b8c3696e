"""Market context for one symbol as of a snapshot time T (00:00 UTC of the date): price,
open interest and its changes, funding, positioning ratios, volume and volatility — from
rows strictly before T only."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

BARS_PER_YEAR_5M = 365 * 288


def _before(frame: pd.DataFrame, column: str, t: pd.Timestamp) -> pd.DataFrame:
    return frame[frame[column] < t].sort_values(column)


def _last(frame: pd.DataFrame, column: str) -> float:
    return float(frame[column].iloc[-1]) if len(frame) else float("nan")


def _pct_change(now: float, then: float) -> float:
    return (now / then - 1) * 100 if np.isfinite(then) and then else float("nan")


def market_context(
    as_of: date,
    symbol: str,
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    funding: pd.DataFrame,
    year_start_klines: pd.DataFrame,
    venue: str = "binance",
) -> pd.DataFrame:
    """One row. ``year_start_klines``: 5m klines of the first 7 days of as_of's year."""
    t = pd.Timestamp(as_of, tz="UTC")
    m = _before(metrics, "create_time", t)
    k = _before(klines_5m, "open_time", t)
    k = k[k["open_time"] + pd.Timedelta(minutes=5) <= t]  # whole bars only
    f = _before(funding, "calc_time", t) if len(funding) else funding

    oi_now = _last(m, "sum_open_interest_value")
    oi_1d = _last(m[m["create_time"] < t - pd.Timedelta(days=1)], "sum_open_interest_value")
    oi_7d = _last(m[m["create_time"] < t - pd.Timedelta(days=7)], "sum_open_interest_value")

    last_week_funding = f[f["calc_time"] >= t - pd.Timedelta(days=7)] if len(f) else f
    funding_avg = (
        float(last_week_funding["last_funding_rate"].mean())
        if len(last_week_funding)
        else float("nan")
    )
    per_day = 24 / float(f["funding_interval_hours"].iloc[-1]) if len(f) else float("nan")

    day = k[k["open_time"] >= t - pd.Timedelta(days=1)]
    quote_24h = float(day["quote_volume"].sum()) if len(day) else float("nan")
    taker_buy = float(day["taker_buy_quote_volume"].sum())
    taker_ratio = (
        taker_buy / (quote_24h - taker_buy) if len(day) and quote_24h > taker_buy else float("nan")
    )

    ys = year_start_klines[
        year_start_klines["open_time"] < min(t, pd.Timestamp(date(as_of.year, 1, 8), tz="UTC"))
    ]
    days_in_start = ys["open_time"].dt.date.nunique()
    year_start_daily = (
        float(ys["quote_volume"].sum()) / days_in_start if days_in_start else float("nan")
    )
    # a year-start average needs a whole day of data; before Jan 2 there is none yet
    volume_ratio = (
        quote_24h / year_start_daily
        if days_in_start and as_of > date(as_of.year, 1, 1)
        else float("nan")
    )

    week = k[k["open_time"] >= t - pd.Timedelta(days=7)]
    returns = np.diff(np.log(week["close"].to_numpy(float))) if len(week) > 2 else np.array([])
    vol = (
        float(np.std(returns, ddof=1) * np.sqrt(BARS_PER_YEAR_5M) * 100)
        if len(returns) > 2
        else float("nan")
    )

    return pd.DataFrame(
        [
            {
                "date": as_of, "symbol": symbol, "venue": venue,
                "price": _last(k, "close"),
                "oi_usd": oi_now,
                "oi_change_1d_pct": _pct_change(oi_now, oi_1d),
                "oi_change_7d_pct": _pct_change(oi_now, oi_7d),
                "funding_last": _last(f, "last_funding_rate") if len(f) else float("nan"),
                "funding_avg_7d": funding_avg,
                "funding_annualised_pct": funding_avg * per_day * 365 * 100,
                "long_short_account_ratio": _last(m, "count_long_short_ratio") if "count_long_short_ratio" in m else float("nan"),
                "top_trader_ratio": _last(m, "sum_toptrader_long_short_ratio") if "sum_toptrader_long_short_ratio" in m else float("nan"),
                "taker_buy_sell_ratio": taker_ratio,
                "quote_volume_24h": quote_24h,
                "volume_vs_year_start": volume_ratio,
                "realised_vol_7d_pct": vol,
            }
        ]
    )  # fmt: skip


def daily_closing_oi(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per UTC day: the last open-interest reading (USD) — the OI history chart."""
    oi = _closing_oi(metrics)
    return pd.DataFrame({"day": oi.index, "oi_usd": oi.to_numpy()})


def _closing_oi(metrics: pd.DataFrame) -> pd.Series:
    by_day = metrics.assign(day=metrics["create_time"].dt.date).groupby("day")
    return by_day["sum_open_interest_value"].last()
