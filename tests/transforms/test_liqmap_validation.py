"""Validation metrics on constructed cases with known answers, a bad map included."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from transforms.liqmap.validation import (
    RankingPrecision,
    SweptBinScore,
    precision_score,
    realised_per_bin,
    spearman,
    swept_mask,
    swept_score,
    wilson_lower_bound,
)

P0 = 100_000.0


def bins_frame(long_usd: dict[float, float], short_usd: dict[float, float]) -> pd.DataFrame:
    rows = [("long", lo, v) for lo, v in long_usd.items()] + [
        ("short", lo, v) for lo, v in short_usd.items()
    ]
    return pd.DataFrame(
        {
            "side": [r[0] for r in rows],
            "bin_lo": [r[1] for r in rows],
            "bin_hi": [r[1] + 100 for r in rows],
            "notional_usd": [r[2] for r in rows],
        }
    )


def realised_frame(events: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": pd.Timestamp("2024-01-02", tz="UTC"),
            "side": [e[0] for e in events],
            "price": [e[1] for e in events],
            "notional_usd": [e[2] for e in events],
        }
    )


def arrays(bins: pd.DataFrame, realised: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Per-bin arrays (lo, hi, is_long, predicted, realised notional) as score_map builds them."""
    lo, hi = bins["bin_lo"].to_numpy(float), bins["bin_hi"].to_numpy(float)
    is_long = bins["side"].to_numpy() == "long"
    hit = realised_per_bin(lo, hi, is_long, realised["side"].to_numpy(),
                           realised["price"].to_numpy(float), realised["notional_usd"].to_numpy(float))  # fmt: skip
    return lo, hi, is_long, bins["notional_usd"].to_numpy(float), hit


def swept_bin_score(
    bins: pd.DataFrame, realised: pd.DataFrame, path: pd.DataFrame
) -> SweptBinScore:
    lo, hi, is_long, predicted, hit = arrays(bins, realised)
    swept = swept_mask(lo, hi, is_long, path["low"].min(), path["high"].max(), P0)
    return swept_score(predicted, hit, swept)


def ranking_precision(bins: pd.DataFrame, realised: pd.DataFrame) -> RankingPrecision:
    _, _, _, predicted, hit = arrays(bins, realised)
    return precision_score(predicted, hit, len(realised))


def test_spearman_and_wilson_known_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    # Wilson 95 % for 8/10: 0.4902 (textbook value)
    assert wilson_lower_bound(8, 10) == pytest.approx(0.4902, abs=1e-4)
    assert wilson_lower_bound(0, 10) == pytest.approx(0.0, abs=1e-12)


PATH_AFTER = pd.DataFrame({"low": [99_000.0, 98_500.0], "high": [100_500.0, 100_250.0]})
LONG_BINS = {99_900.0: 10.0, 99_500.0: 30.0, 99_000.0: 20.0, 98_500.0: 40.0, 97_000.0: 99.0}


def test_a_good_map_ranks_the_swept_bins_like_reality() -> None:
    realised = realised_frame(
        [("long", 99_950, 1.0), ("long", 99_550, 3.0), ("long", 99_050, 2.0), ("long", 98_550, 4.0)]
    )
    score = swept_bin_score(bins_frame(LONG_BINS, {100_200.0: 5.0}), realised, PATH_AFTER)
    assert score.swept_bins == 5  # four long bins down to 98,500 and the short bin at 100,200
    assert score.spearman > 0.8
    assert score.capture_ratio == pytest.approx((10 + 30 + 20 + 40 + 5) / 10)


def test_a_bad_map_scores_badly() -> None:
    realised = realised_frame(
        [("long", 99_950, 4.0), ("long", 99_550, 2.0), ("long", 99_050, 3.0), ("long", 98_550, 1.0)]
    )
    bad = bins_frame({99_900.0: 10.0, 99_500.0: 30.0, 99_000.0: 20.0, 98_500.0: 40.0}, {})
    score = swept_bin_score(bad, realised, PATH_AFTER)
    assert score.spearman < -0.5


def test_top_decile_precision_beats_the_baseline_for_a_good_map_only() -> None:
    lows = [P0 - 100 * (k + 1) for k in range(50)]
    good = bins_frame({lo: (1000.0 if k < 5 else 1.0) for k, lo in enumerate(lows)}, {})
    events = [("long", lows[k] + 50, 1.0) for k in range(5)] * 3  # 15 events in the five heavy bins
    result = ranking_precision(good, realised_frame(events))
    assert (result.top_bins, result.top_hit_share, result.baseline_hit_share) == (5, 1.0, 0.1)
    assert result.top_hit_lower_95 > result.baseline_hit_share
    bad = bins_frame({lo: (1.0 if k < 5 else 1000.0 - k) for k, lo in enumerate(lows)}, {})
    bad_result = ranking_precision(bad, realised_frame(events))
    assert (
        bad_result.top_hit_share == 0.0
        and bad_result.top_hit_lower_95 < bad_result.baseline_hit_share
    )


def test_too_few_events_are_skipped_not_scored() -> None:
    result = ranking_precision(
        bins_frame(LONG_BINS, {}), realised_frame([("long", 99_950, 1.0)] * 9)
    )
    assert result.skipped and math.isnan(result.top_hit_share)
