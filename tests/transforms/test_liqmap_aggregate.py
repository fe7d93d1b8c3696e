"""The aggregated map equals the sum of the per-venue maps, bin by bin and in its totals."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqbrief.testing.synthetic_market import synthetic_market
from sources.reference_data import load_margin_rules
from transforms.liqmap.aggregate import (
    SUMMED_COLUMNS,
    aggregate_label,
    aggregate_members,
    aggregate_parts,
)
from transforms.liqmap.config import WINDOWS, ModelConfig
from transforms.liqmap.engine import parts_from_stream, streamed_pass
from transforms.liqmap.map_tables import LiquidationMaps, MapGrid, MapParts

START = date(2025, 8, 1)  # the shipped OKX tiers start 2025-07-23
DATES = [START + timedelta(days=d) for d in (31, 32, 33)]
KEYS = ["date", "window", "bin_lo", "side", "tier"]


def venue_parts(venue: str, seed: int, oi_scale: float, basis: float = 0.0) -> MapParts:
    market = synthetic_market(START, 34, seed=seed, path_seed=7, basis=basis)
    oi = market.metrics["sum_open_interest"] * oi_scale
    rules, _ = load_margin_rules("BTCUSDT", venue)
    streamed = streamed_pass(
        market.metrics.assign(sum_open_interest=oi), market.klines_5m, market.mark_1m, rules,
        ModelConfig(), symbol="BTCUSDT",
    )  # fmt: skip
    return parts_from_stream(
        streamed, DATES, ModelConfig(), symbol="BTCUSDT", venue=venue, heatmap_dates=DATES[-1:]
    )


@pytest.fixture(scope="module")
def venue_parts_3() -> dict[str, MapParts]:
    return {
        "binance": venue_parts("binance", 7, 1.0),
        "bybit": venue_parts("bybit", 7, 0.6),  # same path, a smaller book
        "okx": venue_parts("okx", 11, 0.4, 0.004),  # another book, 0.4 % basis: another P0
    }


@pytest.fixture(scope="module")
def three_venues(venue_parts_3) -> dict[str, LiquidationMaps]:
    return {v: p.frames("BTCUSDT", v) for v, p in venue_parts_3.items()}


@pytest.fixture(scope="module")
def aggregated(venue_parts_3) -> LiquidationMaps:
    return aggregate_parts(venue_parts_3, "BTCUSDT").frames("BTCUSDT", "all")


def summed_by_hand(by_venue: dict[str, LiquidationMaps]) -> pd.Series:
    frame = pd.concat([m.bins for m in by_venue.values()])
    return frame.groupby(KEYS)["notional_usd"].sum()


def test_engine_maps_of_three_venues_sum_bin_by_bin(three_venues, aggregated) -> None:
    agg = aggregated
    assert set(agg.bins["venue"]) == {"all"} and not agg.missing
    got = agg.bins.groupby(KEYS)["notional_usd"].sum()
    expected = summed_by_hand(three_venues)
    assert got.index.equals(expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)
    # each venue's maps differ (their own formula, book and path), so the sum is not trivial
    assert three_venues["bybit"].bins["notional_usd"].sum() > 0
    assert (
        three_venues["okx"].summary["p0"].iloc[0] != three_venues["binance"].summary["p0"].iloc[0]
    )


def test_totals_and_estimated_liquidations_are_the_venues_sums(three_venues, aggregated) -> None:
    agg = aggregated.summary.set_index(["date", "window"])
    venues = pd.concat([m.summary for m in three_venues.values()]).groupby(["date", "window"])
    for column in ("long_total_usd", "short_total_usd", *SUMMED_COLUMNS):
        np.testing.assert_allclose(agg[column], venues[column].sum().loc[agg.index], rtol=1e-12)


def test_key_levels_come_from_the_summed_curves_on_binances_p0(three_venues, aggregated) -> None:
    agg = aggregated
    binance = three_venues["binance"].summary.set_index(["date", "window"])
    bins = pd.concat([m.bins for m in three_venues.values()])
    for row in agg.summary.itertuples(index=False):
        p0 = binance.loc[(row.date, row.window), "p0"]
        assert row.p0 == p0
        mine = bins[(bins["date"] == row.date) & (bins["window"] == row.window)]
        longs = mine[(mine["side"] == "long") & (mine["bin_lo"] >= p0 * 0.95 - 1e-9)]
        longs = longs[longs["bin_lo"] < p0]
        assert row.cum_long_5pct == pytest.approx(longs["notional_usd"].sum(), rel=1e-12)
        shorts = mine[(mine["side"] == "short") & (mine["bin_hi"] > p0)]
        shorts = shorts[shorts["bin_hi"] <= p0 * 1.02 + 1e-9]
        assert row.cum_short_2pct == pytest.approx(shorts["notional_usd"].sum(), rel=1e-12)
    assert (agg.summary["cum_long_5pct"] > 0).any()


def test_heatmaps_sum_too(three_venues, aggregated) -> None:
    agg = aggregated
    total = sum(m.heatmap["notional_usd"].sum() for m in three_venues.values())
    assert agg.heatmap["notional_usd"].sum() == pytest.approx(total, rel=1e-12)


def test_the_label_names_the_three_venues() -> None:
    assert aggregate_label() == "Binance + Bybit + OKX"


# -- property: any per-venue bins on the shared lattice -------------------------------------
SIZE = 100.0


def fake_parts(venue: str, p0: float, cells: list[tuple], days: list[date]) -> MapParts:
    """A venue's MapParts as the engine fills them: per map its grid of bins k·100."""
    tiers = np.array([10, 25, 100])
    parts = MapParts(tiers)
    summed: dict[tuple[int, int, int], float] = {}
    for k, side, tier, usd in cells:
        key = (k, side, int(np.searchsorted(tiers, tier)))
        summed[key] = summed.get(key, 0.0) + usd
    first = int(p0 * 0.8 // SIZE)  # the engine's grid: P0 ± 20 %, cells outside it widen it
    k = [key[0] for key in summed] + [first, int(p0 * 1.2 // SIZE)]
    grid = np.zeros((max(k) - min(k) + 1, 2, len(tiers)))
    for (k_cell, side, tier), usd in summed.items():
        grid[k_cell - min(k), side, tier] = usd
    edges = (min(k) + np.arange(len(grid) + 1)) * SIZE
    for day in days:
        for window_index, window in enumerate(WINDOWS):
            parts.grids.append(MapGrid(day, window_index, edges, grid, p0, 1_000.0))
            parts.summary_rows.append(
                {"date": day, "symbol": "BTCUSDT", "venue": venue, "window": window,
                 "p0_from_last_price": False, "bin_size": SIZE, "brackets_source": f"{venue}.csv"}
                | dict.fromkeys(SUMMED_COLUMNS, 1.0)
            )  # fmt: skip
    return parts


cell = st.tuples(
    st.integers(800, 1200), st.integers(0, 1), st.sampled_from([10, 25, 100]),
    st.floats(1.0, 1e7, allow_nan=False),
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    p0s=st.lists(st.floats(99_000, 101_000), min_size=3, max_size=3),  # one market
    cells=st.lists(st.lists(cell, max_size=25), min_size=3, max_size=3),
    okx_misses_a_day=st.booleans(),
)
def test_property_aggregate_is_the_sum(p0s, cells, okx_misses_a_day) -> None:
    days = [date(2025, 1, 1), date(2025, 1, 2)]
    parts = {
        v: fake_parts(v, p0, c, days[1:] if (v == "okx" and okx_misses_a_day) else days)
        for v, p0, c in zip(("binance", "bybit", "okx"), p0s, cells, strict=True)
    }
    by_venue = {v: p.frames("BTCUSDT", v) for v, p in parts.items()}
    agg = aggregate_parts(parts, "BTCUSDT").frames("BTCUSDT", "all")
    kept = days[1:] if okx_misses_a_day else days
    assert sorted(agg.missing) == ([days[0]] if okx_misses_a_day else [])
    if okx_misses_a_day:
        assert "okx: no map" in agg.missing[days[0]]
    expected = pd.concat([m.bins[m.bins["date"].isin(kept)] for m in by_venue.values()])
    expected = expected.groupby(KEYS)["notional_usd"].sum()
    got = agg.bins.groupby(KEYS)["notional_usd"].sum() if len(agg.bins) else expected.iloc[:0]
    assert got.index.equals(expected.index)
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=1e-12)
    summary = agg.summary
    assert sorted(set(summary["date"])) == kept and set(summary["p0"]) == {p0s[0]}
    for side in ("long", "short"):
        want = (
            expected[expected.index.get_level_values("side") == side]
            .groupby(["date", "window"])
            .sum()
        )
        got_total = summary.set_index(["date", "window"])[f"{side}_total_usd"]
        np.testing.assert_allclose(got_total.reindex(want.index), want.to_numpy(float), rtol=1e-12)
        assert got_total.sum() == pytest.approx(float(want.sum()), rel=1e-12)
    assert (summary["cum_long_5pct"] <= summary["long_total_usd"] * (1 + 1e-12)).all()
    assert (summary["est_liquidated_usd"] == 3.0).all()


def sized_parts(venue: str, p0: float, size: float, tiers: list[int], day: date) -> MapParts:
    """A venue whose grid has bins of ``size`` and the leverage ``tiers`` (random cells,
    every window alike), and a heatmap of two hours on the same bins."""
    rng = np.random.default_rng(len(venue))
    first, shape = int(p0 * 0.8 // size), (int(p0 * 0.4 // size) + 1, 2, len(tiers))
    cells = rng.integers(0, 3, shape) * rng.uniform(1, 9, (1, 2, len(tiers)))
    edges = (first + np.arange(len(cells) + 1)) * size
    parts = MapParts(np.array(tiers))
    for window_index, window in enumerate(WINDOWS):
        parts.grids.append(MapGrid(day, window_index, edges, cells, p0, 1_000.0))
        parts.summary_rows.append(
            {"date": day, "symbol": "BTCUSDT", "venue": venue, "window": window,
             "p0_from_last_price": False, "bin_size": size}
            | dict.fromkeys(SUMMED_COLUMNS, 1.0)
        )  # fmt: skip
    hours = np.array([3_600_000_000, 7_200_000_000])
    parts.heat.append((day, hours, edges, np.stack([cells.sum(axis=2), 2 * cells.sum(axis=2)])))
    return parts


@pytest.mark.parametrize("bybit_tiers", [[10, 25, 100], [10, 100]])
def test_a_venue_on_other_bins_is_summed_into_the_reference_bins(bybit_tiers) -> None:
    """A venue whose bins are half the reference's (another price level's default size): two
    of its bins fall in one reference bin floor(lo / size), in the map and the heatmap; a
    venue without some of the tiers adds to the ones it has."""
    day = date(2025, 1, 1)
    parts = {
        "binance": sized_parts("binance", 50_000.0, 100.0, [10, 25, 100], day),
        "bybit": sized_parts("bybit", 50_030.0, 50.0, bybit_tiers, day),
    }
    by_venue = {v: p.frames("BTCUSDT", v) for v, p in parts.items()}
    agg = aggregate_parts(parts, "BTCUSDT").frames("BTCUSDT", "all")
    for table, keys in ((by_venue, ["window", "side", "tier"]), (None, ["hour", "side"])):
        frames = [m.bins if table else m.heatmap for m in by_venue.values()]
        venues = pd.concat(frames).assign(k=lambda f: np.floor(f["bin_lo"] / 100 + 1e-9))
        expected = venues.groupby([*keys, "k"])["notional_usd"].sum()
        summed = agg.bins if table else agg.heatmap
        got = summed.assign(k=summed["bin_lo"] / 100).groupby([*keys, "k"])["notional_usd"].sum()
        assert (
            got.index.equals(expected.index) and (summed["bin_hi"] - summed["bin_lo"] == 100).all()
        )
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert (parts["bybit"].grids[0].edges[1] - parts["bybit"].grids[0].edges[0]) == 50


def test_frame_labels_are_the_strings_pandas_would_infer(aggregated) -> None:
    """The string columns are taken by index from a few names: same dtype and values as a
    column of Python strings."""
    bins = aggregated.bins
    for column in ("symbol", "venue", "window", "side"):
        inferred = pd.Series(bins[column].tolist())
        assert bins[column].dtype == inferred.dtype
        assert bins[column].tolist() == inferred.tolist()
    assert set(bins["window"]) == set(WINDOWS) and set(bins["side"]) == {"long", "short"}


@pytest.mark.parametrize("members", [("binance", "bybit"), ("bybit", "okx"), ("binance", "bybit", "okx")])  # fmt: skip
def test_the_stored_row_names_the_venues_it_sums(members) -> None:
    """`brief` reads the venues of a date's stored aggregated map back from its row."""
    day = date(2025, 1, 1)
    parts = {v: fake_parts(v, 100_000.0, [(1000, 0, 10, 5.0)], [day]) for v in members}
    rows = aggregate_parts(parts, "BTCUSDT").summary_rows
    assert {aggregate_members(r["brackets_source"]) == list(members) for r in rows} == {True}
    assert aggregate_members("binance: BTCUSDT.csv; okx: okx/BTCUSDT.csv (fallback for X)") == [
        "binance", "okx",
    ]  # fmt: skip


def test_an_aggregated_maps_coverage_counts_and_names_its_venues() -> None:
    """Missing readings of an aggregated map are the sum over its venues (two or three): the
    terminal's denominator counts them, the briefing names them."""
    from liqbrief.cli_map import coverage_gaps
    from reports.briefing import _coverage_warnings

    two = {"venue": "all", "brackets_source": "bybit: bybit/BTCUSDT.csv; okx: okx/BTCUSDT.csv"}
    three = {"venue": "all", "brackets_source": "binance: a.csv; bybit: b.csv; okx: c.csv"}
    for row, readings in ((two, "4,032"), (three, "6,048"), ({"venue": "okx"}, "2,016")):
        row = row | {"oi_missing_bars": 822, "price_missing_minutes": 0}
        assert coverage_gaps(row, "7d") == f"822 of {readings} open-interest readings missing"
    warning = _coverage_warnings(two | {"oi_missing_bars": 822})[0]
    assert warning.endswith("in the 7d window (Bybit + OKX summed)")
    assert "summed" not in _coverage_warnings({"venue": "okx", "oi_missing_bars": 822})[0]


def test_a_venue_priced_off_the_market_is_not_summed_but_named() -> None:
    """A venue whose P0 is more than PRICE_AGREEMENT_PCT from the reference's has bad inputs
    (another instrument, a stale feed): the date has no aggregated map, and the reason names
    the venue and both prices (the daily job then leaves that venue out)."""
    day = date(2025, 1, 1)
    parts = {
        "binance": sized_parts("binance", 73_036.19, 100.0, [10, 25, 100], day),
        "bybit": sized_parts("bybit", 73_050.0, 100.0, [10, 25, 100], day),
        "okx": sized_parts("okx", 57_484.70, 100.0, [10, 25, 100], day),
    }
    agg = aggregate_parts(parts, "BTCUSDT")
    assert not agg.grids and not agg.summary_rows and not agg.heat
    reason = agg.missing[day]
    assert "okx: its price 57,484.70 is -21.3 % from Binance's 73,036.19" in reason
    assert "bybit" not in reason  # 0.02 % apart: the same market
    del parts["okx"]
    assert not aggregate_parts(parts, "BTCUSDT").missing
