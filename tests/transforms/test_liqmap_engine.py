"""The engine: a hand-computed example, windows, gaps, ablations, determinism, the reference."""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqbrief.testing.synthetic_market import synthetic_market
from tests.conftest import PROJECT_ROOT
from tests.transforms.liqmap_cases import BRACKETS, SNAPSHOT, TEN_X_ONLY, three_bar_case
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import liquidation_maps, maps_from_run, run_model
from transforms.liqmap.key_levels import side_curves
from transforms.liqmap.snapshots import DAY_US

spec = importlib.util.spec_from_file_location(
    "reference_liqmap", PROJECT_ROOT / "bench" / "reference_liqmap.py"
)
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)

START = date(2024, 1, 1)


def maps_for(market, dates, config=None, **kwargs):
    return liquidation_maps(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, dates, config or ModelConfig(),
        symbol="BTCUSDT", **kwargs,
    )  # fmt: skip


def test_three_bar_example_by_hand() -> None:
    metrics, klines, mark = three_bar_case()
    maps = liquidation_maps(
        metrics, klines, mark, BRACKETS, [SNAPSHOT], TEN_X_ONLY, symbol="BTCUSDT"
    )
    # bar 1 opens 10 contracts long (LP 90,361.45) and 10 short (LP 109,561.75), $1M each; bar
    # 2's mark low of 90,000 liquidates the long (K = 10 long contracts). OI fell 15 contracts:
    # on the long side 10 were liquidated and 5 closed; on the short side none was liquidated,
    # so all 15 closed voluntarily: r_short = 1 − 15 / (110 − 0) shrinks the short to
    # 10 · (1 − 15/110) = 8.6364 contracts, $863,636.36.
    assert maps.bins[["window", "bin_lo", "bin_hi", "side", "tier"]].values.tolist() == [
        [w, 109_500.0, 109_600.0, "short", 10] for w in ("1d", "7d", "30d")
    ]
    assert maps.bins["notional_usd"].round(2).tolist() == [863_636.36] * 3
    row = maps.summary.set_index("window").loc["7d"]
    assert row["p0"] == 100_000.0
    assert row["est_liquidated_long_usd"] == pytest.approx(1_000_000.0)
    assert row["est_liquidated_short_usd"] == 0.0
    assert row["short_total_usd"] == pytest.approx(863_636.3636, abs=0.01)
    assert row["long_total_usd"] == 0.0
    assert row["short_cluster_price"] == 109_550.0
    assert row["short_cluster_distance_pct"] == pytest.approx(9.55)
    assert row["cum_short_5pct"] == 0.0 and row["cum_short_round_above_1"] == 0.0
    assert (row["round_below_1"], row["round_above_1"]) == (99_000.0, 101_000.0)


def test_without_the_shrink_the_short_keeps_its_full_size() -> None:
    metrics, klines, mark = three_bar_case()
    config = ModelConfig(tiers=TEN_X_ONLY.tiers, shrink_on_oi_decrease=False)
    maps = liquidation_maps(metrics, klines, mark, BRACKETS, [SNAPSHOT], config, symbol="BTCUSDT")
    assert maps.bins["notional_usd"].tolist() == [1_000_000.0] * 3


@pytest.mark.parametrize(
    ("formula", "short_bin"), [("exact", 109_500.0), ("linear", 109_600.0), ("naive", 110_000.0)]
)
def test_formula_switch_moves_the_levels(formula: str, short_bin: float) -> None:
    metrics, klines, mark = three_bar_case()
    config = ModelConfig(tiers=TEN_X_ONLY.tiers, formula=formula)
    maps = liquidation_maps(metrics, klines, mark, BRACKETS, [SNAPSHOT], config, symbol="BTCUSDT")
    assert set(maps.bins["bin_lo"]) == {short_bin}


def test_single_side_opens_only_the_aggressor() -> None:
    metrics, klines, mark = three_bar_case()
    klines["taker_buy_quote_volume"] = 300_000.0  # sellers led: only shorts open
    config = ModelConfig(tiers=TEN_X_ONLY.tiers, both_sides=False)
    maps = liquidation_maps(metrics, klines, mark, BRACKETS, [SNAPSHOT], config, symbol="BTCUSDT")
    row = maps.summary.set_index("window").loc["1d"]
    assert row["est_liquidated_long_usd"] == 0.0  # no long was opened, so none was swept
    # no liquidation explains the drop: all 1.5M is voluntary, r = 1 − 1.5/11
    assert row["short_total_usd"] == pytest.approx(1e6 * (1 - 1.5 / 11))


def test_entry_switch_uses_the_close() -> None:
    metrics, klines, mark = three_bar_case()
    klines["close"] = 100_500.0
    config = ModelConfig(tiers=TEN_X_ONLY.tiers, entry="close", shrink_on_oi_decrease=False)
    maps = liquidation_maps(metrics, klines, mark, BRACKETS, [SNAPSHOT], config, symbol="BTCUSDT")
    # short LP = 100,500 · 1.1 / 1.004 = 110,109.56; the long (LP 90,813.25) is swept by 90,000
    assert maps.bins["bin_lo"].unique().tolist() == [110_100.0]


def test_windows_keep_only_cohorts_born_inside_them() -> None:
    market = synthetic_market(START, 12, seed=11)
    run = run_model(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, ModelConfig(), symbol="BTCUSDT"
    )
    t = int(np.datetime64(START + timedelta(days=10), "us").astype(np.int64))
    snap = run.maker.snapshot(t)
    c, f = run.cohorts, run.fates
    j = int(np.searchsorted(run.maker.bars.time_us, t, side="left")) - 1  # last reading before t
    for window, days in (("1d", 1), ("7d", 7), ("30d", 30)):
        born = (c.birth_time_us >= t - days * DAY_US) & (c.birth_time_us < t)
        alive = born & (f.death_time_us >= t)
        grid = snap.grids[window]
        rel = np.floor(c.liq_price / grid.size) - grid.lo / grid.size
        in_range = np.flatnonzero(alive & (rel >= 0) & (rel < grid.cells.shape[0]))
        side = np.where(c.is_long, 0, 1)[in_range]
        births = c.birth_bar[in_range]
        survival = np.exp(f.log_survival[side, j] - f.log_survival[side, births])
        expected = (c.size_usd[in_range] * survival).sum()
        assert snap.grids[window].cells.sum() == pytest.approx(expected, rel=1e-12)
    totals = [snap.grids[w].cells.sum() for w in ("1d", "7d", "30d")]
    assert totals[0] < totals[1] <= totals[2]


@pytest.mark.parametrize("seed", [3, 17])
def test_heatmap_equals_binning_each_hour_directly(seed: int) -> None:
    """The one-pass heatmap against its definition: per hour h, bin the cohorts born in
    [t − 7 d, h) and alive at h, shrunk to the last reading before h."""
    market = synthetic_market(START, 10, seed=seed)
    run = run_model(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, ModelConfig(), symbol="BTCUSDT"
    )
    maker, c = run.maker, run.cohorts
    t = int(np.datetime64(START + timedelta(days=9), "us").astype(np.int64))
    hours, edges, cells = maker.heatmap(t)
    bin_size = edges[1] - edges[0]
    lo_bin = round(edges[0] / bin_size)
    start = int(np.searchsorted(c.birth_time_us, t - 7 * DAY_US, side="left"))
    expected = np.stack([
        maker._bin(start, int(np.searchsorted(c.birth_time_us, h, side="left")), int(h), bin_size, lo_bin, len(edges) - 1).sum(axis=2)
        for h in hours
    ])  # fmt: skip
    assert cells.shape == expected.shape == (168, len(edges) - 1, 2)
    assert (
        expected.sum() > 0
        and np.count_nonzero(expected[:, :, 0])
        and np.count_nonzero(expected[:, :, 1])
    )
    np.testing.assert_allclose(cells, expected, rtol=1e-9, atol=1e-6)
    assert np.array_equal(cells == 0, expected == 0)  # no residue where nothing is alive


def test_maps_cut_from_one_run_in_chunks_equal_all_dates_at_once() -> None:
    """A backfill runs the engine once and writes the maps a chunk of dates at a time; the
    chunks must be exactly the all-at-once maps (a chunk with its own warm-up would not be:
    the shrink subtracts liquidations of cohorts older than any warm-up)."""
    market = synthetic_market(START, 12, seed=9)
    run = run_model(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, ModelConfig(), symbol="BTCUSDT"
    )
    dates = [START + timedelta(days=d) for d in range(2, 12)]
    whole = maps_from_run(run, dates, ModelConfig(), symbol="BTCUSDT", heatmap_dates=dates)
    parts = [
        maps_from_run(run, chunk, ModelConfig(), symbol="BTCUSDT", heatmap_dates=chunk)
        for chunk in (dates[:4], dates[4:9], dates[9:])
    ]
    assert whole.summary["cum_long_5pct"].gt(0).all() and len(whole.heatmap)
    for name in ("bins", "summary", "heatmap"):
        joined = pd.concat([getattr(part, name) for part in parts], ignore_index=True)
        pd.testing.assert_frame_equal(joined, getattr(whole, name), obj=name)


def test_same_inputs_give_identical_outputs() -> None:
    market = synthetic_market(START, 5, seed=5)
    dates = [START + timedelta(days=i) for i in range(1, 5)]
    first, second = (
        maps_for(market, dates, heatmap_dates=dates[-1:]),
        maps_for(market, dates, heatmap_dates=dates[-1:]),
    )
    for a, b in (
        (first.bins, second.bins),
        (first.summary, second.summary),
        (first.heatmap, second.heatmap),
    ):
        pd.testing.assert_frame_equal(a, b)


def test_gaps_are_flagged_and_mark_holes_fall_back_to_last_price() -> None:
    market = synthetic_market(START, 3, seed=2)
    metrics = market.metrics.drop(index=range(400, 410))  # 10 missing OI readings on day 2
    mark = market.mark_1m.iloc[:-30]  # the last 30 mark minutes missing
    last = market.mark_1m.assign(close=market.mark_1m["close"] + 1.0)
    maps = liquidation_maps(
        metrics,
        market.klines_5m,
        mark,
        BRACKETS,
        [START + timedelta(days=3)],
        symbol="BTCUSDT",
        last_1m=last,
    )
    row = maps.summary.set_index("window").loc["7d"]
    assert row["oi_missing_bars"] >= 10 + 4 * 288  # the gap, plus days before the data starts
    assert row["mark_fallback_minutes"] == 30
    assert bool(row["p0_from_last_price"]) and row["p0"] == market.mark_1m["close"].iloc[-1] + 1.0
    one_day = maps.summary.set_index("window").loc["1d"]
    assert one_day["oi_missing_bars"] == 0


def test_no_data_is_a_clear_error() -> None:
    market = synthetic_market(START, 1)
    with pytest.raises(ValueError, match="not enough open-interest or price data"):
        liquidation_maps(
            market.metrics.iloc[:1],
            market.klines_5m,
            market.mark_1m,
            BRACKETS,
            [START],
            symbol="BTCUSDT",
        )


@pytest.mark.parametrize(
    ("config", "symbol", "price"),
    [
        (ModelConfig(), "BTCUSDT", 60_000.0),
        (ModelConfig(both_sides=False, entry="close", shrink_on_oi_decrease=False,
                     formula="naive"), "BTCUSDT", 60_000.0),
        (ModelConfig(formula="linear", bin_size=50.0), "BTCUSDT", 60_000.0),
        (ModelConfig(), "ETHUSDT", 1_500.0),  # grid from each snapshot's P0: 2 USD bins
    ],
    ids=["default", "ablations", "linear-50", "eth-p0-grid"],
)  # fmt: skip
def test_vectorised_engine_equals_the_reference_loop(
    config: ModelConfig, symbol: str, price: float
) -> None:
    market = synthetic_market(START, 4, seed=21, vol_per_minute=0.0012, price=price)
    dates = [START + timedelta(days=i) for i in range(1, 4)]
    maps = liquidation_maps(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, dates, config, symbol=symbol
    )
    grids, liquidated = reference.reference_maps(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, dates, config, symbol
    )
    cells = 0
    for (day, window), grid in grids.items():
        sub = maps.bins[(maps.bins["date"] == day) & (maps.bins["window"] == window)]
        engine = {
            (round(lo, 6), side, int(t)): v
            for lo, side, t, v in zip(sub.bin_lo, sub.side, sub.tier, sub.notional_usd, strict=True)
        }
        expected = {(round(lo, 6), side, t): v for (lo, side, t), v in grid.items()}
        assert engine.keys() == expected.keys(), (day, window)
        for key, value in expected.items():
            assert engine[key] == pytest.approx(value, rel=1e-9)
        cells += len(expected)
    assert cells > 1000
    summary = maps.summary[maps.summary["window"] == "1d"].set_index("date")
    for day, (long_usd, short_usd) in liquidated.items():
        assert summary.loc[day, "est_liquidated_long_usd"] == pytest.approx(long_usd, rel=1e-9)
        assert summary.loc[day, "est_liquidated_short_usd"] == pytest.approx(short_usd, rel=1e-9)
    assert sum(v[0] + v[1] for v in liquidated.values()) > 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), vol=st.floats(0.0002, 0.003), days=st.integers(2, 4))
def test_invariants_on_random_paths(seed: int, vol: float, days: int) -> None:
    market = synthetic_market(START, days, seed=seed, vol_per_minute=vol)
    run = run_model(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, ModelConfig(), symbol="BTCUSDT"
    )
    c, f, maker = run.cohorts, run.fates, run.maker
    t = int(np.datetime64(START + timedelta(days=days), "us").astype(np.int64))
    snap = maker.snapshot(t)
    path = maker.path
    # every alive long sits below the lowest mark low since its birth; every alive short above the highest high
    alive = (f.death_time_us >= t) & (c.birth_time_us < t)
    for i in np.flatnonzero(alive)[:: max(1, alive.sum() // 300)]:
        window = (path.time_us >= c.birth_time_us[i]) & (path.time_us < t)
        if window.any():
            if c.is_long[i]:
                assert c.liq_price[i] < path.low[window].min()
            else:
                assert c.liq_price[i] > path.high[window].max()
    assert (c.liq_price[c.is_long] < c.entry[c.is_long]).all()
    assert (c.liq_price[~c.is_long] > c.entry[~c.is_long]).all()
    bars = maker.bars
    opened_usd = np.nansum(np.clip(bars.d_contracts, 0, None) * bars.entry_vwap)
    for window, grid in snap.grids.items():
        longs, shorts = side_curves(grid.cells)
        assert longs.sum() <= opened_usd * (1 + 1e-9) and shorts.sum() <= opened_usd * (1 + 1e-9), (
            window
        )
        edges = grid.edges
        mids = (edges[:-1] + edges[1:]) / 2
        assert (longs[mids > snap.p0 + grid.size] == 0).all() and (
            shorts[mids < snap.p0 - grid.size] == 0
        ).all()
    maps = maps_for(market, [START + timedelta(days=days)])
    for _, row in maps.summary.iterrows():
        longs = [row[f"cum_long_{p}pct"] for p in (1, 2, 3, 5)]
        shorts = [row[f"cum_short_{p}pct"] for p in (1, 2, 3, 5)]
        assert longs == sorted(longs) and shorts == sorted(shorts)
        rounds = [row[f"cum_long_round_below_{k}"] for k in (1, 2, 3)]
        assert rounds == sorted(rounds)
    bins_total = maps.bins.groupby("window")["notional_usd"].sum()
    summary_total = maps.summary.set_index("window")[["long_total_usd", "short_total_usd"]].sum(
        axis=1
    )
    assert np.allclose(bins_total.sort_index(), summary_total.loc[bins_total.index].sort_index())


def test_each_side_of_a_bar_opens_exactly_its_contract_rise_across_tiers() -> None:
    market = synthetic_market(START, 2, seed=4)
    run = run_model(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, ModelConfig(), symbol="BTCUSDT"
    )
    c, bars = run.cohorts, run.maker.bars
    for side in (True, False):
        mine = c.is_long == side
        contracts, usd = (
            np.bincount(c.birth_bar[mine], weights=w[mine], minlength=len(bars.d_contracts))
            for w in (c.contracts, c.size_usd)
        )
        opened = np.flatnonzero(contracts)
        assert np.allclose(contracts[opened], bars.d_contracts[opened], rtol=1e-12)
        # the notional of new positions is dC · entry, never the change of the USD series
        expected_usd = bars.d_contracts[opened] * bars.entry_vwap[opened]
        assert np.allclose(usd[opened], expected_usd, rtol=1e-12)
    assert len(np.unique(c.birth_bar)) == int(np.nansum(bars.d_contracts > 0))


def test_cumulative_curves_stop_at_the_snapshot_price() -> None:
    """C_L(p) sums the long bins of [p, P0), C_S(p) the short bins of (P0, p]: notional on
    the far side of P0 is never part of "if price drops below p"."""
    from transforms.liqmap.key_levels import cumulative_long_at, cumulative_short_at

    edges = np.arange(95.0, 106.0, 1.0)  # ten bins: 95-96 … 104-105; P0 = 100.5 in bin 100-101
    longs = np.zeros(10)
    longs[[2, 5, 8]] = [7.0, 3.0, 1000.0]  # 97-98, 100-101 (holds P0), 103-104 (above P0)
    shorts = np.zeros(10)
    shorts[[1, 5, 7]] = [1000.0, 4.0, 9.0]  # 96-97 (below P0), 100-101, 102-103
    assert cumulative_long_at(longs, edges, 97.0, 100.5) == 10.0
    assert cumulative_long_at(longs, edges, 95.0, 100.5) == 10.0
    assert cumulative_short_at(shorts, edges, 103.0, 100.5) == 13.0
    assert cumulative_short_at(shorts, edges, 105.0, 100.5) == 13.0
    assert cumulative_long_at(longs, edges, 100.5, 100.5) == 0.0


def test_cumulative_curves_never_shrink_further_from_p0() -> None:
    """A price further from P0 only adds non-negative bins, so C_L and C_S must never come out
    smaller, not even in the last bit (separate slice sums did: a hypothesis run found
    93632606.75229067 after 93632606.75229068). Lognormal bins with gaps, like a real map."""
    from transforms.liqmap.key_levels import longs_below, shorts_above

    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(9, 400))
        values = rng.lognormal(15, 2, n) * (rng.random(n) < 0.7)
        edges = np.arange(n + 1, dtype=float) * 10.0 + 1000.0
        p0 = float(rng.uniform(edges[0], edges[-1]))
        longs = longs_below(values, edges, np.linspace(p0, edges[0] - 5.0, 80), p0)
        shorts = shorts_above(values, edges, np.linspace(p0, edges[-1] + 5.0, 80), p0)
        assert all(b >= a for a, b in pairwise(longs))
        assert all(b >= a for a, b in pairwise(shorts))
        assert longs[-1] == pytest.approx(values[edges[:-1] < p0].sum(), rel=1e-12)
        assert shorts[-1] == pytest.approx(values[edges[1:] > p0].sum(), rel=1e-12)


def test_tier_mixes_must_sum_to_one() -> None:
    from transforms.liqmap.config import TierMix

    with pytest.raises(ValueError, match="sum to 1"):
        TierMix({10: 0.5, 20: 0.4}, {10: 1.0})
    with pytest.raises(ValueError, match="outside"):
        TierMix({7: 1.0}, {10: 1.0})
    shipped = TierMix.from_json((PROJECT_ROOT / "data" / "leverage_tiers.json").read_bytes())
    assert shipped == TierMix()
