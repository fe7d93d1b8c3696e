"""Coinglass's map summed at ±2/3/5 %: exact values, edges, NaN leverage, several leverages
at one price."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from transforms.context.coinglass_map import cumulative_at, cumulative_table, reference_price

P0 = 100_000.0


def rows(levels: list[tuple[float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(levels, columns=["price", "usd", "leverage"])


MAP = rows(
    [
        (95_000.0, 5.0, math.nan),  # exactly −5 %: a long inside the 5 % band
        (94_999.0, 1_000.0, 10),  # just beyond −5 %: outside
        (97_000.0, 3.0, 25),  # exactly −3 %
        (98_000.0, 2.0, 50),  # exactly −2 %
        (98_000.0, 20.0, 100),  # same price, another leverage: both count
        (99_999.0, 7.0, math.nan),
        (100_000.0, 1e9, 10),  # at p0: neither side
        (100_001.0, 11.0, 10),
        (102_000.0, 13.0, math.nan),  # exactly +2 %
        (103_000.0, 17.0, 5),  # exactly +3 %
        (105_000.0, 19.0, 5),  # exactly +5 %
        (105_001.0, 2_000.0, 5),  # beyond +5 %
    ]
)


def test_each_band_sums_exactly_the_levels_inside_it() -> None:
    assert cumulative_at(MAP, P0, 2) == (2.0 + 20.0 + 7.0, 11.0 + 13.0)
    assert cumulative_at(MAP, P0, 3) == (3.0 + 22.0 + 7.0, 11.0 + 13.0 + 17.0)
    assert cumulative_at(MAP, P0, 5) == (5.0 + 3.0 + 22.0 + 7.0, 11.0 + 13.0 + 17.0 + 19.0)


def test_table_uses_the_summary_column_names() -> None:
    assert cumulative_table(MAP, P0) == {
        "cum_long_2pct": 29.0,
        "cum_short_2pct": 24.0,
        "cum_long_3pct": 32.0,
        "cum_short_3pct": 41.0,
        "cum_long_5pct": 37.0,
        "cum_short_5pct": 60.0,
    }


def test_missing_usd_counts_as_nothing_and_an_empty_map_is_zero() -> None:
    frame = rows([(99_000.0, math.nan, math.nan), (101_000.0, 4.0, math.nan)])
    assert cumulative_at(frame, P0, 2) == (0.0, 4.0)
    assert cumulative_at(rows([]), P0, 5) == (0.0, 0.0)


def test_a_bad_reference_price_is_refused() -> None:
    with pytest.raises(ValueError, match="positive number"):
        cumulative_at(MAP, math.nan, 2)


def test_reference_price_prefers_coinglass_own_price() -> None:
    with_price = MAP.assign(last_price=101_234.0)
    assert reference_price(with_price, P0) == 101_234.0
    assert reference_price(MAP.assign(last_price=math.nan), P0) == P0
    assert reference_price(MAP, P0) == P0
