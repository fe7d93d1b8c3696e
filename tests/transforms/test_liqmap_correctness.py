"""The model's corrected steps (design note 1, 7 and 9) and its refusals: cohorts from
contracts, the per-side shrink, a grid without look-ahead, stale snapshots, leverage limits."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from liqbrief.testing.synthetic_market import Market, synthetic_market
from tests.transforms.liqmap_cases import BRACKETS, SNAPSHOT, TEN_X_ONLY, three_bar_case
from transforms.liqmap.config import ModelConfig, TierMix
from transforms.liqmap.engine import LiquidationMaps, liquidation_maps
from transforms.liquidation_price import LeverageError, check_position, liquidation_price

START = date(2024, 1, 1)


def maps_for(market: Market, dates: list[date], symbol: str = "BTCUSDT", **kw) -> LiquidationMaps:
    return liquidation_maps(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, dates, ModelConfig(),
        symbol=symbol, **kw,
    )  # fmt: skip


def as_bytes(maps: LiquidationMaps) -> bytes:
    """Every table of a map, serialised exactly (floats by repr)."""
    out = io.StringIO()
    for frame in (maps.bins, maps.summary, maps.heatmap):
        frame.to_csv(out, index=False, float_format="%r")
    return out.getvalue().encode()


def test_flat_contracts_open_nothing_whatever_the_price_does() -> None:
    """With contracts flat the USD open interest still swings with the price; a model that
    differenced it would open and close cohorts out of nothing."""
    market = synthetic_market(START, 10, seed=3, vol_per_minute=0.002)
    flat = market.metrics.assign(sum_open_interest=100_000.0)
    flat = flat.assign(
        sum_open_interest_value=flat["sum_open_interest"] * market.klines_5m["close"]
    )
    assert flat["sum_open_interest_value"].diff().abs().max() > 1e6  # USD OI moves a lot
    dates = [START + timedelta(days=d) for d in (3, 7, 10)]
    maps = liquidation_maps(
        flat, market.klines_5m, market.mark_1m, BRACKETS, dates, symbol="BTCUSDT",
        heatmap_dates=dates,
    )  # fmt: skip
    assert maps.bins.empty and maps.heatmap.empty
    assert (
        (maps.summary[["long_total_usd", "short_total_usd", "est_liquidated_usd"]] == 0).all().all()
    )
    assert len(maps.summary) == 3 * 3


def test_shrink_divides_by_what_remained_after_the_liquidations_per_side() -> None:
    """Three bars: +10 contracts, then −15 with the 10 new longs liquidated. Longs: 10 of the 15
    were liquidations, 5 voluntary; shorts: all 15 voluntary out of 110 held."""
    metrics, klines, mark = three_bar_case()
    # a 5x cohort survives the 90,000 low, so the long side shows its own shrink
    config = ModelConfig(tiers=TierMix({5: 0.5, 10: 0.5}, {5: 0.5, 10: 0.5}))
    maps = liquidation_maps(metrics, klines, mark, BRACKETS, [SNAPSHOT], config, symbol="BTCUSDT")
    bins = maps.bins[maps.bins["window"] == "1d"].set_index(["side", "tier"])["notional_usd"]
    # long 10x (5 contracts) liquidated: K_long = 5; V_long = 15 − 5 = 10 of C − K = 105
    assert bins.loc[("long", 5)] == pytest.approx(5 * 100_000 * (1 - 10 / 105), rel=1e-12)
    assert ("long", 10) not in bins.index
    # shorts: K_short = 0; V_short = 15 of 110
    for tier in (5, 10):
        assert bins.loc[("short", tier)] == pytest.approx(5 * 100_000 * (1 - 15 / 110), rel=1e-12)
    assert maps.summary["shrink_clamped_bars"].eq(0).all()


def test_a_ratio_clamped_at_zero_is_flagged() -> None:
    metrics, klines, mark = three_bar_case()
    emptied = metrics.assign(sum_open_interest=[100.0, 110.0, 0.0, 0.0])  # every contract closed
    maps = liquidation_maps(
        emptied, klines, mark, BRACKETS, [SNAPSHOT], TEN_X_ONLY, symbol="BTCUSDT"
    )
    assert maps.summary["shrink_clamped_bars"].eq(1).all()
    assert maps.bins["notional_usd"].max() < 1e-3  # the short shrank to (almost) nothing


def perturb_market(
    market: Market,
    picked: Callable[[pd.Series], pd.Series],
    scale: Callable[[pd.Series, np.random.Generator], pd.Series],
    seed: int,
) -> Market:
    """Every price, volume and contract column changed by ``scale`` on the rows whose time
    ``picked`` selects (draws in a fixed order: frame by frame, column by column)."""
    rng = np.random.default_rng(seed)

    def change(frame: pd.DataFrame, column: str, columns: list[str]) -> pd.DataFrame:
        frame = frame.copy()
        rows = picked(frame[column])
        for name in columns:
            frame.loc[rows, name] = scale(frame.loc[rows, name], rng)
        return frame

    prices = ["open", "high", "low", "close"]
    return Market(
        change(market.metrics, "create_time", ["sum_open_interest", "sum_open_interest_value"]),
        change(market.klines_5m, "open_time", [*prices, "volume", "quote_volume"]),
        change(market.mark_1m, "open_time", prices),
    )


def perturb_after(market: Market, t: pd.Timestamp, seed: int = 99) -> Market:
    """A different future: from t on, prices quadruple with noise and contracts jump about."""
    return perturb_market(
        market, lambda times: times >= t,
        lambda values, rng: values * 4 * rng.uniform(0.5, 1.5, len(values)), seed,
    )  # fmt: skip


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_a_snapshot_does_not_change_when_anything_after_it_changes(symbol: str) -> None:
    """ETHUSDT's grid comes from its P0: a later rally must not change the bin size."""
    price = 60_000.0 if symbol == "BTCUSDT" else 2_000.0
    market = synthetic_market(START, 20, seed=5, price=price, vol_per_minute=0.001)
    day = START + timedelta(days=7)  # more days after it than before: the whole-run median moves
    t = pd.Timestamp(day, tz="UTC")
    before = maps_for(market, [day], symbol, heatmap_dates=[day])
    after = maps_for(perturb_after(market, t), [day], symbol, heatmap_dates=[day])
    assert len(before.bins) > 100 and len(before.heatmap) > 100
    assert as_bytes(before) == as_bytes(after)
    # the same run also maps later dates, whose maps do see the new future
    later = START + timedelta(days=12)
    assert as_bytes(maps_for(market, [later], symbol)) != as_bytes(
        maps_for(perturb_after(market, t), [later], symbol)
    )


def test_a_dates_map_is_the_same_alone_in_a_month_and_in_a_year() -> None:
    """Same history before the date; the runs differ only in how far they reach after it."""
    market = synthetic_market(START, 400, seed=8, price=2_000.0, vol_per_minute=0.0008)
    day = START + timedelta(days=35)

    def upto(last: date) -> Market:
        end = pd.Timestamp(last, tz="UTC")
        return Market(*(
            frame[frame[column] < end]
            for frame, column in ((market.metrics, "create_time"), (market.klines_5m, "open_time"),
                                  (market.mark_1m, "open_time"))
        ))  # fmt: skip

    alone = maps_for(upto(day), [day], "ETHUSDT", heatmap_dates=[day])
    month_dates = [day + timedelta(days=d) for d in range(-5, 25)]
    month = maps_for(upto(month_dates[-1]), month_dates, "ETHUSDT", heatmap_dates=[day])
    year_dates = [START + timedelta(days=d) for d in range(31, 400)]
    year = maps_for(market, year_dates, "ETHUSDT", heatmap_dates=[day])
    bin_sizes = year.summary["bin_size"].unique()
    assert len(bin_sizes) > 1  # the price moved enough for the P0 grid to change over the year

    def only(maps: LiquidationMaps) -> LiquidationMaps:
        return LiquidationMaps(
            *(frame[frame["date"] == day].reset_index(drop=True)
              for frame in (maps.bins, maps.summary, maps.heatmap)),
            {},
        )  # fmt: skip

    assert as_bytes(only(alone)) == as_bytes(only(month)) == as_bytes(only(year))


def test_dates_without_fresh_price_or_open_interest_get_no_map() -> None:
    market = synthetic_market(START, 10, seed=4)
    cut = pd.Timestamp(START + timedelta(days=6), tz="UTC")
    no_oi = market.metrics[market.metrics["create_time"] < cut]  # OI stops on day 6
    dates = [START + timedelta(days=d) for d in (5, 6, 7, 15)]
    maps = liquidation_maps(
        no_oi, market.klines_5m, market.mark_1m, BRACKETS, dates, symbol="BTCUSDT",
        heatmap_dates=dates,
    )  # fmt: skip
    assert set(maps.summary["date"]) == {dates[0], dates[1]}
    assert set(maps.heatmap["date"]) == {dates[0], dates[1]}
    assert maps.missing[dates[2]] == "no open-interest reading in the hour before the snapshot"
    assert "price" in maps.missing[dates[3]]  # day 15: no price either, fifteen days stale


@pytest.mark.parametrize(
    ("entry", "leverage", "message"),
    [
        (100_000.0, 0.5, "below 1x"),
        (100_000.0, float("nan"), "finite"),
        (float("inf"), 10.0, "finite"),
        (-5.0, 10.0, "positive"),
    ],
)
def test_liquidation_prices_refuse_what_no_venue_accepts(
    entry: float, leverage: float, message: str
) -> None:
    with pytest.raises(LeverageError, match=message):
        liquidation_price("long", entry, leverage)


def test_leverage_above_the_brackets_maximum_is_refused() -> None:
    with pytest.raises(LeverageError, match="above the bracket's maximum of 125x"):
        check_position(100_000.0, 1000.0, 125.0)
    check_position(100_000.0, 125.0, 125.0)  # the maximum itself is allowed


def test_the_engine_refuses_a_tier_the_brackets_do_not_allow() -> None:
    metrics, klines, mark = three_bar_case()
    too_much = ModelConfig(tiers=TierMix({10: 0.5, 125: 0.5}, {10: 1.0}), position_notional=60_000)
    with pytest.raises(ValueError, match="125x exceeds the maximum 100x"):
        liquidation_maps(metrics, klines, mark, BRACKETS, [SNAPSHOT], too_much, symbol="BTCUSDT")
