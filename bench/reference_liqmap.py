"""The liquidation-map model as a straightforward per-bar Python loop: the reference.

Same model as transforms/liqmap (shared/design/liquidation-model.md), written the
obvious way — walk the bars, keep a list of live cohorts, kill, shrink, open, and
snapshot at each date — so the vectorised engine can be checked against it
(tests/transforms/test_liqmap_reference.py) and timed against it (bench/liqmap.py).
Snapshots must fall on 5-minute bar ends (the engine's default 00:00 UTC does); a snapshot
at T sees the readings before T and every mark minute before T.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from transforms.liqmap.config import WINDOWS, ModelConfig, grid_for
from transforms.liqmap.inputs import build_bars, build_mark_path
from transforms.liquidation_price import bracket_for, liquidation_price

DAY_US = 86_400 * 1_000_000


def reference_maps(
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    mark_1m: pd.DataFrame,
    brackets: pd.DataFrame,
    dates: list[date],
    config: ModelConfig,
    symbol: str,
) -> tuple[dict, dict]:
    """Return ({(date, window): {(bin_lo, side, tier): usd}}, {date: (long_usd, short_usd)})."""
    bars = build_bars(metrics, klines_5m)
    path = build_mark_path(mark_1m)
    bin_size, _ = grid_for(symbol, float(np.nanmedian(path.close)), config)
    tiers, aggressive, passive = config.tiers.vectors()
    snapshots = {
        int(np.datetime64(d, "us").astype(np.int64))
        + config.snapshot_offset_minutes * 60_000_000: d
        for d in dates
    }
    minute_t, lows, highs, closes = (
        path.time_us.tolist(), path.low.tolist(), path.high.tolist(), path.close.tolist(),
    )  # fmt: skip
    alive: list[dict] = []  # each: birth_t, long, tier, size, lp
    liquidations: list[tuple[int, bool, float]] = []
    grids: dict = {}
    liquidated_by_day: dict = {}
    m = 0
    for j, t_j in enumerate(bars.time_us.tolist()):
        # 1. the minutes of bar j: [t_(j-1), t_j) — liquidations, bar by bar
        bar_low, bar_high, last_minute = math.inf, -math.inf, None
        while m < len(minute_t) and minute_t[m] < t_j:
            bar_low, bar_high, last_minute = min(bar_low, lows[m]), max(bar_high, highs[m]), m
            m += 1
        liquidated_here = 0.0
        if last_minute is not None:
            survivors = []
            for c in alive:
                # a cohort is swept by the first minute that touches it; per bar is enough here
                # because every minute of bar j is after every live cohort's birth
                hit = bar_low <= c["lp"] if c["long"] else bar_high >= c["lp"]
                if hit:
                    liquidated_here += c["size"]
                    liquidations.append((t_j, c["long"], c["size"]))
                else:
                    survivors.append(c)
            alive = survivors
        # 2. a snapshot at this bar end sees the minutes before it, not this reading
        if t_j in snapshots:
            day = snapshots[t_j]
            p0 = closes[m - 1]
            lo_bin = math.floor(p0 * (1 - config.range_pct) / bin_size)
            hi_bin = math.floor(p0 * (1 + config.range_pct) / bin_size)
            for window, days in WINDOWS.items():
                grid: dict = {}
                for c in alive:
                    if c["birth_t"] < t_j - days * DAY_US:
                        continue
                    b = math.floor(c["lp"] / bin_size)
                    if lo_bin <= b <= hi_bin:
                        key = (b * bin_size, "long" if c["long"] else "short", c["tier"])
                        grid[key] = grid.get(key, 0.0) + c["size"]
                grids[(day, window)] = grid
            day_start = t_j - DAY_US
            liquidated_by_day[day] = (
                sum(s for t, is_long, s in liquidations if day_start < t <= t_j and is_long),
                sum(s for t, is_long, s in liquidations if day_start < t <= t_j and not is_long),
            )
        d_oi = bars.d_oi[j]
        # 3. voluntary closes shrink every survivor
        if config.shrink_on_oi_decrease and d_oi < 0:
            voluntary = max(0.0, -d_oi - liquidated_here)
            ratio = max(1.0 - voluntary / bars.oi_usd[j - 1], 1e-12)
            for c in alive:
                c["size"] *= ratio
        # 4. new contracts open a long and a short cohort
        entry = bars.entry_vwap[j] if config.entry == "vwap" else bars.entry_close[j]
        if d_oi > 0 and math.isfinite(entry):
            share = bars.aggressor_buy_share[j]
            share = 0.5 if math.isnan(share) else share
            tilt = 2 * share - 1
            bracket = bracket_for(
                brackets, pd.Timestamp(t_j, unit="us").date(), config.position_notional
            )
            for is_long in (True, False):
                for k, tier in enumerate(tiers):
                    if config.both_sides:
                        mid = (aggressive[k] + passive[k]) / 2
                        half_gap = (aggressive[k] - passive[k]) / 2
                        weight = mid + tilt * half_gap if is_long else mid - tilt * half_gap
                    else:
                        weight = aggressive[k] if (share >= 0.5) == is_long else 0.0
                    size = d_oi * weight
                    if size <= 0:
                        continue
                    lp = float(
                        liquidation_price(
                            np.array([is_long]), np.array([entry]), np.array([float(tier)]),
                            np.array([bracket["mmr"]]), np.array([bracket["cum"]]),
                            config.position_notional, config.formula,
                        )[0]
                    )  # fmt: skip
                    alive.append(
                        {"birth_t": t_j, "long": is_long, "tier": tier, "size": size, "lp": lp}
                    )
    return grids, liquidated_by_day
