"""Historical records, updated one day at a time: all-time and year-to-date highs with their
dates, and where today stands (percent of record, rank among all days, days since).

A records row is keyed by (venue, metric): venue "binance" (the book the map models) or
"all-market" (Coinglass's sum over exchanges). ``est_*`` metrics are the model's estimates,
``realised_*`` what the exchanges reported. ``update_records`` needs only the previous
day's records and today's values; each records row carries the sorted history of its
metric's daily values, so the rank stays exact.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import pandas as pd

BINANCE, ALL_MARKET = "binance", "all-market"
Key = tuple[str, str]  # (venue, metric)

BINANCE_METRICS = ("oi_usd", "quote_volume_24h", "est_liquidated_usd", "cum_long_5pct", "cum_short_5pct")  # fmt: skip
# Binance's own rows: always present (NaN values on a day without data)
BINANCE_KEYS: tuple[Key, ...] = tuple((BINANCE, m) for m in BINANCE_METRICS)
# Coinglass's rows and the market-context column each is the daily value of: present from
# the first day with a value (absent without a key, not NaN rows)
MARKET_WIDE_KEYS: dict[Key, str] = {
    (ALL_MARKET, "oi_usd"): "all_market_oi_usd",
    (BINANCE, "realised_liquidated_usd"): "realised_liq_usd",
    (ALL_MARKET, "realised_liquidated_usd"): "all_market_liq_usd",
}
ALL_KEYS: tuple[Key, ...] = BINANCE_KEYS + tuple(MARKET_WIDE_KEYS)
# the rows whose value is a UTC day's total, the day before the snapshot: Coinglass's daily
# bars (they close at 00:00 UTC of D) and the model's 24 h liquidations before 00:00 of D
DAY_TOTAL_KEYS: frozenset[Key] = frozenset(MARKET_WIDE_KEYS) | {(BINANCE, "est_liquidated_usd")}
DAY = timedelta(days=1)


def observed_day(key: Key, as_of: date) -> date:
    """The date a value known at 00:00 UTC of ``as_of`` is the value of: a reading at that
    instant (open interest, the map's cumulative levels) is dated as_of; a day's total
    (realised or estimated liquidations, a daily bar) the UTC day it sums, the day before (a
    desk says "the largest liquidation day was 10 Oct", the day it happened; estimated and
    realised liquidations of one day share a date). Record and year-to-date dates use it."""
    return as_of - DAY if key in DAY_TOTAL_KEYS else as_of


def _known(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _row(as_of: date, symbol: str, key: Key, value: float, prev: dict | None) -> dict:
    history = list(prev["history"]) if prev is not None else []
    known = _known(value)
    if known:
        bisect.insort(history, value)
    best, best_date = (
        (prev["all_time_max"], prev["all_time_date"]) if prev is not None else (math.nan, None)
    )
    day = observed_day(key, as_of)
    same_year = (
        prev is not None and prev["ytd_date"] is not None and prev["ytd_date"].year == day.year
    )
    ytd, ytd_date = (prev["ytd_max"], prev["ytd_date"]) if same_year else (math.nan, None)
    if known and not value <= best:  # also true when best is NaN
        best, best_date = value, day
    if known and not value <= ytd:
        ytd, ytd_date = value, day
    return {
        "date": as_of, "symbol": symbol, "venue": key[0], "metric": key[1],
        "value": value if known else math.nan,
        "all_time_max": best, "all_time_date": best_date,
        "ytd_max": ytd, "ytd_date": ytd_date,
        "pct_of_record": value / best * 100 if known and best else math.nan,
        "rank": len(history) - bisect.bisect_right(history, value) + 1 if known else -1,
        "days": len(history),
        "days_since_record": (day - best_date).days if best_date is not None else -1,
        "history": history,
    }  # fmt: skip


def records_by_key(records: pd.DataFrame | None) -> dict[Key, dict]:
    """Records rows by (venue, metric)."""
    if records is None:
        return {}
    return {(r["venue"], r["metric"]): r for r in records.to_dict("records")}


def update_records(
    previous: pd.DataFrame | None,
    today: Mapping[Key, float],
    as_of: date,
    symbol: str,
    required: tuple[Key, ...] = BINANCE_KEYS,
) -> pd.DataFrame:
    """Records as of ``as_of`` from the previous records (any earlier date) and today's
    values: a row for each ``required`` key, and for every other key of ALL_KEYS that the
    previous records hold or that has a value today."""
    by_key = records_by_key(previous)
    for r in by_key.values():
        if r["date"] >= as_of:
            raise ValueError(f"previous records are dated {r['date']}, not before {as_of}")
    keys = [k for k in ALL_KEYS if k in required or k in by_key or _known(today.get(k))]
    return pd.DataFrame(
        [_row(as_of, symbol, k, today.get(k, math.nan), by_key.get(k)) for k in keys]
    )


def realised_values(market: Mapping[str, float]) -> dict[Key, float]:
    """A date's market-wide record values from its market-context columns (NaN if absent)."""
    return {key: float(market.get(column, math.nan)) for key, column in MARKET_WIDE_KEYS.items()}


def record_values(market: pd.DataFrame, summary: pd.DataFrame) -> dict[Key, float]:
    """A date's record values, the one definition for chained and folded records: open
    interest, 24 h volume and the realised (Coinglass) values from its market context, the
    7d map's estimates."""
    row = market.iloc[0].to_dict() if len(market) else {}
    values = {(BINANCE, m): float(row.get(m, math.nan)) for m in ("oi_usd", "quote_volume_24h")}
    seven = summary[summary["window"] == "7d"]
    for metric in ("est_liquidated_usd", "cum_long_5pct", "cum_short_5pct"):
        values[(BINANCE, metric)] = float(seven[metric].iloc[0]) if len(seven) else math.nan
    return values | realised_values(row)


def fold_records(
    daily: Iterable[tuple[date, Mapping[Key, float]]],
    symbol: str,
    required: tuple[Key, ...] = BINANCE_KEYS,
) -> pd.DataFrame | None:
    """``update_records`` over (date, values) in date order; None if there are none (or no
    row came of them)."""
    records = None
    for day, values in daily:
        records = update_records(records, values, day, symbol, required)
    return records if records is not None and len(records) else None
