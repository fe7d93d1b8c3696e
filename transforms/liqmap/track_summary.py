"""The track record's summaries: a model's validation rows pooled over a window of days.

A summary as of date D pools the rows dated [D − window, D − 1] (30 and 90 days): nothing on
or after D enters it. Price level: pooled top-decile hits against the all-bins and nearest-bins
baselines with a day-block bootstrap lower bound (days, not bins, are the independent draws),
the median swept-bin ρ, the heavier-side hit rate. Time level: Spearman ρ of the model's
estimated liquidations against the realised series, per day and per 4 hours,
with a seeded day-block bootstrap interval; the ratio of their sums; the heavier-side hit rate
— against one realised series per window (window_source), never Coinglass and recorded mixed.
Pure: VALIDATION_SCHEMA rows in, VALIDATION_SUMMARY_SCHEMA rows out.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from transforms.liqmap.track_record import ABLATIONS, BLOCKS, heavier_sign
from transforms.liqmap.validation import average_ranks, pearson

SUMMARY_WINDOWS = (30, 90)  # days
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 13
BOOTSTRAP_MIN_DAYS = 5  # fewer days than this give no ρ (nor interval) worth printing


@lru_cache(maxsize=128)
def _resample_counts(n: int) -> np.ndarray:
    """How often each of n days is drawn in each bootstrap resample, (n, resamples); seeded
    by n alone, so a summary depends only on its own days (deterministic, no look-ahead)."""
    rng = np.random.default_rng([BOOTSTRAP_SEED, n])
    picks = rng.integers(0, n, (BOOTSTRAP_RESAMPLES, n))
    flat = (picks + np.arange(BOOTSTRAP_RESAMPLES)[:, None] * n).ravel()
    counts = np.bincount(flat, minlength=BOOTSTRAP_RESAMPLES * n).reshape(-1, n)
    return np.ascontiguousarray(counts.T, dtype=float)  # (n, resamples): the faster product


def _side_ranks(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray] | None:
    """One side's Spearman ρ over a window (x, y: (days, values per day), NaN where unknown)
    and each day's rank sums (count, Σrx, Σry, Σrx², Σry², Σrx·ry), ranked once in the
    window; None if the side has no ρ (under two pairs, or constant)."""
    known = np.isfinite(x) & np.isfinite(y)
    if known.sum() < 2:
        return None
    rx, ry = np.zeros(x.shape), np.zeros(y.shape)
    rx[known], ry[known] = average_ranks(x[known]), average_ranks(y[known])
    rho = pearson(rx[known], ry[known])  # Spearman's ρ: the Pearson correlation of the ranks
    if not np.isfinite(rho):
        return None
    sums = [
        known.sum(1),
        rx.sum(1),
        ry.sum(1),
        (rx * rx).sum(1),
        (ry * ry).sum(1),
        (rx * ry).sum(1),
    ]
    return rho, np.stack(sums, axis=1)


def _resampled_rho(per_day: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The rank correlation of each resample (NaN where a side is constant in it)."""
    # one vector-matrix product per sum: far cheaper than a threaded matrix product here
    n, sx, sy, sxx, syy, sxy = (np.ascontiguousarray(stat) @ counts for stat in per_day.T)
    cov, vx, vy = sxy / n - sx * sy / n**2, sxx / n - (sx / n) ** 2, syy / n - (sy / n) ** 2
    ok = (vx > 1e-9) & (vy > 1e-9)
    return np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)


def spearman_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Spearman ρ of estimated (x) against realised (y) values, per side, averaged over the
    sides (x, y: (days, sides, values per day), NaN where unknown; sides kept apart so the
    gap between long and short totals cannot make the ranks agree), and a 95 % percentile
    interval from a day-block bootstrap: days are resampled with replacement (a day's values
    stay together: its 4-hour blocks are not independent; both sides see the same days) and
    each resample's correlation is computed on the ranks in the whole window (ranking once,
    not per resample: exact re-ranking costs a hundred times more; the bounds differ by up to
    ~0.04 on 30 days, ~0.01 on 90 days of 4-hour blocks — tests/transforms/test_track_record.py
    compares them). No ρ and no interval (NaN) with fewer than BOOTSTRAP_MIN_DAYS days."""
    days = np.flatnonzero((np.isfinite(x) & np.isfinite(y)).any(axis=(1, 2)))
    if len(days) < BOOTSTRAP_MIN_DAYS:  # 2 days: each side's ρ is ±1, the mean −1, 0 or +1
        return math.nan, math.nan, math.nan
    sides = [_side_ranks(x[days, s], y[days, s]) for s in range(x.shape[1])]
    sides = [side for side in sides if side is not None]
    if not sides:
        return math.nan, math.nan, math.nan
    rho = float(np.mean([side[0] for side in sides]))
    counts = _resample_counts(len(days))
    resampled = np.mean([_resampled_rho(side[1], counts) for side in sides], axis=0)
    resampled = resampled[np.isfinite(resampled)]
    if len(resampled) < BOOTSTRAP_RESAMPLES // 2:
        return rho, math.nan, math.nan
    lo, hi = _percentiles(resampled, (0.025, 0.975))
    return rho, lo, hi


def pooled_lower_bound(hits: np.ndarray, bins: np.ndarray) -> float:
    """95 % lower bound of a window's pooled hit share Σhits / Σbins from the day-block
    bootstrap (the resamples of spearman_interval): a day's bins share its market, so they are
    not independent trials and a Wilson bound on the pooled bins would be far too tight. NaN
    with fewer than BOOTSTRAP_MIN_DAYS days."""
    if len(hits) < BOOTSTRAP_MIN_DAYS:
        return math.nan
    counts = _resample_counts(len(hits))
    shares = (hits.astype(float) @ counts) / (bins.astype(float) @ counts)
    return _percentiles(shares, (0.025,))[0]


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def _mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else math.nan


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else math.nan


BLOCK_COLUMNS = ("est_4h_long_usd", "est_4h_short_usd", "realised_4h_long_usd", "realised_4h_short_usd")  # fmt: skip


def columns_of(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Validation rows as column arrays (sorted by date), for cheap slicing by window; the
    4-hour lists as (rows, 6) float arrays."""
    rows = rows.sort_values("date", kind="stable")
    col = {c: rows[c].to_numpy() for c in rows.columns}
    for c in BLOCK_COLUMNS:
        col[c] = np.stack(col[c]).astype(float) if len(rows) else np.zeros((0, BLOCKS))
    return col


def _percentiles(values: np.ndarray, fractions: tuple[float, ...]) -> list[float]:
    """np.percentile's default (linear) interpolation, on one sort: cheaper per call."""
    ordered = np.sort(values)
    position = np.asarray(fractions) * (len(ordered) - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, len(ordered) - 1)
    return (ordered[below] + (position - below) * (ordered[above] - ordered[below])).tolist()


def summarise(col: dict[str, np.ndarray], days: int) -> dict:
    """One summary of a model's validation rows (``columns_of``, or a slice of it) over a
    span of ``days`` days: the VALIDATION_SUMMARY_SCHEMA columns after window_days."""
    scored = col["top_bins"] > 0
    top_hits, top_bins = int(col["top_hits"][scored].sum()), int(col["top_bins"][scored].sum())
    real_long = col["time_realised_long_usd"].astype(float)
    real_short = col["time_realised_short_usd"].astype(float)
    known = (
        np.isfinite(real_long)
        & np.isfinite(real_short)
        & np.isfinite(col["est_long_usd"].astype(float))
    )
    source = window_source(col["time_realised_source"][known])
    t = known & (col["time_realised_source"] == source)
    est = np.stack([col["est_long_usd"][t], col["est_short_usd"][t]], axis=1).astype(float)
    real = np.stack([real_long[t], real_short[t]], axis=1)
    rho_1d, lo_1d, hi_1d = spearman_interval(est[:, :, None], real[:, :, None])
    rho_4h, lo_4h, hi_4h = spearman_interval(*_blocks_pairs(col, t))
    called, happened = heavier_sign(est[:, 0], est[:, 1]), heavier_sign(real[:, 0], real[:, 1])
    both = (called != 0) & (happened != 0)
    return {
        "days_scored": int(scored.sum()),
        "coverage_pct": float(col["covered_hours"].sum()) / (24 * days) * 100 if days else math.nan,
        "events": int(col["events"].sum()),
        "top_precision": _ratio(top_hits, top_bins),
        "top_precision_lower_95": pooled_lower_bound(col["top_hits"][scored], col["top_bins"][scored]),
        "baseline_hit_share": _ratio(col["map_bins_hit"][scored].sum(), col["map_bins"][scored].sum()),
        "nearest_hit_share": _ratio(col["nearest_hits"][scored].sum(), top_bins),
        "heavier_hit_rate": _mean(col["heavier_hit"][scored].astype(float)),
        "swept_spearman_median": _median(col["swept_spearman"][scored].astype(float)),
        "time_realised_source": source,
        "time_days": int(t.sum()),
        "time_spearman_1d": rho_1d, "time_spearman_1d_lo": lo_1d, "time_spearman_1d_hi": hi_1d,
        "time_spearman_4h": rho_4h, "time_spearman_4h_lo": lo_4h, "time_spearman_4h_hi": hi_4h,
        "est_to_realised_ratio": _ratio(est.sum(), real.sum()),
        "time_heavier_hit_rate": float((called == happened)[both].mean()) if both.any() else math.nan,
    }  # fmt: skip


def window_source(sources: np.ndarray) -> str:
    """The one realised series a window's time level is scored against: the source with the
    most days (recorded on a tie), "" without any. Never both: Coinglass's Binance bars sum
    every contract of the coin (a superset of the symbol's book), the recorded totals are the
    symbol's own lower bound — ranks and ratios across the two would compare two books."""
    names, counts = np.unique(np.asarray(sources, dtype=object).astype(str), return_counts=True)
    ranked = sorted(zip(counts.tolist(), names.tolist(), strict=True),
                    key=lambda c: (c[0], c[1] == "recorded"))  # fmt: skip
    ranked = [name for _, name in ranked if name]
    return ranked[-1] if ranked else ""


def _blocks_pairs(col: dict, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimated and realised 4-hour values of the time-scored days, (days, 2 sides, 6)."""
    est = np.stack([col["est_4h_long_usd"][t], col["est_4h_short_usd"][t]], axis=1)
    real = np.stack([col["realised_4h_long_usd"][t], col["realised_4h_short_usd"][t]], axis=1)
    return est, real


def rolling_summaries(
    rows: pd.DataFrame, as_of: list[date], *, symbol: str, venue: str = "binance",
    windows: tuple[int, ...] = SUMMARY_WINDOWS,
) -> pd.DataFrame:  # fmt: skip
    """VALIDATION_SUMMARY_SCHEMA rows: for each date D of ``as_of``, model and window, the
    summary of the validation rows dated [D − window, D − 1] (only those: no look-ahead)."""
    out = []
    for model in ABLATIONS:
        col = columns_of(rows[rows["model"] == model])
        days = np.array(list(col.get("date", [])), dtype="datetime64[D]")
        for day in as_of:
            for window in windows:
                edges = np.array([day - timedelta(days=window), day], "datetime64[D]")
                lo, hi = np.searchsorted(days, edges).tolist()
                part = {c: values[lo:hi] for c, values in col.items()}
                out.append(
                    {"date": day, "symbol": symbol, "venue": venue, "model": model,
                     "window_days": window, **summarise(part, window)}
                )  # fmt: skip
    return pd.DataFrame(out)
