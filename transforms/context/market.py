"""Market context for one symbol as of a snapshot time T (00:00 UTC of the date): price,
open interest and its changes, funding, positioning ratios, volume and volatility — from
rows strictly before T only, and only fresh ones: a level "now" is the last reading of the
day before T (NaN if that day has none, rather than an older value shown as current), a
level "1 day / 7 days ago" the last reading of the day before T − 1 d / T − 7 d."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np
import pandas as pd

BAR = pd.Timedelta(minutes=5)
BARS_PER_DAY = 288
BARS_PER_YEAR_5M = 365 * BARS_PER_DAY
MIN_DAY_COVERAGE = 0.95  # share of a day's 5-minute bars a 24 h sum needs
DAY = pd.Timedelta(days=1)
MIN_RETURNS = BARS_PER_DAY  # fewer adjacent-bar returns (a day's worth): no 7-day volatility


# from Coinglass's daily bars (NaN without them): values at 00:00 UTC of D, the bars dated D - 1
MARKET_WIDE_COLUMNS = (
    "all_market_oi_usd", "binance_oi_share_pct",
    "realised_liq_long_usd", "realised_liq_short_usd", "realised_liq_usd",
    "all_market_liq_long_usd", "all_market_liq_short_usd", "all_market_liq_usd",
    "oi_weighted_funding_pct",
)  # fmt: skip


def _before(frame: pd.DataFrame, column: str, t: pd.Timestamp) -> pd.DataFrame:
    return frame[frame[column] < t].sort_values(column)


def _last_in(frame: pd.DataFrame, time_column: str, column: str, end: pd.Timestamp) -> float:
    """The last ``column`` reading in the day before ``end`` (time-sorted ``frame``)."""
    if column not in frame:
        return float("nan")
    times = frame[time_column]
    rows = frame[(times >= end - DAY) & (times < end)]
    return float(rows[column].iloc[-1]) if len(rows) else float("nan")


def _pct_change(now: float, then: float) -> float:
    return (now / then - 1) * 100 if np.isfinite(then) and then else float("nan")


def open_interest(metrics: pd.DataFrame, t: pd.Timestamp) -> dict[str, float]:
    """OI (USD) at T and its change over 1 and 7 days."""
    at = {k: _last_in(metrics, "create_time", "sum_open_interest_value", t - k * DAY) for k in (0, 1, 7)}  # fmt: skip
    return {
        "oi_usd": at[0],
        "oi_change_1d_pct": _pct_change(at[0], at[1]),
        "oi_change_7d_pct": _pct_change(at[0], at[7]),
    }


def positioning(metrics: pd.DataFrame, t: pd.Timestamp) -> dict[str, float]:
    return {
        "long_short_account_ratio": _last_in(metrics, "create_time", "count_long_short_ratio", t),
        "top_trader_ratio": _last_in(metrics, "create_time", "sum_toptrader_long_short_ratio", t),
    }


def funding(rates: pd.DataFrame, t: pd.Timestamp) -> dict[str, float]:
    """Last rate (within the day before T), 7-day average, and that average annualised at
    the last settlement interval."""
    week = rates[rates["calc_time"] >= t - 7 * DAY] if len(rates) else rates
    average = float(week["last_funding_rate"].mean()) if len(week) else float("nan")
    per_day = 24 / float(week["funding_interval_hours"].iloc[-1]) if len(week) else float("nan")
    return {
        "funding_last": _last_in(rates, "calc_time", "last_funding_rate", t),
        "funding_avg_7d": average,
        "funding_annualised_pct": average * per_day * 365 * 100,
    }


def volume(
    klines: pd.DataFrame, year_start: pd.DataFrame, as_of: date, t: pd.Timestamp
) -> dict[str, float]:
    """24 h quote volume and taker buy/sell ratio (unknown when more than 5 % of the day's
    bars are missing: a partial sum is not a day's volume), and that volume against the
    year's first 7 days (before T; none before 2 January) per bar, so a gap there does not
    count as a quiet day."""
    day = klines[klines["open_time"] >= t - DAY]
    whole = len(day) >= MIN_DAY_COVERAGE * BARS_PER_DAY
    quote = float(day["quote_volume"].sum()) if whole else float("nan")
    buy = float(day["taker_buy_quote_volume"].sum())
    start_end = min(t, pd.Timestamp(date(as_of.year, 1, 8), tz="UTC"))
    ys = year_start[year_start["open_time"] < start_end]
    enough = len(ys) >= BARS_PER_DAY  # a day's worth of bars (none on 1 January)
    per_day = float(ys["quote_volume"].mean()) * BARS_PER_DAY if enough else float("nan")
    return {
        "taker_buy_sell_ratio": buy / (quote - buy) if whole and quote > buy else float("nan"),
        "quote_volume_24h": quote,
        "volume_vs_year_start": quote / per_day if per_day else float("nan"),
    }  # fmt: skip


def realised_volatility(klines: pd.DataFrame, t: pd.Timestamp) -> float:
    """Annualised % volatility of 5-minute log returns over the 7 days before T. Returns
    are taken only between adjacent bars: a return across missing bars is not a 5-minute
    return and would inflate the annualised figure."""
    week = klines[klines["open_time"] >= t - 7 * DAY]
    times = week["open_time"].to_numpy("datetime64[ns]")
    log_close = np.log(week["close"].to_numpy(float))
    adjacent = np.diff(times) == np.timedelta64(BAR)
    returns = np.diff(log_close)[adjacent]
    if len(returns) < MIN_RETURNS:
        return float("nan")
    return float(np.std(returns, ddof=1) * np.sqrt(BARS_PER_YEAR_5M) * 100)


def _bar_before(bars: pd.DataFrame | None, as_of: date) -> pd.Series | None:
    """The daily bar dated D − 1 (it closes at 00:00 UTC of D), or None: never an older bar
    (stale shown as current) and never a later one (not known at 00:00 of D)."""
    if bars is None or not len(bars):
        return None
    rows = bars[bars["time"] == pd.Timestamp(as_of, tz="UTC") - DAY]
    return rows.iloc[-1] if len(rows) else None


def _field(bar: pd.Series | None, column: str) -> float:
    return float(bar[column]) if bar is not None else float("nan")


def _liquidations(prefix: str, bar: pd.Series | None) -> dict[str, float]:
    """Realised long, short and long + short liquidations (USD) of one daily bar."""
    long, short = _field(bar, "long_usd"), _field(bar, "short_usd")
    return {f"{prefix}_long_usd": long, f"{prefix}_short_usd": short, f"{prefix}_usd": long + short}


# the daily bar fields each market-wide record value is the sum of (see ``market_wide``)
RECORD_BARS: dict[str, tuple[str, tuple[str, ...]]] = {
    "all_market_oi_usd": ("oi_aggregated_1d", ("close",)),
    "realised_liq_usd": ("liquidations_binance_1d", ("long_usd", "short_usd")),
    "all_market_liq_usd": ("liquidations_all_1d", ("long_usd", "short_usd")),
}


def known_bars(coinglass: Mapping[str, pd.DataFrame], column: str) -> tuple[np.ndarray, np.ndarray]:
    """The times (sorted) and values of the daily bars that give market-wide ``column`` a
    value (every field finite), summed as ``market_wide`` sums them: comparing them with a
    record's history tells, without a fold, whether the record still matches the lake."""
    name, fields = RECORD_BARS[column]
    bars = coinglass.get(name)
    if bars is None or not len(bars):
        return np.array([], dtype="datetime64[ns]"), np.array([], dtype=float)
    parts = bars[list(fields)].to_numpy(float)
    finite = np.isfinite(parts).all(axis=1)
    values = parts[:, 0] if len(fields) == 1 else parts[:, 0] + parts[:, 1]
    return bars["time"].to_numpy("datetime64[ns]")[finite], values[finite]


def market_wide(
    as_of: date, oi_usd: float, coinglass: Mapping[str, pd.DataFrame]
) -> dict[str, float]:
    """The MARKET_WIDE_COLUMNS of D from Coinglass's daily bars dated D − 1 (``coinglass``:
    the lake's frames by dataset name; a missing frame or bar gives NaN). The share is the
    book our map models (Binance's ``oi_usd`` at 00:00 of D) over all-market OI at the same
    instant."""
    all_market_oi = _field(_bar_before(coinglass.get("oi_aggregated_1d"), as_of), "close")
    share = oi_usd / all_market_oi * 100 if all_market_oi > 0 else float("nan")  # NaN: False
    funding = _bar_before(coinglass.get("funding_oi_weighted_1d"), as_of)
    return {
        "all_market_oi_usd": all_market_oi,
        "binance_oi_share_pct": share,
        **_liquidations("realised_liq", _bar_before(coinglass.get("liquidations_binance_1d"), as_of)),
        **_liquidations("all_market_liq", _bar_before(coinglass.get("liquidations_all_1d"), as_of)),
        "oi_weighted_funding_pct": _field(funding, "close"),
    }  # fmt: skip


def market_context(
    as_of: date,
    symbol: str,
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    funding_rates: pd.DataFrame,
    year_start_klines: pd.DataFrame,
    venue: str = "binance",
    coinglass: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row. ``year_start_klines``: 5m klines of the first 7 days of as_of's year;
    ``coinglass``: the coin's Coinglass daily bars by dataset name (see ``market_wide``)."""
    t = pd.Timestamp(as_of, tz="UTC")
    m = _before(metrics, "create_time", t)
    k = _before(klines_5m, "open_time", t)
    k = k[k["open_time"] + BAR <= t]  # whole bars only
    f = _before(funding_rates, "calc_time", t) if len(funding_rates) else funding_rates
    oi = open_interest(m, t)
    row = {
        "date": as_of, "symbol": symbol, "venue": venue,
        "price": _last_in(k, "open_time", "close", t),
        **oi, **funding(f, t), **positioning(m, t),
        **volume(k, year_start_klines, as_of, t),
        "realised_vol_7d_pct": realised_volatility(k, t),
        **market_wide(as_of, oi["oi_usd"], coinglass or {}),
    }  # fmt: skip
    return pd.DataFrame([row])


def daily_closing_oi(metrics: pd.DataFrame) -> pd.DataFrame:
    """Open interest (USD) as of 00:00 UTC of each day D — the last reading of D − 1 — for the
    OI history chart: dated like the briefing and its records, so a record set "on D" is the
    chart's point at D."""
    by_day = metrics.assign(day=metrics["create_time"].dt.date).groupby("day")
    oi = by_day["sum_open_interest_value"].last()
    as_of = [day + timedelta(days=1) for day in oi.index]
    return pd.DataFrame({"day": as_of, "oi_usd": oi.to_numpy()})
