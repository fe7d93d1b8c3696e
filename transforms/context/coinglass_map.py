"""Coinglass's own estimated liquidation map, summed the way our map summary is: cumulative
long liquidations between p0·(1 − x) and p0, cumulative shorts between p0 and p0·(1 + x).

Pure. The rows are the lake's ``liquidation_map`` snapshot (price, usd, leverage — NaN where
Coinglass gives none; several rows may share a price, one per leverage), so the briefing can
set Coinglass's numbers beside our ``cum_long_{x}pct`` / ``cum_short_{x}pct``.
"""

from __future__ import annotations

import math

import pandas as pd

DISTANCES_PCT = (2, 3, 5)


def cumulative_at(rows: pd.DataFrame, p0: float, distance_pct: float) -> tuple[float, float]:
    """(longs, shorts) in USD within ``distance_pct`` % of ``p0``: longs at prices in
    [p0(1 − x), p0), shorts at prices in (p0, p0(1 + x)]. A level exactly at p0 is neither."""
    if not math.isfinite(p0) or p0 <= 0:
        raise ValueError(f"reference price must be a positive number, got {p0}")
    x = distance_pct / 100
    price, usd = rows["price"], rows["usd"].fillna(0.0)
    longs = usd[(price >= p0 * (1 - x)) & (price < p0)].sum()
    shorts = usd[(price > p0) & (price <= p0 * (1 + x))].sum()
    return float(longs), float(shorts)


def cumulative_table(
    rows: pd.DataFrame, p0: float, distances_pct: tuple[float, ...] = DISTANCES_PCT
) -> dict[str, float]:
    """``{"cum_long_2pct": …, "cum_short_2pct": …, …}``: the summary's column names, so the
    two maps compare key by key."""
    out: dict[str, float] = {}
    for x in distances_pct:
        longs, shorts = cumulative_at(rows, p0, x)
        out[f"cum_long_{x:g}pct"] = longs
        out[f"cum_short_{x:g}pct"] = shorts
    return out


def reference_price(rows: pd.DataFrame, fallback: float) -> float:
    """Coinglass's price at fetch time when the snapshot carries one (its levels are placed
    around it), else ``fallback`` (our map's p0)."""
    if "last_price" in rows and rows["last_price"].notna().any():
        return float(rows["last_price"].dropna().iloc[0])
    return fallback
