"""The model pass streamed through time: the maps of the one pass (engine.run_model) with
memory bounded by the longest window plus one chunk of bars, not by the length of history.

What a snapshot at T reads (snapshots.py): the cohorts born in [T − 30 d, T) with their
liquidation minutes and liquidated notional, and each side's running log-survival S up to
T. S is a sequential sum whose every step subtracts that bar's liquidations — of cohorts of
any age, so a cohort born years ago still feeds the shrink in the bar it dies. The state
carried from chunk to chunk is therefore:
- S per side and the clamped-shrink flags: one number per bar, small, kept whole;
- every cohort born in the longest window before the next snapshot, dead or alive (the
  heatmap and the estimated liquidations read the dead ones too);
- every older cohort still alive (its death, when it comes, feeds the shrink).
Older dead cohorts are dropped. Every step performs the floating-point operations of the
one pass on the same values in the same order, so the maps are identical, not merely
close (tests/transforms/test_liqmap_stream.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from transforms.liqmap.cohorts import Cohorts, open_cohorts
from transforms.liqmap.config import WINDOWS, ModelConfig
from transforms.liqmap.first_passage import first_high_touch, first_low_touch
from transforms.liqmap.inputs import Bars, MarkPath
from transforms.liqmap.snapshots import DAY_US, SnapshotMaker
from transforms.liqmap.survival import (
    LONG,
    NEVER,
    SHORT,
    Dying,
    Fates,
    liquidated_notional,
    shrink_span,
)
from transforms.venue_margin import MarginRules

_COHORT_ARRAYS = [f.name for f in fields(Cohorts) if f.name != "tiers"]
LONGEST_WINDOW_US = max(WINDOWS.values()) * DAY_US


@dataclass(frozen=True)
class Pool:
    """The cohorts a later snapshot or the shrink can still need, in birth order, with what
    is known of their fates so far (death NEVER: alive at the end of the bars processed)."""

    cohorts: Cohorts
    death_time_us: np.ndarray
    death_bar: np.ndarray
    liquidated_usd: np.ndarray

    def take(self, index: np.ndarray) -> Pool:
        cohorts = replace(
            self.cohorts, **{k: getattr(self.cohorts, k)[index] for k in _COHORT_ARRAYS}
        )
        return Pool(
            cohorts, self.death_time_us[index], self.death_bar[index], self.liquidated_usd[index]
        )

    def joined(self, born: Cohorts, n_bars: int) -> Pool:
        """This pool followed by newly born cohorts (later births: birth order holds)."""
        cohorts = replace(
            born,
            **{
                k: np.concatenate([getattr(self.cohorts, k), getattr(born, k)])
                for k in _COHORT_ARRAYS
            },
        )
        n = len(born.birth_bar)
        return Pool(
            cohorts,
            np.concatenate([self.death_time_us, np.full(n, NEVER, np.int64)]),
            np.concatenate([self.death_bar, np.full(n, n_bars, np.int64)]),
            np.concatenate([self.liquidated_usd, np.zeros(n)]),
        )


def bars_between(bars: Bars, j0: int, j1: int) -> Bars:
    return Bars(*(getattr(bars, f.name)[j0:j1] for f in fields(Bars)))


def born_between(
    bars: Bars, j0: int, j1: int, brackets: pd.DataFrame | MarginRules, config: ModelConfig
) -> Cohorts:
    """The cohorts bars [j0, j1) open, numbered by their global bar (as the one pass does)."""
    born = open_cohorts(bars_between(bars, j0, j1), brackets, config)
    return replace(born, birth_bar=born.birth_bar + j0)


def first_touches(
    path: MarkPath, minutes: tuple[int, int], pool: Pool, n_carried: int
) -> tuple[np.ndarray, np.ndarray]:
    """(pool index, path minute) of each cohort still alive that the path liquidates in
    ``minutes`` = [m0, m1): the first minute at or after its birth whose mark low (long) or
    high (short) touches its liquidation price — the minute the one pass finds, searched one
    chunk at a time. Cohorts born in the chunk use the sparse table; carried ones, alive at
    m0, die where the chunk's running extreme first reaches them (one binary search each)."""
    m0, m1 = minutes
    c = pool.cohorts
    carried = np.flatnonzero(pool.death_time_us[:n_carried] == NEVER)
    old_index, old_minute = _carried_touches(path, minutes, c, carried)
    new = np.arange(n_carried, len(c.birth_bar))
    start = np.searchsorted(path.time_us, c.birth_time_us[new], side="left") - m0
    level, longs = c.liq_price[new], c.is_long[new]
    minute = np.empty(len(new), np.int64)
    minute[longs] = first_low_touch(path.low[m0:m1], start[longs], level[longs])
    minute[~longs] = first_high_touch(path.high[m0:m1], start[~longs], level[~longs])
    hit = minute < m1 - m0
    return np.concatenate([old_index, new[hit]]), np.concatenate([old_minute, m0 + minute[hit]])


def _carried_touches(
    path: MarkPath, minutes: tuple[int, int], c: Cohorts, carried: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    m0, m1 = minutes
    if m1 <= m0 or not len(carried):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    running_low = np.minimum.accumulate(path.low[m0:m1])  # non-increasing
    running_high = np.maximum.accumulate(path.high[m0:m1])  # non-decreasing
    longs = c.is_long[carried]
    minute = np.empty(len(carried), np.int64)
    minute[longs] = np.searchsorted(-running_low, -c.liq_price[carried[longs]], side="left")
    minute[~longs] = np.searchsorted(running_high, c.liq_price[carried[~longs]], side="left")
    hit = minute < m1 - m0
    return carried[hit], m0 + minute[hit]


class StreamedPass:
    """The one pass, advanced chunk by chunk to each snapshot time asked for (in time order).

    After ``advance(t)``, ``run_parts()`` gives cohorts, fates and a SnapshotMaker that cut any
    snapshot in (previous t, t] exactly as the one pass would; fates after t are not known yet
    (death NEVER), which no snapshot up to t can tell apart."""

    def __init__(
        self,
        bars: Bars,
        path: MarkPath,
        brackets: pd.DataFrame | MarginRules,
        config: ModelConfig,
        symbol: str,
        chunk_days: int = 60,
    ) -> None:
        if chunk_days < 1:
            raise ValueError(f"chunk_days must be at least 1, got {chunk_days}")
        self.bars, self.path, self.brackets, self.config, self.symbol = (
            bars, path, brackets, config, symbol,
        )  # fmt: skip
        n_bars = len(bars.time_us)
        self.chunk_days, self.chunk_bars = chunk_days, chunk_days * 288
        self.log_survival = np.zeros((2, n_bars))
        self.clamped = np.zeros(n_bars, bool)
        self.current = [0.0, 0.0]  # S of the last bar processed, per side
        self.done = 0  # bars [0, done) processed
        self.kept_from = np.iinfo(np.int64).min  # no snapshot before this is asked again
        self.pool = Pool(
            born_between(bars, 0, 0, brackets, config),
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
        )  # fmt: skip

    def advance(self, t_us: int, first_us: int | None = None) -> None:
        """Process the bars the snapshots up to t read (through the first reading at or after
        t: its minutes hold every liquidation before t), forgetting what no snapshot from
        ``first_us`` (default t) on can need. Snapshots come in time order: any in
        [first_us, t] can be cut (again) until a later ``first_us`` is given."""
        first_us = t_us if first_us is None else first_us
        if first_us < self.kept_from or first_us > t_us:
            raise ValueError("a streamed pass cuts snapshots in time order only")
        self.kept_from = first_us
        n_bars = len(self.bars.time_us)
        target = min(int(np.searchsorted(self.bars.time_us, t_us, side="left")) + 1, n_bars)
        while self.done < target:
            self._step(self.done, min(self.done + self.chunk_bars, target))
            self._forget(first_us - LONGEST_WINDOW_US)

    def run_parts(self) -> tuple[Cohorts, Fates, SnapshotMaker]:
        p = self.pool
        fates = Fates(
            p.death_time_us, p.death_bar, self.log_survival, p.liquidated_usd, self.clamped
        )
        maker = SnapshotMaker(p.cohorts, fates, self.bars, self.path, self.symbol, self.config)
        return p.cohorts, fates, maker

    def _minutes(self, j0: int, j1: int) -> tuple[int, int]:
        """The path minutes whose liquidations fall in bars [j0, j1): [t_(j0−1), t_(j1−1))."""
        t, m = self.bars.time_us, self.path.time_us
        m0 = int(np.searchsorted(m, t[j0 - 1], side="left")) if j0 > 0 else 0
        m1 = int(np.searchsorted(m, t[j1 - 1], side="left")) if j1 < len(t) else len(m)
        return m0, m1

    def _step(self, j0: int, j1: int) -> None:
        n_bars = len(self.bars.time_us)
        n_carried = len(self.pool.death_bar)
        pool = self.pool.joined(born_between(self.bars, j0, j1, self.brackets, self.config), n_bars)
        index, minute = first_touches(self.path, self._minutes(j0, j1), pool, n_carried)
        death_time = self.path.time_us[minute]
        death_bar = np.searchsorted(self.bars.time_us, death_time, side="right")
        pool.death_time_us[index], pool.death_bar[index] = death_time, death_bar
        if self.config.shrink_on_oi_decrease:
            for side in (LONG, SHORT):
                mine = index[pool.cohorts.is_long[index] == (side == LONG)]  # birth order
                dying = Dying.of(
                    pool.cohorts.birth_bar[mine], pool.cohorts.contracts[mine], pool.death_bar[mine]
                )
                self.current[side] = shrink_span(
                    self.log_survival[side], self.bars, (j0, j1), self.current[side], dying,
                    self.clamped,
                )  # fmt: skip
        died = np.ones(len(index), bool)
        pool.liquidated_usd[index] = liquidated_notional(
            pool.take(index).cohorts, died, death_bar, self.log_survival
        )
        self.pool, self.done = pool, j1

    def _forget(self, cutoff_us: int) -> None:
        """Drop the cohorts no later snapshot reads and the shrink no longer needs: born
        before the longest window of every snapshot still to come, and already dead."""
        p = self.pool
        keep = (p.cohorts.birth_time_us >= cutoff_us) | (p.death_time_us == NEVER)
        if not keep.all():
            self.pool = p.take(np.flatnonzero(keep))
