"""The track record on constructed cases with known answers: a perfect map, an inverted map,
a map with no information; coverage limiting; the time level; the bootstrap interval; and
no look-ahead through the whole chain (market, realised data → rows → summaries)."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from liqbrief.testing.synthetic_market import Market, synthetic_market
from sources.reference_data import load_brackets
from store.datasets import VALIDATION_SCHEMA, VALIDATION_SUMMARY_SCHEMA
from store.lake import parquet_bytes
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import run_model
from transforms.liqmap.track_record import (
    ABLATIONS,
    PRICE_LEVEL_EMPTY,
    DayEvents,
    Evidence,
    covered_events,
    covered_hours,
    estimated_blocks,
    score_days,
    score_map,
    variant_config,
)
from transforms.liqmap.track_summary import (
    columns_of,
    rolling_summaries,
    spearman_interval,
    summarise,
)
from transforms.liqmap.validation import spearman

P0 = 100_000.0
EDGES = 90_000.0 + 100.0 * np.arange(201)  # 200 bins of $100; long bins 0..99 below P0
HEAVY_LONG, HEAVY_SHORT = np.arange(90, 100), np.arange(100, 110)  # the 20 bins next to P0


def events_at(bins: np.ndarray, sides: list[str], notional: np.ndarray) -> DayEvents:
    """One event in the middle of each bin."""
    side = np.array(sides, dtype=object)
    return DayEvents(
        np.zeros(len(bins), np.int64), np.zeros(len(bins), np.int64), side == "long", side,
        EDGES[bins] + 50.0, np.asarray(notional, float),
    )  # fmt: skip


def map_with(long_values: np.ndarray, short_values: np.ndarray, light: float) -> np.ndarray:
    cells = np.zeros((200, 2))
    cells[:90, 0], cells[110:, 1] = light, light
    cells[HEAVY_LONG, 0], cells[HEAVY_SHORT, 1] = long_values, short_values
    return cells


# realised: in each of the 20 bins next to P0, notional rising with the map's values below
REALISED = events_at(
    np.r_[HEAVY_LONG, HEAVY_SHORT], ["long"] * 10 + ["short"] * 10, np.arange(10, 30) * 1000.0
)
# the day's path reached 99,000 and 101,000: it swept exactly those 20 bins


def test_a_perfect_map_scores_perfectly() -> None:
    cells = map_with(np.arange(10.0, 20.0), np.arange(20.0, 30.0), light=1.0)
    score = score_map(EDGES, cells, P0, REALISED, 99_000.0, 101_000.0)
    assert score["swept_bins"] == 20
    assert score["swept_spearman"] == pytest.approx(1.0)
    assert score["capture_ratio"] == pytest.approx(1 / 1000)
    assert (score["top_bins"], score["top_hits"], score["top_precision"]) == (20, 20, 1.0)
    assert score["baseline_hit_share"] == pytest.approx(20 / 200)
    assert score["top_precision_lower_95"] == pytest.approx(0.8389, abs=1e-4)  # Wilson 20/20
    assert score["headline_long_usd"] == pytest.approx(sum(range(10, 20)))
    assert (score["predicted_heavier"], score["realised_heavier"], score["heavier_hit"]) == (
        "short", "short", 1.0,
    )  # fmt: skip


def test_an_inverted_map_scores_badly() -> None:
    """Heaviest where the least was liquidated, and its top decile far from any event."""
    cells = map_with(np.arange(29.0, 19.0, -1), np.arange(19.0, 9.0, -1), light=100.0)
    score = score_map(EDGES, cells, P0, REALISED, 99_000.0, 101_000.0)
    assert score["swept_spearman"] == pytest.approx(-1.0)
    assert score["top_precision"] == 0.0 and score["top_precision_lower_95"] == 0.0
    assert score["top_precision"] < score["baseline_hit_share"]
    assert (score["predicted_heavier"], score["heavier_hit"]) == ("long", 0.0)


def rows_from(scores: list[dict], **time_level) -> pd.DataFrame:
    """Validation-like rows from score_map results (a price-level-only history)."""
    n = len(scores)
    frame = pd.DataFrame(scores).assign(
        date=[date(2024, 1, 1) + timedelta(days=i) for i in range(n)], covered_hours=24,
        events=20, time_realised_source="",
        est_long_usd=np.nan, est_short_usd=np.nan,
        time_realised_long_usd=np.nan, time_realised_short_usd=np.nan,
    )  # fmt: skip
    for column in ("est_4h_long_usd", "est_4h_short_usd", "realised_4h_long_usd", "realised_4h_short_usd"):  # fmt: skip
        frame[column] = [np.full(6, np.nan)] * n
    return frame.assign(**time_level)


def test_a_map_with_no_information_scores_the_baseline() -> None:
    """Random maps against random events, pooled over 300 days: the top decile is hit as
    often as any bin (and the perfect map's pooled precision stays at 1)."""
    rng = np.random.default_rng(5)
    scores = []
    for _ in range(300):
        cells = np.zeros((200, 2))
        cells[:100, 0], cells[100:, 1] = rng.gamma(2.0, 1.0, 100), rng.gamma(2.0, 1.0, 100)
        bins = rng.integers(0, 200, 30)
        sides = ["long" if b < 100 else "short" for b in bins]
        scores.append(
            score_map(EDGES, cells, P0, events_at(bins, sides, np.ones(30)), 99_000.0, 101_000.0)
        )
    summary = summarise(columns_of(rows_from(scores)), 300)
    assert summary["days_scored"] == 300
    assert summary["baseline_hit_share"] == pytest.approx(0.14, abs=0.02)  # 1 − (199/200)^30
    assert abs(summary["top_precision"] - summary["baseline_hit_share"]) < 0.03
    assert summary["top_precision_lower_95"] < summary["baseline_hit_share"]


def test_summary_pools_days_and_skips_thin_ones() -> None:
    perfect = score_map(EDGES, map_with(np.arange(10.0, 20.0), np.arange(20.0, 30.0), 1.0),
                        P0, REALISED, 99_000.0, 101_000.0)  # fmt: skip
    thin = score_map(EDGES, map_with(np.arange(10.0, 20.0), np.arange(20.0, 30.0), 1.0), P0,
                     events_at(HEAVY_LONG[:3], ["long"] * 3, np.ones(3)), 99_000.0, 101_000.0)  # fmt: skip
    assert thin["top_bins"] == 0 and math.isnan(thin["top_precision"])  # < 10 events: skipped
    assert thin["heavier_hit"] == 0.0  # the map called shorts, three longs went: not counted
    summary = summarise(columns_of(rows_from([perfect, thin, dict(PRICE_LEVEL_EMPTY)])), 30)
    assert summary["days_scored"] == 1 and summary["top_precision"] == 1.0
    assert summary["heavier_hit_rate"] == 1.0  # the scored day's call only
    assert summary["coverage_pct"] == pytest.approx(3 * 24 / (30 * 24) * 100)
    assert summary["swept_spearman_median"] == pytest.approx(1.0)


def test_events_in_uncovered_hours_are_ignored() -> None:
    day = date(2024, 3, 1)
    t = pd.Timestamp(day, tz="UTC")
    coverage = pd.DataFrame({
        "start": [t, t + pd.Timedelta("12h")],
        "end": [t + pd.Timedelta("6h"), t + pd.Timedelta("12h30min")],  # half an hour: no
        "source": ["stream", "stream"],
    })  # fmt: skip
    covered = covered_hours(coverage, day, 2)
    assert covered[0].tolist() == [True] * 6 + [False] * 18 and not covered[1].any()
    times = [t + pd.Timedelta(h) for h in ("1h", "5h59min", "7h", "12h10min", "-1h", "25h")]
    events = pd.DataFrame({"time": times, "side": "long", "price": 1.0, "notional_usd": [1, 2, 4, 8, 16, 32.0]})  # fmt: skip
    kept = covered_events(events, covered, day)
    assert kept.notional.tolist() == [1.0, 2.0] and kept.day.tolist() == [0, 0]


def test_time_level_agreement_ratio_and_heavier_side() -> None:
    rng = np.random.default_rng(2)
    est_long, est_short = rng.gamma(2.0, 1e6, 60), rng.gamma(2.0, 1e6, 60)
    blocks = [np.full(6, v / 6) for v in est_long]
    good = rows_from(
        [dict(PRICE_LEVEL_EMPTY)] * 60, time_realised_source="coinglass",
        est_long_usd=est_long, est_short_usd=est_short,
        time_realised_long_usd=est_long / 2, time_realised_short_usd=est_short / 2,
        est_4h_long_usd=blocks, est_4h_short_usd=blocks,
        realised_4h_long_usd=[b / 2 for b in blocks], realised_4h_short_usd=[b / 2 for b in blocks],
    )  # fmt: skip
    summary = summarise(columns_of(good), 60)
    assert summary["time_days"] == 60 and summary["time_realised_source"] == "coinglass"
    assert summary["time_spearman_1d"] == pytest.approx(1.0)
    assert 0.99 <= summary["time_spearman_1d_lo"] <= summary["time_spearman_1d_hi"] <= 1.0 + 1e-9
    assert summary["time_spearman_4h"] == pytest.approx(1.0)
    assert summary["est_to_realised_ratio"] == pytest.approx(2.0)
    assert summary["time_heavier_hit_rate"] == 1.0
    swapped = good.assign(
        time_realised_long_usd=1e9 / est_long, time_realised_short_usd=1e9 / est_short
    )
    bad = summarise(columns_of(swapped), 60)
    assert bad["time_spearman_1d"] == pytest.approx(-1.0) and bad["time_heavier_hit_rate"] == 0.0


def exact_bootstrap(x: np.ndarray, y: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    """The textbook day-block bootstrap: resample days, re-rank each resample, each side."""
    rng = np.random.default_rng(seed)
    rhos = []
    for _ in range(resamples):
        days = rng.integers(0, len(x), len(x))
        sides = [spearman(x[days, s].ravel(), y[days, s].ravel()) for s in range(x.shape[1])]
        rhos.append(np.mean(sides))
    return tuple(np.percentile(rhos, [2.5, 97.5]))


def test_bootstrap_interval_is_deterministic_and_close_to_the_exact_one() -> None:
    rng = np.random.default_rng(9)
    x = rng.gamma(2.0, 1.0, (60, 2, 1))  # 60 days, two sides, one value a day
    y = x * rng.lognormal(0, 0.8, (60, 2, 1))
    y[:, 1] *= 100  # the short side far larger: pooled sides would agree on that alone
    rho, lo, hi = spearman_interval(x, y)
    assert rho == pytest.approx((spearman(x[:, 0], y[:, 0]) + spearman(x[:, 1], y[:, 1])) / 2)
    assert (rho, lo, hi) == spearman_interval(x.copy(), y.copy())  # seeded: same answer
    assert lo < rho < hi
    exact_lo, exact_hi = exact_bootstrap(x, y, 1000, 1)
    assert lo == pytest.approx(exact_lo, abs=0.04) and hi == pytest.approx(exact_hi, abs=0.04)
    assert all(math.isnan(v) for v in spearman_interval(x[:4], y[:4])[1:])  # < 5 days


# -- the whole chain on a synthetic market ---------------------------------------------------
START = date(2024, 1, 1)
DATES = [START + timedelta(days=i) for i in range(31, 52)]
AS_OF = DATES[12]


def evidence_for(market: Market, seed: int) -> Evidence:
    """Liquidations near the mark price through the scored days, recorded all the time."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(DATES[0], tz="UTC")
    times = t0 + pd.to_timedelta(rng.uniform(0, len(DATES) * 86_400, 4000), unit="s")
    mark = market.mark_1m.set_index("open_time")["close"].reindex(times.floor("min")).to_numpy()
    side = np.where(rng.random(4000) < 0.5, "long", "short")
    events = pd.DataFrame({"time": times, "side": side, "price": mark * np.where(side == "long", 0.995, 1.005),
                           "notional_usd": rng.gamma(2.0, 5000.0, 4000)})  # fmt: skip
    coverage = pd.DataFrame({"start": [t0], "end": [t0 + pd.Timedelta(days=len(DATES))], "source": ["stream"]})  # fmt: skip
    empty = pd.DataFrame({"time": pd.Series([], dtype="datetime64[us, UTC]"), "long_usd": [], "short_usd": []})  # fmt: skip
    return Evidence(events, coverage, empty, empty)


def summary_bytes(market: Market, evidence: Evidence) -> tuple[bytes, pd.DataFrame]:
    brackets, _ = load_brackets("BTCUSDT")
    frames = []
    for model in ABLATIONS:
        config = variant_config(ModelConfig(), model)
        run = run_model(market.metrics, market.klines_5m, market.mark_1m, brackets, config, symbol="BTCUSDT")  # fmt: skip
        frames.append(score_days(run, config, DATES, evidence, symbol="BTCUSDT", model=model))
    rows = pd.concat(frames, ignore_index=True)
    pa.Table.from_pandas(rows[VALIDATION_SCHEMA.names], schema=VALIDATION_SCHEMA, preserve_index=False)  # fmt: skip
    summary = rolling_summaries(rows, [AS_OF], symbol="BTCUSDT")
    table = pa.Table.from_pandas(summary[VALIDATION_SUMMARY_SCHEMA.names], schema=VALIDATION_SUMMARY_SCHEMA, preserve_index=False)  # fmt: skip
    return parquet_bytes(table), rows


def after(frame: pd.DataFrame, column: str) -> np.ndarray:
    return (frame[column] >= pd.Timestamp(AS_OF, tz="UTC")).to_numpy()


def test_a_summary_does_not_change_when_anything_on_or_after_its_date_does() -> None:
    market = synthetic_market(START, 55, seed=3)
    evidence = evidence_for(market, 4)
    before, rows = summary_bytes(market, evidence)
    exact = rows[rows["model"] == "exact"]
    assert (exact["top_bins"] > 0).sum() >= 10 and exact["time_realised_source"].eq(
        "recorded"
    ).all()
    mark = market.mark_1m.copy()
    late = after(mark, "open_time")
    mark.loc[late, ["open", "high", "low", "close"]] *= 0.9  # a crash from D on
    metrics = market.metrics.copy()
    metrics.loc[after(metrics, "create_time"), "sum_open_interest"] *= 1.5
    events = evidence.events.copy()
    events.loc[after(events, "time"), "notional_usd"] *= 10
    changed = Evidence(events, evidence.coverage, evidence.coinglass_1d, evidence.coinglass_4h)
    perturbed, later_rows = summary_bytes(Market(metrics, market.klines_5m, mark), changed)
    assert perturbed == before
    day = later_rows["date"] == DATES[-1]  # …while the days it changed did change
    assert not np.allclose(
        later_rows.loc[day, "realised_long_usd"], rows.loc[day, "realised_long_usd"]
    )


@pytest.mark.parametrize("shrink", [False, True])
def test_the_estimate_of_a_day_does_not_depend_on_where_the_run_started(shrink: bool) -> None:
    """A daily run starts 31 days before the day it scores, a backfill months before: only
    cohorts of the 30 days before each interval's end count, so both agree (exactly without
    the shrink; with it, older cohorts' liquidations still enter the shrink ratios)."""
    calm = synthetic_market(START, 70, seed=8, vol_per_minute=0.0005)
    mark = calm.mark_1m.copy()
    crash = (mark["open_time"] >= pd.Timestamp(START + timedelta(days=66), tz="UTC")).to_numpy()
    mark.loc[crash, ["open", "high", "low", "close"]] *= 0.6  # deep enough for old 3x longs
    market = Market(calm.metrics, calm.klines_5m, mark)
    brackets, _ = load_brackets("BTCUSDT")
    config = ModelConfig(shrink_on_oi_decrease=shrink)
    cut = pd.Timestamp(START + timedelta(days=35), tz="UTC")
    late = Market(*(f[f.iloc[:, 0] >= cut].reset_index(drop=True) for f in (market.metrics, market.klines_5m, market.mark_1m)))  # fmt: skip
    scored = START + timedelta(days=66)
    blocks = [
        estimated_blocks(
            run_model(m.metrics, m.klines_5m, m.mark_1m, brackets, config, symbol="BTCUSDT"),
            scored,
            3,
        )
        for m in (market, late)
    ]
    assert blocks[0][0].sum() + blocks[0][1].sum() > 0
    for whole, recent in zip(blocks[0], blocks[1], strict=True):
        assert recent == pytest.approx(whole, rel=1e-9 if not shrink else 2e-3)


def test_a_day_without_its_prices_is_not_scored() -> None:
    """Mark minutes missing for a day (not yet published, a gap): no sweep to score and an
    estimate that would read as "nothing liquidated" — both levels left empty."""
    market = synthetic_market(START, 55, seed=3)
    gap = DATES[5]
    times = market.mark_1m["open_time"]
    keep = ~((times >= pd.Timestamp(gap, tz="UTC")) & (times < pd.Timestamp(gap + timedelta(days=1), tz="UTC") - pd.Timedelta("1h")))  # fmt: skip
    holed = Market(market.metrics, market.klines_5m, market.mark_1m[keep].reset_index(drop=True))
    brackets, _ = load_brackets("BTCUSDT")
    run = run_model(holed.metrics, holed.klines_5m, holed.mark_1m, brackets, ModelConfig(), symbol="BTCUSDT")  # fmt: skip
    rows = score_days(run, ModelConfig(), DATES, evidence_for(market, 4), symbol="BTCUSDT", model="exact")  # fmt: skip
    day = rows.set_index("date").loc[gap]
    assert day["top_bins"] == 0 and math.isnan(day["est_long_usd"]) and day["events"] > 0
    assert rows.set_index("date").loc[DATES[4], "top_bins"] > 0
    summary = summarise(columns_of(rows), len(DATES))
    assert summary["time_days"] == len(DATES) - 1


def test_a_window_scores_one_realised_series_never_both() -> None:
    """Coinglass's Binance bars sum every contract of the coin, the recorded totals only the
    symbol's (a lower bound): a window ranks and sums one of them, the one with more days
    (recorded on a tie), and names it."""
    rng = np.random.default_rng(4)
    est_long, est_short = rng.gamma(2.0, 1e6, 10), rng.gamma(2.0, 1e6, 10)
    coin_wide = np.arange(10) < 4  # four Coinglass days (coin-wide, 100x), six recorded
    scale = np.where(coin_wide, 100.0, 0.5)
    blocks = [np.full(6, v / 6) for v in est_long]
    rows = rows_from(
        [dict(PRICE_LEVEL_EMPTY)] * 10,
        time_realised_source=np.where(coin_wide, "coinglass", "recorded"),
        est_long_usd=est_long, est_short_usd=est_short,
        time_realised_long_usd=est_long * scale, time_realised_short_usd=est_short * scale,
        est_4h_long_usd=blocks, est_4h_short_usd=blocks,
        realised_4h_long_usd=[b * s for b, s in zip(blocks, scale, strict=True)],
        realised_4h_short_usd=[b * s for b, s in zip(blocks, scale, strict=True)],
    )  # fmt: skip
    summary = summarise(columns_of(rows), 10)
    assert summary["time_realised_source"] == "recorded" and summary["time_days"] == 6
    assert summary["est_to_realised_ratio"] == pytest.approx(2.0)
    assert summary["time_spearman_1d"] == pytest.approx(1.0)
    tied = summarise(columns_of(rows.iloc[1:7]), 6)  # three days of each
    assert tied["time_realised_source"] == "recorded" and tied["time_days"] == 3
    coinglass = summarise(columns_of(rows.iloc[:5]), 5)
    assert coinglass["time_realised_source"] == "coinglass" and coinglass["time_days"] == 4
    assert coinglass["est_to_realised_ratio"] == pytest.approx(0.01)


def test_the_bins_nearest_the_price_are_the_baseline_beside_all_bins() -> None:
    """Realised liquidations cluster near the price: ranking bins by distance to P0 alone (no
    model) scores far above the all-bins share. The inverted map's top decile lies far away
    and misses; the bins nearest P0 — as many as the top decile — are all hit."""
    cells = map_with(np.arange(29.0, 19.0, -1), np.arange(19.0, 9.0, -1), light=100.0)
    score = score_map(EDGES, cells, P0, REALISED, 99_000.0, 101_000.0)
    assert (score["top_bins"], score["nearest_hits"], score["nearest_precision"]) == (20, 20, 1.0)
    assert score["top_precision"] == 0.0 and score["baseline_hit_share"] == pytest.approx(0.1)
    few = events_at(np.r_[HEAVY_LONG[:5], 0, 1, 2, 3, 4], ["long"] * 10, np.ones(10))
    thin = score_map(EDGES, cells, P0, few, 99_000.0, 101_000.0)
    assert thin["nearest_hits"] == 5  # bins 90–94 are among the 20 nearest, 0–4 are not
    summary = summarise(columns_of(rows_from([score, thin])), 2)
    assert summary["nearest_hit_share"] == pytest.approx(25 / 40)
    assert summary["top_precision"] == pytest.approx(thin["top_hits"] / 40)


def test_no_rho_from_fewer_than_five_days() -> None:
    """Two days rank each side ±1 and average to −1, 0 or +1: no ρ is printed from so few."""
    rng = np.random.default_rng(6)
    x, y = rng.gamma(2.0, 1.0, (5, 2, 6)), rng.gamma(2.0, 1.0, (5, 2, 6))
    for days in (2, 4):
        assert all(math.isnan(v) for v in spearman_interval(x[:days, :, :1], y[:days, :, :1]))
        assert all(math.isnan(v) for v in spearman_interval(x[:days], y[:days]))  # 4-hour
    assert math.isfinite(spearman_interval(x[:, :, :1], y[:, :, :1])[0])


def test_the_pooled_lower_bound_treats_days_not_bins_as_the_draws() -> None:
    """Hits cluster by day (a day's bins share its market): 15 perfect days and 15 missed ones
    pool to 50 % over 600 bins, where a Wilson bound would claim ≥ 46 %; resampling days gives
    the honest, wider bound. Two days give none."""
    perfect = score_map(EDGES, map_with(np.arange(10.0, 20.0), np.arange(20.0, 30.0), 1.0),
                        P0, REALISED, 99_000.0, 101_000.0)  # fmt: skip
    inverted = score_map(EDGES, map_with(np.arange(29.0, 19.0, -1), np.arange(19.0, 9.0, -1), 100.0),
                         P0, REALISED, 99_000.0, 101_000.0)  # fmt: skip
    summary = summarise(columns_of(rows_from([perfect, inverted] * 15)), 30)
    assert summary["top_precision"] == 0.5
    assert 0.25 < summary["top_precision_lower_95"] < 0.40
    again = summarise(columns_of(rows_from([perfect, inverted] * 15)), 30)
    assert again["top_precision_lower_95"] == summary["top_precision_lower_95"]  # seeded
    assert math.isnan(summarise(columns_of(rows_from([perfect, perfect])), 2)["top_precision_lower_95"])  # fmt: skip
