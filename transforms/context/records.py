"""Historical records, updated one day at a time: all-time and year-to-date highs with their
dates, and where today stands (percent of record, rank among all days, days since).

``update_records`` needs only the previous day's records and today's values; each records
row carries the sorted history of its metric's daily values, so the rank stays exact.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from datetime import date

import pandas as pd

METRICS = ("oi_usd", "quote_volume_24h", "est_liquidated_usd", "cum_long_5pct", "cum_short_5pct")


def _row(
    as_of: date, symbol: str, venue: str, metric: str, value: float, prev: dict | None
) -> dict:
    history = list(prev["history"]) if prev is not None else []
    known = value is not None and math.isfinite(value)
    if known:
        bisect.insort(history, value)
    best, best_date = (
        (prev["all_time_max"], prev["all_time_date"]) if prev is not None else (math.nan, None)
    )
    same_year = (
        prev is not None and prev["ytd_date"] is not None and prev["date"].year == as_of.year
    )
    ytd, ytd_date = (prev["ytd_max"], prev["ytd_date"]) if same_year else (math.nan, None)
    if known and not value <= best:  # also true when best is NaN
        best, best_date = value, as_of
    if known and not value <= ytd:
        ytd, ytd_date = value, as_of
    return {
        "date": as_of, "symbol": symbol, "venue": venue, "metric": metric,
        "value": value if known else math.nan,
        "all_time_max": best, "all_time_date": best_date,
        "ytd_max": ytd, "ytd_date": ytd_date,
        "pct_of_record": value / best * 100 if known and best else math.nan,
        "rank": len(history) - bisect.bisect_right(history, value) + 1 if known else -1,
        "days": len(history),
        "days_since_record": (as_of - best_date).days if best_date is not None else -1,
        "history": history,
    }  # fmt: skip


def update_records(
    previous: pd.DataFrame | None,
    today: dict[str, float],
    as_of: date,
    symbol: str,
    venue: str = "binance",
) -> pd.DataFrame:
    """Records as of ``as_of`` from the previous records (any earlier date) and today's values."""
    by_metric = (
        {r["metric"]: r for r in previous.to_dict("records")} if previous is not None else {}
    )
    for r in by_metric.values():
        if r["date"] >= as_of:
            raise ValueError(f"previous records are dated {r['date']}, not before {as_of}")
    return pd.DataFrame(
        [_row(as_of, symbol, venue, m, today.get(m, math.nan), by_metric.get(m)) for m in METRICS]
    )


def record_values(market: pd.DataFrame, summary: pd.DataFrame) -> dict[str, float]:
    """A date's record metrics, the one definition for chained and folded records: open
    interest and 24 h volume from its market context, the 7d map's estimates."""
    values = {
        m: float(market[m].iloc[0]) if len(market) else math.nan
        for m in ("oi_usd", "quote_volume_24h")
    }
    seven = summary[summary["window"] == "7d"]
    for metric in ("est_liquidated_usd", "cum_long_5pct", "cum_short_5pct"):
        values[metric] = float(seven[metric].iloc[0]) if len(seven) else math.nan
    return values


def fold_records(
    daily: Iterable[tuple[date, dict[str, float]]], symbol: str, venue: str = "binance"
) -> pd.DataFrame | None:
    """``update_records`` over (date, values) in date order; None if there are none."""
    records = None
    for day, values in daily:
        records = update_records(records, values, day, symbol, venue)
    return records
