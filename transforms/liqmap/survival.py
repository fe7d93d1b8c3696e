"""Which cohorts the mark path liquidated, and how voluntary closes shrink the rest.

Liquidation: a long dies at the first minute at or after its birth whose mark low
touches its liquidation price (a short: mark high). Voluntary closes: in a bar j where
OI fell, first take out what the model liquidated in that bar (L_j), then shrink every
surviving cohort by r_j = 1 − max(0, −dOI_j − L_j) / OI_(j−1). Survival from bar b to
bar j is exp(C_j − C_b), C the running sum of log r.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transforms.liqmap.cohorts import Cohorts
from transforms.liqmap.first_passage import first_high_touch, first_low_touch
from transforms.liqmap.inputs import Bars, MarkPath

NEVER = np.iinfo(np.int64).max
_MIN_RATIO = 1e-12


@dataclass(frozen=True)
class Fates:
    death_time_us: np.ndarray  # minute open time of the liquidation; NEVER if still alive
    death_bar: np.ndarray  # bar whose interval holds that minute; n_bars if after the last bar
    log_survival: np.ndarray  # C per bar
    liquidated_usd: np.ndarray  # notional removed by the liquidation (0 if alive)


def liquidation_minutes(cohorts: Cohorts, path: MarkPath) -> np.ndarray:
    start = np.searchsorted(path.time_us, cohorts.birth_time_us, side="left")
    death = np.empty(len(start), np.int64)
    longs = cohorts.is_long
    death[longs] = first_low_touch(path.low, start[longs], cohorts.liq_price[longs])
    death[~longs] = first_high_touch(path.high, start[~longs], cohorts.liq_price[~longs])
    return death


def cohort_fates(cohorts: Cohorts, bars: Bars, path: MarkPath, shrink: bool) -> Fates:
    minute = liquidation_minutes(cohorts, path)
    died = minute < len(path.time_us)
    death_time = np.where(died, path.time_us[np.minimum(minute, len(path.time_us) - 1)], NEVER)
    n_bars = len(bars.time_us)
    death_bar = np.where(died, np.searchsorted(bars.time_us, death_time, side="right"), n_bars)
    log_survival = _log_survival(cohorts, bars, death_bar) if shrink else np.zeros(n_bars)
    before_death = log_survival[np.minimum(death_bar, n_bars) - 1]
    liquidated = np.where(
        died, cohorts.size_usd * np.exp(before_death - log_survival[cohorts.birth_bar]), 0.0
    )
    return Fates(death_time, death_bar, log_survival, liquidated)


def _log_survival(cohorts: Cohorts, bars: Bars, death_bar: np.ndarray) -> np.ndarray:
    """C_j, bar by bar over the bars where OI fell (the only sequential step of the model)."""
    n_bars = len(bars.time_us)
    order = np.argsort(death_bar, kind="stable")
    dying_birth = cohorts.birth_bar[order]
    dying_size = cohorts.size_usd[order]
    first_dying = np.searchsorted(death_bar[order], np.arange(n_bars + 1))
    log_c = np.zeros(n_bars)
    current, filled = 0.0, 0
    for j in np.flatnonzero(bars.d_oi < 0).tolist():
        log_c[filled:j] = current
        lo, hi = first_dying[j], first_dying[j + 1]
        liquidated = 0.0
        if hi > lo:
            births = dying_birth[lo:hi]
            liquidated = float(dying_size[lo:hi] @ np.exp(current - log_c[births]))
        voluntary = max(0.0, -bars.d_oi[j] - liquidated)
        ratio = max(1.0 - voluntary / bars.oi_usd[j - 1], _MIN_RATIO)
        current += np.log(ratio)
        log_c[j] = current
        filled = j + 1
    log_c[filled:] = current
    return log_c
