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
            dying = Dying.of(cohorts.birth_bar[mine], cohorts.contracts[mine], death_bar[mine])
            shrink_span(log_survival[side], bars, (0, n_bars), 0.0, dying, clamped)
    liquidated = liquidated_notional(cohorts, died, death_bar, log_survival)
    return Fates(death_time, death_bar, log_survival, liquidated, clamped)


def liquidated_notional(
    cohorts: Cohorts, died: np.ndarray, death_bar: np.ndarray, log_survival: np.ndarray
) -> np.ndarray:
    """Notional a liquidation removes: the birth size shrunk to the bar before the death."""
    n_bars = log_survival.shape[1]
    side = np.where(cohorts.is_long, LONG, SHORT)
    before_death = log_survival[side, np.minimum(death_bar, n_bars) - 1]
    return np.where(
        died,
        cohorts.size_usd * np.exp(before_death - log_survival[side, cohorts.birth_bar]),
        0.0,
    )


@dataclass(frozen=True)
class Dying:
    """One side's cohorts with a known death bar, ordered by it (ties in birth order), so
    the cohorts dying in bar j are one slice, summed in the same order however many are held."""

    death_bar: np.ndarray
    birth_bar: np.ndarray
    contracts: np.ndarray

    @classmethod
    def of(cls, birth_bar: np.ndarray, contracts: np.ndarray, death_bar: np.ndarray) -> Dying:
        order = np.argsort(death_bar, kind="stable")
        return cls(death_bar[order], birth_bar[order], contracts[order])


def shrink_span(
    log_s: np.ndarray,
    bars: Bars,
    span: tuple[int, int],
    current: float,
    dying: Dying,
    clamped: np.ndarray,
) -> float:
    """Fill S_j of one side for bars j in ``span`` = [j0, j1), bar by bar over the bars where
    OI fell (the model's one sequential step), starting from S_(j0-1) = ``current``; return
    S_(j1-1). ``dying`` must hold every cohort of the side that dies in the span, and
    ``log_s`` the S of their birth bars. Sets ``clamped[j]`` where more contracts closed
    than the side still held. Spans run one after another give the same S as one span."""
    j0, j1 = span
    first_dying = np.searchsorted(dying.death_bar, np.arange(j0, j1 + 1))
    filled = j0
    for j in (j0 + np.flatnonzero(bars.d_contracts[j0:j1] < 0)).tolist():
        log_s[filled:j] = current
        lo, hi = first_dying[j - j0], first_dying[j - j0 + 1]
        liquidated = 0.0
        if hi > lo:
            births = dying.birth_bar[lo:hi]
            liquidated = float(dying.contracts[lo:hi] @ np.exp(current - log_s[births]))
        voluntary = max(0.0, -bars.d_contracts[j] - liquidated)
        remaining = bars.contracts[j - 1] - liquidated
        ratio = 1.0 - voluntary / remaining if remaining > 0 else -1.0
        if ratio < _MIN_RATIO and voluntary > 0:
            clamped[j] = True
        current += np.log(max(ratio, _MIN_RATIO)) if voluntary > 0 else 0.0
        log_s[j] = current
        filled = j + 1
    log_s[filled:j1] = current
    return current
