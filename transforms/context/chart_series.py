"""The series the briefing's charts draw for a date, cut once by the context step: the
hourly close of the 7 days before D and the daily closing open interest of the 90 days
before D. Stored with D's context, a briefing reads one small table instead of ninety-seven
day partitions of raw inputs (on an object store, four requests each)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from transforms.context.market import daily_closing_oi

PRICE_PATH_DAYS = 7
OI_HISTORY_DAYS = 90
PRICE_SERIES = "close_1h"  # the last 5-minute close of each hour, stamped at the hour's end
OI_SERIES = "oi_usd_1d"  # open interest (USD) as of 00:00 UTC of each day
COLUMNS = ["date", "symbol", "venue", "series", "time", "value"]


def hourly_path(klines: pd.DataFrame) -> pd.DataFrame:
    """Each hour's last close, stamped at the hour's end (when it was known)."""
    if klines.empty:
        return pd.DataFrame({"time": pd.DatetimeIndex([], tz="UTC"), "close": []})
    hourly = klines.set_index("open_time")["close"].resample("1h").last().dropna()
    return pd.DataFrame({"time": hourly.index + pd.Timedelta(hours=1), "close": hourly.to_numpy()})


def chart_series(
    as_of: date, symbol: str, week_klines: pd.DataFrame, oi_metrics: pd.DataFrame
) -> pd.DataFrame:
    """D's chart series: ``week_klines`` are the 5-minute klines of the 7 days before D,
    ``oi_metrics`` the open-interest readings of the 90 days before D (nothing of D itself)."""
    path = hourly_path(week_klines)
    oi = daily_closing_oi(oi_metrics)
    oi_times = [pd.Timestamp(day, tz="UTC") for day in oi["day"]]
    return pd.DataFrame(
        {
            "date": [as_of] * (len(path) + len(oi)),
            "symbol": symbol,
            "venue": "binance",
            "series": [PRICE_SERIES] * len(path) + [OI_SERIES] * len(oi),
            "time": pd.to_datetime([*path["time"], *oi_times], utc=True),
            "value": np.asarray([*path["close"], *oi["oi_usd"]], dtype=float),
        }
    )


def price_path(series: pd.DataFrame) -> pd.DataFrame:
    """The hourly close (time, close) from a date's chart series."""
    rows = series[series["series"] == PRICE_SERIES]
    return pd.DataFrame({"time": rows["time"].to_numpy(), "close": rows["value"].to_numpy()})


def oi_history(series: pd.DataFrame) -> pd.DataFrame:
    """The daily open interest (day, oi_usd) from a date's chart series."""
    rows = series[series["series"] == OI_SERIES]
    days = [t.date() for t in pd.to_datetime(rows["time"], utc=True)]
    return pd.DataFrame({"day": days, "oi_usd": rows["value"].to_numpy()})
