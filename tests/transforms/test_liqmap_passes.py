"""A date's map does not depend on the range it is made in (liquidation-model.md step 9):
each date's pass starts on a day fixed by the date (transforms/liqmap/passes.py), so its map
is byte-identical computed alone, in its month or in a longer range, and nothing before that
start can change it."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from liqbrief.testing.synthetic_market import Market, market_reader, synthetic_market
from tests.transforms.liqmap_cases import BRACKETS
from tests.transforms.test_liqmap_correctness import as_bytes, perturb_market
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import LiquidationMaps, liquidation_maps
from transforms.liqmap.passes import (
    MonthlyPasses,
    by_month,
    first_mapped_on_or_after,
    last_day_of_month,
    pass_start,
)

START = date(2024, 1, 1)
MARKET = synthetic_market(START, 100, seed=5, vol_per_minute=0.0009)
DAY = date(2024, 3, 17)  # its pass starts 2024-01-31


def maps_of(market: Market, dates: list[date]) -> LiquidationMaps:
    """The maps of ``dates`` as the flows make them, from inputs known up to the last."""
    read = market_reader(market)
    passes = MonthlyPasses(read, BRACKETS, ModelConfig(), "BTCUSDT", max(dates))
    return passes.parts(dates, dates).frames("BTCUSDT", "binance")


def only(maps: LiquidationMaps, day: date) -> LiquidationMaps:
    def of_day(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[pd.to_datetime(frame["date"]).dt.date == day].reset_index(drop=True)

    return LiquidationMaps(of_day(maps.bins), of_day(maps.summary), of_day(maps.heatmap), {})


def perturb_before(market: Market, t: pd.Timestamp, seed: int = 3) -> Market:
    """A different past: before t, prices and contracts scaled by noise."""
    return perturb_market(
        market, lambda times: times < t,
        lambda values, rng: values * rng.uniform(0.7, 1.3, len(values)), seed,
    )  # fmt: skip


def test_pass_start_is_the_longest_window_before_the_first_of_the_month() -> None:
    assert pass_start(date(2024, 3, 17)) == date(2024, 1, 31)
    assert pass_start(date(2024, 3, 1)) == date(2024, 1, 31)
    assert pass_start(date(2024, 2, 29)) == date(2024, 1, 2)
    assert last_day_of_month(date(2024, 2, 1)) == last_day_of_month(date(2024, 2, 29))
    assert last_day_of_month(date(2024, 1, 31)) == date(2024, 1, 31)
    assert last_day_of_month(date(2024, 2, 1)) == date(2024, 2, 29)
    # the first date mapped from a first stored day: the brackets' 2021-01-01, the archive's
    assert first_mapped_on_or_after(date(2021, 1, 1)) == date(2021, 2, 1)
    assert pass_start(date(2021, 2, 1)) == date(2021, 1, 2)
    assert first_mapped_on_or_after(date(2019, 9, 1)) == date(2019, 10, 1)
    assert pass_start(date(2019, 10, 1)) == date(2019, 9, 1)
    assert by_month([date(2024, 3, 2), date(2024, 2, 9), date(2024, 3, 1)]) == [
        (date(2024, 2, 1), [date(2024, 2, 9)]),
        (date(2024, 3, 1), [date(2024, 3, 1), date(2024, 3, 2)]),
    ]


def test_one_pass_from_an_earlier_start_gives_another_map() -> None:
    """Why the pass start is fixed: the engine's one pass over a longer history maps the same
    date differently (older cohorts' liquidations feed step 7's shrink)."""
    whole = market_reader(MARKET)(START, DAY)
    short = market_reader(MARKET)(DAY - timedelta(days=30), DAY)

    def one_pass(inputs: dict[str, pd.DataFrame]) -> bytes:
        maps = liquidation_maps(
            inputs["metrics"], inputs["klines_5m"], inputs["mark_klines_1m"], BRACKETS, [DAY],
            ModelConfig(), symbol="BTCUSDT",
        )  # fmt: skip
        return as_bytes(maps)

    assert one_pass(whole) != one_pass(short)


def test_a_dates_map_is_identical_alone_in_its_month_and_in_a_longer_range() -> None:
    alone = maps_of(MARKET, [DAY])
    month = [date(2024, 3, d) for d in range(1, 32)]
    in_month = maps_of(MARKET, month)
    in_range = maps_of(MARKET, [START + timedelta(days=d) for d in range(31, 99)])
    assert len(alone.summary) == 3 and not alone.bins.empty and not alone.heatmap.empty
    assert as_bytes(alone) == as_bytes(only(in_month, DAY)) == as_bytes(only(in_range, DAY))


def test_nothing_before_the_pass_start_changes_the_map() -> None:
    """Every input before the date's pass start perturbed: the date's map keeps its bytes,
    while a date of the month before, whose pass reads those days, changes."""
    cut = pd.Timestamp(pass_start(DAY), tz="UTC")
    earlier_day = date(2024, 2, 20)  # its pass starts 2024-01-02
    dates = [earlier_day, DAY]
    base = maps_of(MARKET, dates)
    changed = maps_of(perturb_before(MARKET, cut), dates)
    assert as_bytes(only(changed, DAY)) == as_bytes(only(base, DAY))
    assert as_bytes(only(changed, earlier_day)) != as_bytes(only(base, earlier_day))
