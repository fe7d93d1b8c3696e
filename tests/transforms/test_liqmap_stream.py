"""The streamed pass (transforms/liqmap/stream.py) against the one pass: identical maps at
any chunk size, cohorts carried alive across chunks, the shrink across chunk boundaries,
bounded state, no look-ahead."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from liqbrief.testing.synthetic_market import Market, synthetic_market
from store.datasets import VALIDATION_SCHEMA
from store.lake import parquet_bytes
from tests.transforms.liqmap_cases import BRACKETS, TEN_X_ONLY, three_bar_case
from tests.transforms.test_liqmap_correctness import as_bytes, perturb_after
from tests.transforms.test_track_record import DATES as TR_DATES
from tests.transforms.test_track_record import evidence_for
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import (
    LiquidationMaps,
    liquidation_maps,
    maps_from_stream,
    model_inputs,
    run_model,
    streamed_pass,
)
from transforms.liqmap.snapshots import DAY_US, snapshot_times
from transforms.liqmap.stream import StreamedPass
from transforms.liqmap.survival import NEVER
from transforms.liqmap.track_record import (
    ABLATIONS,
    score_days,
    score_days_streamed,
    variant_config,
)

START = date(2024, 1, 1)
MARKET = synthetic_market(START, 100, seed=11, vol_per_minute=0.0009)


def maps(market: Market, dates, config=None, chunk_days=None, **kw) -> LiquidationMaps:
    return liquidation_maps(
        market.metrics, market.klines_5m, market.mark_1m, BRACKETS, dates,
        config or ModelConfig(), symbol="BTCUSDT", chunk_days=chunk_days, **kw,
    )  # fmt: skip


def assert_identical(one_pass: LiquidationMaps, streamed: LiquidationMaps) -> None:
    for a, b in zip(
        (one_pass.bins, one_pass.summary, one_pass.heatmap),
        (streamed.bins, streamed.summary, streamed.heatmap),
        strict=True,
    ):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert one_pass.missing == streamed.missing


DATES = [START + timedelta(days=d) for d in range(3, 100)]  # a short warm-up: 3 days
HEAT = DATES[::9]


@pytest.fixture(scope="module")
def one_pass() -> LiquidationMaps:
    return maps(MARKET, DATES, heatmap_dates=HEAT)


@pytest.mark.parametrize("chunk_days", [1, 13, 45, 400])
def test_streamed_maps_equal_the_one_pass_byte_for_byte(
    one_pass: LiquidationMaps, chunk_days: int
) -> None:
    """Exact equality (values, dtypes, order) of bins, summary and heatmap: chunk edges fall
    mid-window and mid-heatmap, 13 on no particular weekday; 400 is one chunk for all."""
    assert len(one_pass.bins) > 10_000 and len(one_pass.heatmap) > 10_000
    assert_identical(one_pass, maps(MARKET, DATES, chunk_days=chunk_days, heatmap_dates=HEAT))


def test_sparse_dates_and_a_heatmap_date_outside_them_stream_identically() -> None:
    dates = [START + timedelta(days=d) for d in (5, 6, 40, 77, 99)]
    heat = [START + timedelta(days=d) for d in (6, 60, 99)]
    one_pass = maps(MARKET, dates, heatmap_dates=heat)
    assert_identical(one_pass, maps(MARKET, dates, chunk_days=7, heatmap_dates=heat))


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(both_sides=False, entry="close", shrink_on_oi_decrease=False, formula="naive"),
        ModelConfig(formula="linear", bin_size=50.0),
    ],
    ids=["ablations", "linear-50"],
)
def test_model_variants_stream_identically(config: ModelConfig) -> None:
    market = synthetic_market(START, 45, seed=4, vol_per_minute=0.001)
    dates = [START + timedelta(days=d) for d in range(1, 45)]
    one_pass = maps(market, dates, config, heatmap_dates=dates[-3:])
    assert_identical(one_pass, maps(market, dates, config, chunk_days=6, heatmap_dates=dates[-3:]))


def test_gaps_fallback_minutes_and_stale_dates_stream_identically() -> None:
    market = synthetic_market(START, 40, seed=2)
    metrics = market.metrics.drop(index=range(5_000, 5_400))  # a 33-hour OI gap on day 18
    mark = market.mark_1m.drop(index=range(30_000, 34_000))  # mark holes on days 21-24
    last = market.mark_1m.assign(close=market.mark_1m["close"] + 1.0).iloc[::2]
    dates = [START + timedelta(days=d) for d in range(1, 42)]  # the last two have no fresh data
    kw = {"symbol": "BTCUSDT", "last_1m": last, "heatmap_dates": dates[::5]}
    one_pass = liquidation_maps(
        metrics, market.klines_5m, mark, BRACKETS, dates, chunk_days=None, **kw
    )
    streamed = liquidation_maps(
        metrics, market.klines_5m, mark, BRACKETS, dates, chunk_days=4, **kw
    )
    assert len(one_pass.missing) >= 2 and one_pass.summary["mark_fallback_minutes"].max() > 0
    assert_identical(one_pass, streamed)


def test_the_hand_computed_example_streams_identically() -> None:
    metrics, klines, mark = three_bar_case()
    day = [START]
    args = (metrics, klines, mark, BRACKETS, day, TEN_X_ONLY)
    one_pass = liquidation_maps(*args, symbol="BTCUSDT", chunk_days=None)
    assert_identical(one_pass, liquidation_maps(*args, symbol="BTCUSDT", chunk_days=1))


def _streamed(market: Market, chunk_days: int) -> StreamedPass:
    bars, path = model_inputs(market.metrics, market.klines_5m, market.mark_1m, None, "BTCUSDT")
    return StreamedPass(bars, path, BRACKETS, ModelConfig(), "BTCUSDT", chunk_days)


def _t(day: date) -> int:
    return int(snapshot_times(np.array([day], "datetime64[D]"), 0)[0])


def test_a_cohort_alive_across_chunks_dies_into_the_shrink_exactly() -> None:
    """A cohort born in the first 10-day chunk, carried alive through at least three more,
    dies in a bar where open interest fell: its death minute and the shrink it feeds (S per
    side, every bar) match the one pass."""
    run = run_model(MARKET.metrics, MARKET.klines_5m, MARKET.mark_1m, BRACKETS, ModelConfig(),
                    symbol="BTCUSDT")  # fmt: skip
    c, f = run.cohorts, run.fates
    chunk = 10 * 288
    d_contracts = np.nan_to_num(model_inputs(MARKET.metrics, MARKET.klines_5m, MARKET.mark_1m,
                                             None, "BTCUSDT")[0].d_contracts)  # fmt: skip
    dies_late = (
        (c.birth_bar < chunk) & (f.death_bar >= 4 * chunk) & (f.death_bar < len(d_contracts))
    )
    feeds_shrink = dies_late & (d_contracts[np.minimum(f.death_bar, len(d_contracts) - 1)] < 0)
    carried = np.flatnonzero(feeds_shrink)
    assert len(carried) > 0
    key = (c.birth_time_us[carried], c.liq_price[carried])
    streamed = _streamed(MARKET, 10)
    for day in range(10, 101, 10):
        streamed.advance(_t(START + timedelta(days=day)))
        pool = streamed.pool
        if day <= 40:  # none of them has died yet: each is carried, however old
            held = np.isin(pool.cohorts.birth_time_us, key[0]) & np.isin(pool.cohorts.liq_price,
                                                                          key[1])  # fmt: skip
            assert held.sum() == len(carried)
            assert (pool.death_time_us[held] == NEVER).all()
        j = streamed.done
        assert np.array_equal(streamed.log_survival[:, :j], f.log_survival[:, :j])
        assert np.array_equal(streamed.clamped[:j], f.shrink_clamped[:j])
    assert (f.death_bar[carried] < streamed.done).all()  # every such death went into S above


def test_the_state_holds_only_the_window_and_the_still_alive() -> None:
    """What the pass carries: cohorts born in the last 30 days, and older ones only while
    alive; far fewer than the range's cohorts."""
    run = run_model(MARKET.metrics, MARKET.klines_5m, MARKET.mark_1m, BRACKETS, ModelConfig(),
                    symbol="BTCUSDT")  # fmt: skip
    streamed = _streamed(MARKET, 15)
    t = _t(START + timedelta(days=95))
    streamed.advance(t)
    pool = streamed.pool
    old = pool.cohorts.birth_time_us < t - 30 * DAY_US
    assert old.any() and (pool.death_time_us[old] == NEVER).all()
    assert len(pool.death_bar) < 0.6 * len(run.cohorts.birth_bar)
    # exactly the cohorts the one pass has alive after the processed bars' last minute are
    # carried as alive, and every one the one pass has born in the window is held
    done = streamed.done
    edge = streamed.bars.time_us[done - 1]
    c, f = run.cohorts, run.fates
    alive = (c.birth_bar < done) & (f.death_time_us >= edge)
    in_window = (c.birth_time_us >= t - 30 * DAY_US) & (c.birth_bar < done)
    held = (pool.cohorts.birth_time_us, pool.cohorts.liq_price)
    assert sorted(zip(*held, strict=True)) == sorted(
        zip(c.birth_time_us[alive | in_window], c.liq_price[alive | in_window], strict=True)
    )
    assert (pool.death_time_us == NEVER).sum() == alive.sum() > 0


def test_snapshots_out_of_time_order_are_refused() -> None:
    streamed = _streamed(MARKET, 10)
    streamed.advance(_t(START + timedelta(days=40)))
    with pytest.raises(ValueError, match="time order"):
        streamed.advance(_t(START + timedelta(days=39)))
    with pytest.raises(ValueError, match="at least 1"):
        _streamed(MARKET, 0)


def test_a_streamed_snapshot_does_not_change_when_anything_after_it_changes() -> None:
    market = synthetic_market(START, 30, seed=5, vol_per_minute=0.001)
    day = START + timedelta(days=9)
    t = pd.Timestamp(day, tz="UTC")
    before = maps(market, [day], chunk_days=4, heatmap_dates=[day])
    after = maps(perturb_after(market, t), [day], chunk_days=4, heatmap_dates=[day])
    assert len(before.bins) > 100
    assert as_bytes(before) == as_bytes(after)


def test_validation_rows_from_a_streamed_pass_equal_the_one_pass() -> None:
    """Every variant's rows (price level, 4-hour estimates, time level) scored 6 days at a
    time from a streamed pass equal those of one pass over the whole range, byte for byte."""
    market = synthetic_market(START, 55, seed=3)
    evidence = evidence_for(market, 4)
    frames = (market.metrics, market.klines_5m, market.mark_1m, BRACKETS)
    for model in ABLATIONS:
        config = variant_config(ModelConfig(), model)
        run = run_model(*frames, config, symbol="BTCUSDT")
        one_pass = score_days(run, config, TR_DATES, evidence, symbol="BTCUSDT", model=model)
        streamed = streamed_pass(*frames, config, symbol="BTCUSDT", chunk_days=6)
        chunked = score_days_streamed(
            streamed, config, TR_DATES, evidence, symbol="BTCUSDT", model=model
        )
        assert one_pass["est_long_usd"].gt(0).any()
        assert _validation_bytes(one_pass) == _validation_bytes(chunked)


def _validation_bytes(rows: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(
        rows[VALIDATION_SCHEMA.names], schema=VALIDATION_SCHEMA, preserve_index=False
    )
    return parquet_bytes(table)


def test_successive_cuts_and_a_chunk_recut_day_by_day_equal_the_one_pass(
    one_pass: LiquidationMaps,
) -> None:
    """The flows' and the backfill's use: chunks of dates cut in order from one streamed
    pass, a failed chunk cut again day by day; earlier dates than the last chunk's are refused."""
    streamed = streamed_pass(
        MARKET.metrics, MARKET.klines_5m, MARKET.mark_1m, BRACKETS, ModelConfig(),
        symbol="BTCUSDT", chunk_days=20,
    )  # fmt: skip
    parts = []
    for first in range(0, len(DATES), 17):
        chunk = DATES[first : first + 17]
        heat = [d for d in chunk if d in HEAT]
        parts.append(maps_from_stream(streamed, chunk, ModelConfig(), symbol="BTCUSDT",
                                      heatmap_dates=heat))  # fmt: skip
        if first == 34:  # again, day by day, as the backfill does after a failed write
            again = [maps_from_stream(streamed, [d], ModelConfig(), symbol="BTCUSDT",
                                      heatmap_dates=[d] if d in heat else []) for d in chunk]  # fmt: skip
            for name in ("bins", "summary", "heatmap"):
                joined = pd.concat([getattr(m, name) for m in again], ignore_index=True)
                pd.testing.assert_frame_equal(getattr(parts[-1], name), joined, check_exact=True)
    for name in ("bins", "summary", "heatmap"):
        joined = pd.concat([getattr(m, name) for m in parts], ignore_index=True)
        pd.testing.assert_frame_equal(getattr(one_pass, name), joined, check_exact=True)
    with pytest.raises(ValueError, match="time order"):
        maps_from_stream(streamed, DATES[:1], ModelConfig(), symbol="BTCUSDT")


def test_dates_in_any_order_or_repeated_give_the_same_maps_from_both_passes() -> None:
    """Maps come in date order, once per date, from either pass (review: the streamed pass
    sorted and de-duplicated, the one pass kept the caller's order and repeats)."""
    days = [START + timedelta(days=d) for d in (40, 33, 71, 33)]
    heat = [days[2], days[1]]
    expected = maps(MARKET, sorted(set(days)), chunk_days=None, heatmap_dates=sorted(heat))
    for chunk_days in (None, 60):
        got = maps(MARKET, days, chunk_days=chunk_days, heatmap_dates=heat)
        assert_identical(expected, got)
    assert list(dict.fromkeys(expected.summary["date"])) == sorted(set(days))


def test_a_minute_without_a_finite_mark_price_is_a_hole_not_a_touch() -> None:
    """A NaN low would read as below every long's liquidation price and wipe out the side:
    it must give the map of the same path with that minute missing (or, with the last
    price's minute, filled from it)."""
    market = synthetic_market(START, 25, seed=3, vol_per_minute=0.0012)
    row = 20 * 1440 + 30
    nan_low = market.mark_1m.copy()
    nan_low.loc[row, "low"] = np.nan
    dropped = market.mark_1m.drop(index=row)
    day = [START + timedelta(days=21)]

    def run(mark: pd.DataFrame, **kw) -> LiquidationMaps:
        return liquidation_maps(market.metrics, market.klines_5m, mark, BRACKETS, day,
                                symbol="BTCUSDT", **kw)  # fmt: skip

    for chunk_days in (None, 60):
        assert_identical(run(dropped, chunk_days=chunk_days), run(nan_low, chunk_days=chunk_days))
    last = market.mark_1m.iloc[[row]]
    assert_identical(run(dropped, last_1m=last), run(nan_low, last_1m=last))
    clean = run(market.mark_1m)
    longs = clean.bins[clean.bins["side"] == "long"]["notional_usd"].sum()
    with_nan = run(nan_low).bins
    assert with_nan[with_nan["side"] == "long"]["notional_usd"].sum() > 0.5 * longs
