"""Scoring a map against realised liquidations (shared/design/liquidation-model.md, Validation).

Inputs are plain frames: a map's bins for one snapshot (bin_lo, bin_hi, side, notional_usd;
tiers may repeat and are summed), realised liquidations (time, side, price, notional_usd),
and the mark path after the snapshot (open_time, low, high). Realised data are scarce and
undercounted (Binance pushes at most one liquidation per second): read the scores as ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


def spearman(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> float:
    """Spearman rank correlation (pandas, average ranks for ties); NaN if either side is
    constant or there are fewer than two pairs."""
    pairs = pd.DataFrame({"a": np.asarray(a, float), "b": np.asarray(b, float)})
    if len(pairs) < 2:
        return float("nan")
    return float(pairs.corr(method="spearman").iloc[0, 1])


def wilson_lower_bound(successes: int, trials: int, z: float = 1.959964) -> float:
    """Lower end of the Wilson score interval (95 % by default) for a proportion."""
    if trials == 0:
        return float("nan")
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - margin) / denominator


def _per_bin(bins: pd.DataFrame) -> pd.DataFrame:
    return bins.groupby(["side", "bin_lo", "bin_hi"], as_index=False)["notional_usd"].sum()


def _realised_per_bin(per_bin: pd.DataFrame, realised: pd.DataFrame) -> np.ndarray:
    """Realised notional falling in each predicted bin of the same side."""
    out = np.zeros(len(per_bin))
    for side in ("long", "short"):
        rows = np.flatnonzero(per_bin["side"].to_numpy() == side)
        if rows.size == 0:
            continue
        lo = per_bin["bin_lo"].to_numpy()[rows]
        order = np.argsort(lo)
        events = realised[realised["side"] == side]
        idx = np.searchsorted(lo[order], events["price"].to_numpy(), side="right") - 1
        inside = (idx >= 0) & (
            events["price"].to_numpy()
            < per_bin["bin_hi"].to_numpy()[rows][order][np.maximum(idx, 0)]
        )
        np.add.at(out, rows[order][idx[inside]], events["notional_usd"].to_numpy()[inside])
    return out


@dataclass(frozen=True)
class SweptBinScore:
    swept_bins: int
    spearman: float
    capture_ratio: float  # predicted / realised notional in the swept bins (scale check)


def swept_bin_score(
    bins: pd.DataFrame, realised: pd.DataFrame, path_after: pd.DataFrame, p0: float
) -> SweptBinScore:
    """Compare predicted and realised notional in the bins the path swept after the snapshot."""
    per_bin = _per_bin(bins)
    low, high = path_after["low"].min(), path_after["high"].max()
    swept = ((per_bin["side"] == "long") & (per_bin["bin_hi"] > low) & (per_bin["bin_lo"] < p0)) | (
        (per_bin["side"] == "short") & (per_bin["bin_lo"] < high) & (per_bin["bin_hi"] > p0)
    )
    realised_bins = _realised_per_bin(per_bin, realised)[swept.to_numpy()]
    predicted = per_bin.loc[swept, "notional_usd"].to_numpy()
    total_realised = realised_bins.sum()
    return SweptBinScore(
        int(swept.sum()),
        spearman(predicted, realised_bins),
        float(predicted.sum() / total_realised) if total_realised > 0 else float("nan"),
    )


def headline_test(daily: pd.DataFrame) -> pd.DataFrame:
    """Per day: predicted C_L(day's low) vs realised long liquidations, C_S(high) vs shorts.

    ``daily`` has predicted_long_usd, realised_long_usd, predicted_short_usd, realised_short_usd
    (one row per day); returns the per-day ratios and, in ``attrs``, the rank correlations.
    """
    out = daily.copy()
    for side in ("long", "short"):
        out[f"{side}_ratio"] = out[f"predicted_{side}_usd"] / out[f"realised_{side}_usd"].replace(
            0, np.nan
        )
        out.attrs[f"{side}_spearman"] = spearman(
            out[f"predicted_{side}_usd"], out[f"realised_{side}_usd"]
        )
    return out


@dataclass(frozen=True)
class RankingPrecision:
    events: int
    top_bins: int
    top_hit_share: float
    baseline_hit_share: float  # share of all bins hit: what random bins would score
    top_hit_lower_95: float
    skipped: bool  # fewer than min_events realised liquidations


def ranking_precision(
    bins: pd.DataFrame, realised: pd.DataFrame, top_fraction: float = 0.10, min_events: int = 10
) -> RankingPrecision:
    """Share of the top-decile bins that see a realised liquidation, against all bins."""
    per_bin = _per_bin(bins)
    per_bin = per_bin[per_bin["notional_usd"] > 0].reset_index(drop=True)
    events = len(realised)
    if events < min_events or per_bin.empty:
        return RankingPrecision(events, 0, float("nan"), float("nan"), float("nan"), True)
    hit = _realised_per_bin(per_bin, realised) > 0
    k = max(1, math.ceil(top_fraction * len(per_bin)))
    top = np.argsort(-per_bin["notional_usd"].to_numpy(), kind="stable")[:k]
    top_hits = int(hit[top].sum())
    return RankingPrecision(
        events, k, top_hits / k, float(hit.mean()), wilson_lower_bound(top_hits, k), False
    )
