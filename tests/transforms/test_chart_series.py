"""The chart series the context step stores for a date: what the briefing's price path and
open-interest chart draw, cut from the raw inputs once, with nothing of the date itself."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from tests.transforms.test_context import market_frames
from transforms.context.chart_series import (
    OI_HISTORY_DAYS,
    PRICE_PATH_DAYS,
    chart_series,
    hourly_path,
    oi_history,
    price_path,
)
from transforms.context.market import daily_closing_oi

AS_OF = date(2024, 4, 20)


def windows(metrics: pd.DataFrame, klines: pd.DataFrame, as_of: date = AS_OF):
    """The slices the context step hands over: the week and the 90 days before D."""
    end = pd.Timestamp(as_of, tz="UTC")
    week = klines[klines["open_time"].between(end - pd.Timedelta(days=PRICE_PATH_DAYS), end, inclusive="left")]  # fmt: skip
    oi = metrics[metrics["create_time"].between(end - pd.Timedelta(days=OI_HISTORY_DAYS), end, inclusive="left")]  # fmt: skip
    return week, oi


def test_the_series_round_trip_to_the_charts_inputs() -> None:
    metrics, klines, _ = market_frames(120)
    week, oi = windows(metrics, klines)
    series = chart_series(AS_OF, "BTCUSDT", week, oi)
    path = price_path(series)
    expected_path = hourly_path(week)
    assert len(path) == PRICE_PATH_DAYS * 24
    np.testing.assert_array_equal(path["close"].to_numpy(), expected_path["close"].to_numpy())
    assert list(pd.to_datetime(path["time"], utc=True)) == list(expected_path["time"])
    history = oi_history(series)
    expected = daily_closing_oi(oi)
    assert len(history) == OI_HISTORY_DAYS
    assert list(history["day"]) == list(expected["day"])
    np.testing.assert_array_equal(history["oi_usd"].to_numpy(), expected["oi_usd"].to_numpy())
    # the newest points are those known at 00:00 UTC of D, and no later
    assert history["day"].max() == AS_OF
    assert path["time"].max() == pd.Timestamp(AS_OF, tz="UTC")
    assert set(series["date"]) == {AS_OF} and set(series["symbol"]) == {"BTCUSDT"}


def test_no_input_at_or_after_the_date_changes_a_byte() -> None:
    metrics, klines, _ = market_frames(120)
    cut = pd.Timestamp(AS_OF, tz="UTC")
    changed_metrics, changed_klines = metrics.copy(), klines.copy()
    changed_metrics.loc[metrics["create_time"] >= cut, "sum_open_interest_value"] *= 7
    changed_klines.loc[klines["open_time"] >= cut, "close"] += 1_000.0
    tables = [
        chart_series(AS_OF, "BTCUSDT", *windows(m, k)).to_parquet()
        for m, k in ((metrics, klines), (changed_metrics, changed_klines))
    ]
    assert tables[0] == tables[1]


def test_empty_inputs_give_an_empty_series_of_the_right_columns() -> None:
    metrics, klines, _ = market_frames(1)
    series = chart_series(AS_OF, "BTCUSDT", klines.iloc[:0], metrics.iloc[:0])
    assert series.empty and list(series.columns) == [
        "date",
        "symbol",
        "venue",
        "series",
        "time",
        "value",
    ]
    assert price_path(series).empty and oi_history(series).empty
