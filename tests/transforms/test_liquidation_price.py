"""The exact Binance formula against the design note's test vectors, to the cent."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.reference_data import load_brackets
from transforms.liquidation_price import bracket_for, check_brackets, liquidation_price

E = 100_000.0

# (side, leverage, exact, linear, naive); None where the note gives no value
VECTORS = [
    ("long", 5, 80_321.29, 80_400, 80_000),
    ("short", 5, 119_521.91, 119_600, 120_000),
    ("long", 10, 90_361.45, 90_400, 90_000),
    ("short", 10, 109_561.75, 109_600, 110_000),
    ("long", 25, 96_385.54, None, None),
    ("long", 50, 98_393.57, None, None),
    ("long", 100, 99_397.59, 99_400, 99_000),
    ("short", 100, 100_597.61, 100_600, 101_000),
    ("long", 125, 99_598.39, None, None),
]


@pytest.mark.parametrize(("side", "leverage", "exact", "linear", "naive"), VECTORS)
def test_design_note_vectors(side, leverage, exact, linear, naive) -> None:
    for formula, expected in (("exact", exact), ("linear", linear), ("naive", naive)):
        if expected is not None:
            got = float(liquidation_price(side, E, leverage, 0.004, 0.0, 10_000, formula))
            assert round(got, 2) == expected, formula


def test_large_position_uses_its_bracket_amount() -> None:
    exact = float(liquidation_price("long", E, 20, 0.025, 16_300, 5_000_000, "exact"))
    linear = float(liquidation_price("long", E, 20, 0.025, 16_300, 5_000_000, "linear"))
    assert (round(exact, 2), round(linear, 2)) == (97_101.54, 97_174.00)


def test_the_shipped_brackets_pick_the_large_position_vector_on_a_2021_date() -> None:
    brackets, _ = load_brackets("BTCUSDT")
    row = bracket_for(brackets, date(2021, 6, 1), 5_000_000)
    assert (row["mmr"], row["cum"]) == (0.025, 16_300)
    lp = float(liquidation_price("long", E, 20, row["mmr"], row["cum"], 5_000_000))
    assert round(lp, 2) == 97_101.54


def test_bracket_snapshots_are_chosen_by_date() -> None:
    brackets, _ = load_brackets("BTCUSDT")
    assert bracket_for(brackets, date(2023, 1, 1), 5_000_000)["cum"] == 46_300
    assert bracket_for(brackets, date(2026, 10, 1), 200_000)["notional_cap"] == 300_000
    with pytest.raises(ValueError, match="no maintenance bracket for a 5,000,000"):
        bracket_for(brackets, date(2026, 10, 1), 5_000_000)
    with pytest.raises(ValueError, match="snapshots start on 2021-01-01; add an earlier"):
        bracket_for(brackets, date(2019, 1, 1), 1_000)


def test_a_bracket_table_breaking_the_cum_rule_is_refused() -> None:
    brackets, _ = load_brackets("BTCUSDT")
    broken = brackets.copy()
    broken.loc[1, "cum"] = 60
    with pytest.raises(ValueError, match="does not follow"):
        check_brackets(broken)


def test_an_unknown_symbol_falls_back_to_btc_brackets_and_says_so() -> None:
    _, label = load_brackets("ETHUSDT")
    assert "fallback for ETHUSDT" in label


# (floor, cap, max leverage, mmr, cum) of the 2021 table: leverage is only allowed up to the max
BRACKETS_2021 = [
    (0, 50_000, 125, 0.004, 0),
    (50_000, 250_000, 100, 0.005, 50),
    (250_000, 1_000_000, 50, 0.01, 1_300),
    (1_000_000, 10_000_000, 20, 0.025, 16_300),
    (10_000_000, 20_000_000, 10, 0.05, 266_300),
]


@given(
    entry=st.floats(1, 1e6),
    leverage=st.sampled_from([3, 5, 10, 20, 25, 50, 75, 100, 125]),
    bracket=st.sampled_from(BRACKETS_2021),
    position=st.floats(0, 1, exclude_max=True),
)
def test_long_below_entry_below_short_for_every_allowed_tier(
    entry, leverage, bracket, position
) -> None:
    floor, cap, max_leverage, mmr, cum = bracket
    leverage = min(leverage, max_leverage)
    notional = max(floor + position * (cap - floor), 1.0)
    long_lp = float(liquidation_price("long", entry, leverage, mmr, cum, notional))
    short_lp = float(liquidation_price("short", entry, leverage, mmr, cum, notional))
    assert long_lp < entry < short_lp


def test_vectorised_sides_match_scalar_calls() -> None:
    sides = np.array([True, False, True])
    got = liquidation_price(sides, np.array([E, E, 50_000]), np.array([10, 10, 5]))
    expected = [
        float(liquidation_price(s, e, lev))
        for s, e, lev in (("long", E, 10), ("short", E, 10), ("long", 50_000, 5))
    ]
    assert got.tolist() == expected
    assert isinstance(pd.Series(got).iloc[0], float)
