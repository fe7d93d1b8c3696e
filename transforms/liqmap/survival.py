"""Which cohorts the mark path liquidated, and how voluntary closes shrink the rest.

Liquidation: a long dies at the first minute at or after its birth whose mark low
touches its liquidation price (a short: mark high). Voluntary closes, in contracts and per
side: in a bar j where open interest fell by −dC_j, the model's liquidations of that side
in the bar (K_j contracts) explain part of the fall; the rest, V_j = max(0, −dC_j − K_j), was
closed voluntarily, so every survivor of that side shrinks by r_j = 1 − V_j / (C_(j−1) − K_j):
the open interest that remained after the liquidations left. A ratio that would fall below
zero is clamped (and flagged). Survival from bar b to j is exp(S_j − S_b), S the running
sum of log r of the cohort's side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transforms.liqmap.cohorts import Cohorts
from transforms.liqmap.first_passage import first_high_touch, first_low_touch
from transforms.liqmap.inputs import Bars, MarkPath

NEVER = np.iinfo(np.int64).max
_MIN_RATIO = 1e-12
LONG, SHORT = 0, 1


@dataclass(frozen=True)
class Fates:
    death_time_us: np.ndarray  # minute open time of the liquidation; NEVER if still alive
    death_bar: np.ndarray  # bar whose interval holds that minute; n_bars if after the last bar
    log_survival: np.ndarray  # S per side and bar, shape (2, n_bars): row 0 longs, 1 shorts
    liquidated_usd: np.ndarray  # notional removed by the liquidation (0 if alive)
    shrink_clamped: np.ndarray  # per bar: a side's ratio was clamped (more closed than held)

    def survival(self, cohorts: Cohorts, index: np.ndarray, bar: int) -> np.ndarray:
        """exp(S_bar − S_birth) of the cohorts ``index``, each on its own side."""
        side = np.where(cohorts.is_long[index], LONG, SHORT)
        birth = cohorts.birth_bar[index]
        return np.exp(self.log_survival[side, bar] - self.log_survival[side, birth])


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
    clamped = np.zeros(n_bars, bool)
    log_survival = np.zeros((2, n_bars))
    if shrink:
        for side in (LONG, SHORT):
            mine = cohorts.is_long == (side == LONG)
            log_survival[side] = _log_survival(cohorts, mine, bars, death_bar, clamped)
    side = np.where(cohorts.is_long, LONG, SHORT)
    before_death = log_survival[side, np.minimum(death_bar, n_bars) - 1]
    liquidated = np.where(
        died,
        cohorts.size_usd * np.exp(before_death - log_survival[side, cohorts.birth_bar]),
        0.0,
    )
    return Fates(death_time, death_bar, log_survival, liquidated, clamped)


def _log_survival(
    cohorts: Cohorts, mine: np.ndarray, bars: Bars, death_bar: np.ndarray, clamped: np.ndarray
) -> np.ndarray:
    """S_j of one side, bar by bar over the bars where OI fell (the model's one sequential
    step); sets ``clamped[j]`` where more contracts closed than the side still held."""
    n_bars = len(bars.time_us)
    order = np.argsort(death_bar[mine], kind="stable")
    dying_birth = cohorts.birth_bar[mine][order]
    dying_contracts = cohorts.contracts[mine][order]
    first_dying = np.searchsorted(death_bar[mine][order], np.arange(n_bars + 1))
    log_s = np.zeros(n_bars)
    current, filled = 0.0, 0
    for j in np.flatnonzero(bars.d_contracts < 0).tolist():
        log_s[filled:j] = current
        lo, hi = first_dying[j], first_dying[j + 1]
        liquidated = 0.0
        if hi > lo:
            births = dying_birth[lo:hi]
            liquidated = float(dying_contracts[lo:hi] @ np.exp(current - log_s[births]))
        voluntary = max(0.0, -bars.d_contracts[j] - liquidated)
        remaining = bars.contracts[j - 1] - liquidated
        ratio = 1.0 - voluntary / remaining if remaining > 0 else -1.0
        if ratio < _MIN_RATIO and voluntary > 0:
            clamped[j] = True
        current += np.log(max(ratio, _MIN_RATIO)) if voluntary > 0 else 0.0
        log_s[j] = current
        filled = j + 1
    log_s[filled:] = current
    return log_s
