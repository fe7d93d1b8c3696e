"""Scoring a map against realised liquidations (shared/design/liquidation-model.md, Validation).

Inputs are per-bin arrays of one map (bin edges, side, predicted notional) and the realised
liquidations' sides, prices and notional; track_record.score_map puts them together.
Realised data are scarce and undercounted (Binance pushes at most one liquidation per second):
read the scores as ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (as pandas and scipy rank them)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    group = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
    counts = np.bincount(group)
    ends = np.cumsum(counts)
    ranks = np.empty(len(values))
    ranks[order] = ((ends - counts + 1 + ends) / 2)[group]
    return ranks


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN if either side is constant."""
    da, db = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(da @ da) * float(db @ db))
    return float(da @ db) / denominator if denominator > 0 else float("nan")


def spearman(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties), over the pairs where both values
    are known; NaN if either side is constant or there are fewer than two pairs."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    known = np.isfinite(a) & np.isfinite(b)
    if known.sum() < 2:
        return float("nan")
    return pearson(average_ranks(a[known]), average_ranks(b[known]))


def wilson_lower_bound(successes: int, trials: int, z: float = 1.959964) -> float:
    """Lower end of the Wilson score interval (95 % by default) for a proportion."""
    if trials == 0:
        return float("nan")
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, (centre - margin) / denominator)  # 0 hits: 0, not a rounding -0.0


def realised_per_bin(
    bin_lo: np.ndarray,
    bin_hi: np.ndarray,
    is_long: np.ndarray,
    sides: np.ndarray,
    prices: np.ndarray,
    notional: np.ndarray,
) -> np.ndarray:
    """Realised notional (events' sides, prices, notional) falling in each bin of the same
    side (bin_lo <= price < bin_hi); bins of a side must not overlap."""
    out = np.zeros(len(bin_lo))
    for side, mine in (("long", is_long), ("short", ~is_long)):
        rows = np.flatnonzero(mine)
        if rows.size == 0:
            continue
        order = np.argsort(bin_lo[rows], kind="stable")
        lo, hi = bin_lo[rows][order], bin_hi[rows][order]
        events = sides == side
        idx = np.searchsorted(lo, prices[events], side="right") - 1
        inside = (idx >= 0) & (prices[events] < hi[np.maximum(idx, 0)])
        np.add.at(out, rows[order][idx[inside]], notional[events][inside])
    return out


def swept_mask(
    bin_lo: np.ndarray, bin_hi: np.ndarray, is_long: np.ndarray, low: float, high: float, p0: float
) -> np.ndarray:
    """The bins a path with this low and high swept from P0: long bins in [low, P0), short
    bins in (P0, high]."""
    longs = is_long & (bin_hi > low) & (bin_lo < p0)
    return longs | (~is_long & (bin_lo < high) & (bin_hi > p0))


@dataclass(frozen=True)
class SweptBinScore:
    swept_bins: int
    spearman: float
    capture_ratio: float  # predicted / realised notional in the swept bins (scale check)


def swept_score(predicted: np.ndarray, realised: np.ndarray, swept: np.ndarray) -> SweptBinScore:
    """Predicted against realised notional over the swept bins (per-bin arrays)."""
    total_realised = realised[swept].sum()
    return SweptBinScore(
        int(swept.sum()),
        spearman(predicted[swept], realised[swept]),
        float(predicted[swept].sum() / total_realised) if total_realised > 0 else float("nan"),
    )


def top_decile(predicted: np.ndarray, top_fraction: float = 0.10) -> np.ndarray:
    """Indices of the top-decile bins by predicted notional, among the bins with any (ties
    broken by order): the bins the track record scores and the overlay chart darkens."""
    used = np.flatnonzero(predicted > 0)
    k = max(1, math.ceil(top_fraction * used.size)) if used.size else 0
    return used[np.argsort(-predicted[used], kind="stable")[:k]]


@dataclass(frozen=True)
class RankingPrecision:
    events: int
    top_bins: int
    top_hit_share: float
    baseline_hit_share: float  # share of all bins hit (by bins picked at random)
    top_hit_lower_95: float
    skipped: bool  # fewer than min_events realised liquidations
    top_hits: int = 0
    bins: int = 0  # bins with predicted notional (the baseline's denominator)
    bins_hit: int = 0
    nearest_hits: int = 0  # of the same number of bins nearest P0: a no-model baseline


def nearest_hits(hit: np.ndarray, distance: np.ndarray | None, k: int) -> int:
    """Hits among the k bins nearest the price (``distance`` to P0): what ranking by
    proximity alone scores — real liquidations cluster near the price, so this, not the
    all-bins share, is the bar a map must clear. 0 without distances."""
    if distance is None:
        return 0
    return int(hit[np.argsort(distance, kind="stable")[:k]].sum())


def precision_score(
    predicted: np.ndarray,
    realised: np.ndarray,
    events: int,
    top_fraction: float = 0.10,
    min_events: int = 10,
    distance: np.ndarray | None = None,
) -> RankingPrecision:
    """Share of the top-decile bins (by predicted notional, among bins with any) that saw a
    realised liquidation, against the share of all such bins and (given each bin's
    ``distance`` to P0) of as many bins nearest the price (per-bin arrays)."""
    used = predicted > 0
    if events < min_events or not used.any():
        return RankingPrecision(events, 0, float("nan"), float("nan"), float("nan"), True)
    top = top_decile(predicted, top_fraction)
    k, top_hits = len(top), int((realised[top] > 0).sum())
    hit = realised[used] > 0
    return RankingPrecision(
        events, k, top_hits / k, float(hit.mean()), wilson_lower_bound(top_hits, k), False,
        top_hits, int(used.sum()), int(hit.sum()),
        nearest_hits(hit, None if distance is None else distance[used], k),
    )  # fmt: skip
