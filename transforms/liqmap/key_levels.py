"""What the desk reads off a map: cumulative curves, values at thresholds, clusters, imbalance.

C_L(p): long notional in the bins of [p, P0): "if price drops below p". Bins lying wholly at
or above P0 are not in it (a long there would already have been liquidated on the way).
C_S(p): short notional in the bins of (P0, p]: "if price rises above p".
"""

from __future__ import annotations

import numpy as np

PCT_LEVELS = (1, 2, 3, 5)
ROUND_LEVELS = 3


def side_curves(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin long and short notional (tiers summed)."""
    per_side = cells.sum(axis=2)
    return per_side[:, 0], per_side[:, 1]


def cumulative_long_at(long_bins: np.ndarray, edges: np.ndarray, price: float, p0: float) -> float:
    """Long notional in bins whose lower edge is at or above ``price`` and below ``p0``."""
    return longs_below(long_bins, edges, [price], p0)[0]


def cumulative_short_at(
    short_bins: np.ndarray, edges: np.ndarray, price: float, p0: float
) -> float:
    """Short notional in bins whose upper edge is at or below ``price`` and above ``p0``."""
    return shorts_above(short_bins, edges, [price], p0)[0]


def longs_below(long_bins: np.ndarray, edges: np.ndarray, prices, p0: float) -> list[float]:
    """C_L at each of ``prices``, read off one running sum from P0 downwards: a deeper price
    adds bins to the same total, so C_L can never shrink by a rounding (separate slice sums
    could, in the last bit)."""
    starts = edges[:-1]
    firsts = np.searchsorted(starts, np.asarray(prices, float) - 1e-9, side="left")
    stop = int(np.searchsorted(starts, p0, side="left"))  # bins starting below P0
    running = np.append(np.cumsum(long_bins[:stop][::-1])[::-1], 0.0)  # running[i]: bins i..stop
    return [float(running[min(first, stop)]) for first in firsts.tolist()]


def shorts_above(short_bins: np.ndarray, edges: np.ndarray, prices, p0: float) -> list[float]:
    """C_S at each of ``prices``, read off one running sum from P0 upwards (see longs_below)."""
    ends = edges[1:]
    first = int(np.searchsorted(ends, p0, side="right"))  # bins ending above P0
    lasts = np.searchsorted(ends, np.asarray(prices, float) + 1e-9, side="right")
    running = np.concatenate(([0.0], np.cumsum(short_bins[first:])))  # running[j]: j bins
    return [float(running[max(last - first, 0)]) for last in lasts.tolist()]


def round_levels(
    p0: float, step: float, count: int = ROUND_LEVELS
) -> tuple[list[float], list[float]]:
    """The next ``count`` round prices strictly below and strictly above P0."""
    base = np.floor(p0 / step) * step
    first_below = base if base < p0 else base - step
    below = [first_below - k * step for k in range(count)]
    above = [base + (k + 1) * step for k in range(count)]
    return below, above


def key_levels(
    cells: np.ndarray, edges: np.ndarray, p0: float, round_step: float
) -> dict[str, float]:
    """The summary row of one map (see README for each key)."""
    longs, shorts = side_curves(cells)
    row: dict[str, float] = {"p0": p0}
    below, above = round_levels(p0, round_step)
    pct_longs = [p0 * (1 - pct / 100) for pct in PCT_LEVELS]
    pct_shorts = [p0 * (1 + pct / 100) for pct in PCT_LEVELS]
    long_at = longs_below(longs, edges, pct_longs + below, p0)
    short_at = shorts_above(shorts, edges, pct_shorts + above, p0)
    for i, pct in enumerate(PCT_LEVELS):
        row[f"cum_long_{pct}pct"] = long_at[i]
        row[f"cum_short_{pct}pct"] = short_at[i]
    n = len(PCT_LEVELS)
    for k, (lo, hi) in enumerate(zip(below, above, strict=True), start=1):
        row[f"round_below_{k}"] = lo
        row[f"cum_long_round_below_{k}"] = long_at[n + k - 1]
        row[f"round_above_{k}"] = hi
        row[f"cum_short_round_above_{k}"] = short_at[n + k - 1]
    for side, bins in (("long", longs), ("short", shorts)):
        k = int(np.argmax(bins)) if bins.size else -1
        k = k if k >= 0 and bins[k] > 0 else -1  # the largest bin, if any is non-empty
        mid = (edges[k] + edges[k + 1]) / 2 if k >= 0 else None  # that bin's midpoint
        row[f"{side}_cluster_price"] = float(mid) if k >= 0 else float("nan")
        row[f"{side}_cluster_usd"] = float(bins[k]) if k >= 0 else 0.0
        row[f"{side}_cluster_distance_pct"] = (
            float((mid / p0 - 1) * 100) if k >= 0 else float("nan")
        )
        row[f"{side}_total_usd"] = float(bins.sum())
    short5 = row["cum_short_5pct"]
    row["imbalance_5pct"] = row["cum_long_5pct"] / short5 if short5 > 0 else float("nan")
    return row
