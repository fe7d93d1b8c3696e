"""Coinglass payloads → frames: numbers of any JSON type, ms times, both field spellings,
both map shapes; anything else refused with a line naming the series."""

from __future__ import annotations

import math

import pytest

from liqbrief.testing.coinglass_standin import real_rows
from sources.coinglass import CoinglassFormatError
from sources.coinglass_parse import (
    liquidation_bars,
    liquidation_exchange_list,
    liquidation_map,
    ohlc_bars,
    oi_exchange_list,
)


def test_numbers_of_every_json_type_within_one_response_are_floats() -> None:
    data = [
        {"time": 1763136000000, "open": "0.007166", "high": 0.01, "low": 1, "close": "2"},
        {"time": "1763150400000.0", "open": 3, "high": "4.5", "low": 0.005892, "close": 5.25},
    ]
    frame = ohlc_bars(data, "funding")
    assert frame["time"].tolist() == [1763136000000, 1763150400000]
    assert frame.iloc[0, 1:].tolist() == [0.007166, 0.01, 1.0, 2.0]
    assert frame.iloc[1, 1:].tolist() == [3.0, 4.5, 0.005892, 5.25]


def test_real_aggregated_liquidations_parse_to_their_values() -> None:
    rows = real_rows("20251114__api_futures_liquidation_aggregated_coin_history_BTC")
    frame = liquidation_bars(rows, "liq")
    assert len(frame) == len(rows) == 1080
    assert frame["long_usd"].tolist() == [r["aggregated_long_liquidation_usd"] for r in rows]
    assert frame["short_usd"].iloc[-2] == 4363384.87277


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"time": 1763136000000}, "expected a list of rows"),
        ([{"time": 1763136000, "open": 1, "high": 1, "low": 1, "close": 1}], "not epoch milliseconds"),
        ([{"open": 1, "high": 1, "low": 1, "close": 1}], "time: None is not a number"),
        ([{"time": 1763136000000, "open": "n/a", "high": 1, "low": 1, "close": 1}], "is not a number"),
        ([{"time": 1763136000000, "open": 1, "high": 1, "low": 1}], "lacks 'close'"),
        ([{"time": 1763136000000, "open": True, "high": 1, "low": 1, "close": 1}], "is not a number"),
    ],
)  # fmt: skip
def test_a_wrong_shape_is_refused_naming_the_series(data, problem) -> None:
    with pytest.raises(CoinglassFormatError, match=problem) as error:
        ohlc_bars(data, "oi_aggregated_1d BTC")
    assert str(error.value).startswith("oi_aggregated_1d BTC") and "nothing was stored" in str(
        error.value
    )


def test_the_liquidation_exchange_list_reads_either_spelling_and_keeps_all_apart() -> None:
    rows = real_rows("20251114__api_futures_liquidation_exchange_list_BTC")
    documented = [
        {"exchange": "Binance", "liquidation_usd": "3", "long_liquidation_usd": 1, "short_liquidation_usd": "2"}
    ]  # fmt: skip
    frame = liquidation_exchange_list(rows + documented, "list")
    assert frame["exchange"].tolist()[0] == "All" and len(frame) == 11
    assert frame.iloc[0]["long_usd"] == 134120774.28484142  # from longLiquidation_usd
    assert frame.iloc[-1][["liquidation_usd", "long_usd", "short_usd"]].tolist() == [3.0, 1.0, 2.0]
    others = frame.iloc[1:-1]
    # "All" is the sum of the real rows and is not added to them
    assert others["liquidation_usd"].sum() == pytest.approx(frame.iloc[0]["liquidation_usd"])


def test_the_oi_exchange_list_keeps_the_real_values() -> None:
    rows = real_rows("20251114__api_futures_openInterest_exchange_list_BTC")
    frame = oi_exchange_list(rows, "oi list").set_index("exchange")
    assert frame.loc["All", "open_interest_usd"] == 67130599066.2341
    assert frame.loc["CME", "open_interest_change_percent_24h"] == -3.34
    assert round(frame.loc["Binance", "open_interest_usd"] / 1e9, 1) == 12.5


def test_both_map_shapes() -> None:
    documented = {"data": {"48935": [[48935, 1579370.77, 25, None], [48935, "20.5", 10, None]]}}
    frame = liquidation_map(documented, "map")
    assert frame[["price", "usd", "leverage"]].values.tolist() == [
        [48935.0, 20.5, 10.0], [48935.0, 1579370.77, 25.0]
    ]  # fmt: skip
    assert math.isnan(frame["last_price"].iloc[0])
    per_exchange = {
        "data": [
            {"liqMapV2": {"100": [[100, 5, None, None]]}, "instrument": {"exName": "Binance"}},
            {"liqMapV2": {"100": [[100, "1.5", None, None]], "101": [[101, 2, None, None]]}},
        ],
        "last_price": "100.5",
    }
    frame = liquidation_map(per_exchange, "map")
    assert frame[["price", "usd"]].values.tolist() == [[100.0, 6.5], [101.0, 2.0]]
    assert frame["leverage"].isna().all() and (frame["last_price"] == 100.5).all()


@pytest.mark.parametrize(
    "data",
    [[], {"data": [{"instrument": {}}]}, {"data": {"100": [100, 5]}}, {"data": {"1": [["x", 1]]}}],
)
def test_a_map_of_another_shape_is_refused(data) -> None:
    with pytest.raises(CoinglassFormatError, match="nothing was stored"):
        liquidation_map(data, "map")
