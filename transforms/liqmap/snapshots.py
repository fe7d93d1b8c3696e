"""Daily snapshots from one pass of history: bins, key levels and coverage per date and window.

A snapshot at T is the state after every open-interest reading before T: cohorts born in
[T − W, T), shrunk by the bars ending before T, swept by every mark minute before T. (The
reading at exactly 00:00 belongs to the next day's archive file, published a day later.)

Cohorts are ordered by birth, so each window [T − W, T) is a slice; the 1d, 7d and 30d
windows are nested suffixes of the 30d slice, binned once each part and summed.

The price grid of a snapshot comes from the symbol's configuration or from the snapshot's
own P0, never from prices after T, so a date's map is the same computed alone or in a year.
A snapshot needs a fresh price and fresh open interest (within ``FRESH_US`` before T);
without them there is no map of that date, only the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transforms.liqmap.cohorts import Cohorts
from transforms.liqmap.config import WINDOWS, ModelConfig, grid_for
from transforms.liqmap.inputs import MINUTE_US, Bars, MarkPath
from transforms.liqmap.survival import SHORT, Fates

DAY_US = 86_400 * 1_000_000
FRESH_US = 60 * MINUTE_US  # the last price and OI reading must fall in the hour before T
SIDES = ("long", "short")


@dataclass(frozen=True)
class Grid:
    """Notional per (bin, side, tier) for one snapshot; bin k spans lo + k·size … + size."""

    lo: float
    size: float
    cells: np.ndarray  # shape (n_bins, 2, n_tiers); side 0 = long, 1 = short

    @property
    def edges(self) -> np.ndarray:
        return self.lo + self.size * np.arange(self.cells.shape[0] + 1)


@dataclass(frozen=True)
class Snapshot:
    time_us: int
    p0: float
    grids: dict[str, Grid]  # by window name
    coverage: dict[str, dict[str, int]]  # by window name
    liquidated_long_usd: float  # the model's liquidations in the 24 h before the snapshot
    liquidated_short_usd: float
    p0_from_fallback: bool
    round_step: float


class StaleSnapshotError(ValueError):
    """No map can be cut at T: the price or the open interest before T is missing."""


def _grid_bounds(p0: float, bin_size: float, range_pct: float) -> tuple[int, int]:
    lo_bin = int(np.floor(p0 * (1 - range_pct) / bin_size))
    hi_bin = int(np.floor(p0 * (1 + range_pct) / bin_size))
    return lo_bin, hi_bin - lo_bin + 1


def snapshot_times(days: np.ndarray, offset_minutes: int) -> np.ndarray:
    """00:00 UTC (+ offset) of each day, as epoch microseconds."""
    return (
        days.astype("datetime64[D]").astype("datetime64[us]").astype(np.int64)
        + offset_minutes * MINUTE_US
    )


class SnapshotMaker:
    """Holds the one-pass results and cuts a snapshot at any time T."""

    def __init__(
        self,
        cohorts: Cohorts,
        fates: Fates,
        bars: Bars,
        path: MarkPath,
        symbol: str,
        config: ModelConfig,
    ) -> None:
        self.c, self.f, self.bars, self.path = cohorts, fates, bars, path
        self.symbol, self.config, self.range_pct = symbol, config, config.range_pct
        self.n_tiers = len(cohorts.tiers)
        self.side_tier = np.where(cohorts.is_long, 0, self.n_tiers) + cohorts.tier_index
        died = fates.death_time_us != np.iinfo(np.int64).max
        order = np.argsort(fates.death_time_us[died], kind="stable")
        self.death_sorted = fates.death_time_us[died][order]
        self.death_birth = cohorts.birth_time_us[died][order]
        self.death_liquidated = fates.liquidated_usd[died][order]
        self.death_long = cohorts.is_long[died][order]

    def price_at(self, t_us: int) -> tuple[float, bool]:
        """Close of the last minute before t (mark, or last price where mark was missing);
        refuses a price older than ``FRESH_US`` or a t without fresh open interest."""
        i = int(np.searchsorted(self.path.time_us, t_us, side="left")) - 1
        if i < 0 or self.path.time_us[i] < t_us - FRESH_US:
            raise StaleSnapshotError("no mark or last price in the hour before the snapshot")
        j = int(np.searchsorted(self.bars.time_us, t_us, side="left")) - 1
        if j < 0 or self.bars.time_us[j] < t_us - FRESH_US:
            raise StaleSnapshotError("no open-interest reading in the hour before the snapshot")
        return float(self.path.close[i]), bool(self.path.fallback[i])

    def grid_at(self, t_us: int) -> tuple[float, int, int, float, float, bool]:
        """(bin size, first bin, bin count, round step, P0, P0 from last price) at t."""
        p0, fallback = self.price_at(t_us)
        bin_size, round_step = grid_for(self.symbol, p0, self.config)
        lo_bin, n_bins = _grid_bounds(p0, bin_size, self.range_pct)
        return bin_size, lo_bin, n_bins, round_step, p0, fallback

    def _bin(
        self, lo: int, hi: int, t_us: int, bin_size: float, lo_bin: int, n_bins: int
    ) -> np.ndarray:
        """Alive notional at t of cohorts[lo:hi], binned: shape (n_bins, 2, n_tiers)."""
        shape = (n_bins, 2, self.n_tiers)
        if hi <= lo:
            return np.zeros(shape)
        alive = self.f.death_time_us[lo:hi] >= t_us
        rel = np.floor(self.c.liq_price[lo:hi] / bin_size).astype(np.int64) - lo_bin
        use = alive & (rel >= 0) & (rel < n_bins)
        j = int(np.searchsorted(self.bars.time_us, t_us, side="left")) - 1  # last reading before t
        survival = self.f.survival(self.c, lo + np.flatnonzero(use), j)
        key = rel[use] * (2 * self.n_tiers) + self.side_tier[lo:hi][use]
        counts = np.bincount(
            key, weights=self.c.size_usd[lo:hi][use] * survival, minlength=int(np.prod(shape))
        )
        return counts.reshape(shape)

    def _coverage(self, t_us: int, days: int) -> dict[str, int]:
        start = t_us - days * DAY_US
        bar_t = self.bars.time_us
        b0, b1 = np.searchsorted(bar_t, [start, t_us])  # readings in [T − W, T)
        in_window = slice(b0, b1)
        opened = (self.bars.d_contracts[in_window] > 0) & ~np.isfinite(
            self.bars.entry_vwap[in_window]
        )
        m0, m1 = np.searchsorted(self.path.time_us, [start, t_us])  # minutes in [T − W, T)
        return {
            "oi_missing_bars": int(days * 288 - (b1 - b0)),
            "kline_missing_bars": int(opened.sum()),
            "shrink_clamped_bars": int(self.f.shrink_clamped[in_window].sum()),
            "mark_fallback_minutes": int(self.path.fallback[m0:m1].sum()),
            "price_missing_minutes": int(days * 1440 - (m1 - m0)),
        }

    def snapshot(self, t_us: int, up_to: str | None = None) -> Snapshot:
        """The snapshot at t, with every window (or those no longer than ``up_to``)."""
        bin_size, lo_bin, n_bins, round_step, p0, p0_fallback = self.grid_at(t_us)
        births = self.c.birth_time_us
        end = int(np.searchsorted(births, t_us, side="left"))
        grids, coverage, total = {}, {}, None
        previous_start = end
        longest = WINDOWS[up_to] if up_to else max(WINDOWS.values())
        for name, days in sorted(WINDOWS.items(), key=lambda kv: kv[1]):
            if days > longest:
                break
            start = int(np.searchsorted(births, t_us - days * DAY_US, side="left"))
            part = self._bin(start, previous_start, t_us, bin_size, lo_bin, n_bins)
            total = part if total is None else total + part
            grids[name] = Grid(lo_bin * bin_size, bin_size, total)
            coverage[name] = self._coverage(t_us, days)
            previous_start = start
        long_usd, short_usd = self.liquidated_between(np.array([t_us - DAY_US]), np.array([t_us]))
        return Snapshot(
            t_us, p0, grids, coverage, float(long_usd[0]), float(short_usd[0]),
            p0_fallback, round_step,
        )  # fmt: skip

    def liquidated_between(
        self, start_us: np.ndarray, end_us: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The model's liquidated notional (long, short) in each interval [start, end): the
        cohorts whose liquidation minute falls in it, among those born in the longest window
        before its end ([end − 30 d, end), the cohorts a map of that instant holds), so the
        figure does not depend on how much history the run started with. The one definition
        of "estimated liquidations": a snapshot's 24 h figure and validation's 4-hour blocks."""
        first = np.searchsorted(self.death_sorted, start_us, side="left").tolist()
        last = np.searchsorted(self.death_sorted, end_us, side="left").tolist()
        oldest = (np.asarray(end_us) - max(WINDOWS.values()) * DAY_US).tolist()
        long_usd, short_usd = np.zeros(len(first)), np.zeros(len(first))
        for i, (lo, hi, born) in enumerate(zip(first, last, oldest, strict=True)):
            young = self.death_birth[lo:hi] >= born
            liquidated, longs = self.death_liquidated[lo:hi][young], self.death_long[lo:hi][young]
            long_usd[i], short_usd[i] = liquidated[longs].sum(), liquidated[~longs].sum()
        return long_usd, short_usd

    def heatmap(
        self, t_us: int, days: int = 7, step_minutes: int = 60
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Alive notional per (hour, bin, side) over the days before t, on the grid of t's price:
        at hour h, the cohorts born in [t − days, h) and alive at h, shrunk to h.

        One pass over the cohorts, not one per hour: a cohort counts at every hour from its
        birth to its death, a contiguous run added as +w and −w to a difference array and
        summed over hours. The shrink factor exp(S(h) − S(birth)) splits into a cohort part
        and an hour part, so both can be applied outside the sum."""
        bin_size, lo_bin, n_bins, *_ = self.grid_at(t_us)
        start_t = t_us - days * DAY_US
        n_hours = days * 24 * 60 // step_minutes
        hours = start_t + np.arange(1, n_hours + 1) * step_minutes * MINUTE_US
        edges = (lo_bin + np.arange(n_bins + 1)) * bin_size
        births = self.c.birth_time_us
        span = slice(*np.searchsorted(births, [start_t, hours[-1]], side="left").tolist())
        first = np.searchsorted(hours, births[span], side="right")  # first hour after birth
        stop = np.searchsorted(
            hours, self.f.death_time_us[span], side="right"
        )  # alive while h <= death
        rel = np.floor(self.c.liq_price[span] / bin_size).astype(np.int64) - lo_bin
        use = (rel >= 0) & (rel < n_bins) & (first < stop)
        cells = np.zeros((n_hours, n_bins, 2))
        if not use.any():
            return hours, edges, cells
        side = (self.side_tier[span][use] >= self.n_tiers).astype(np.int64)  # 0 long, 1 short
        birth_log_s = self.f.log_survival[side, self.c.birth_bar[span][use]]
        # one reference per side keeps every cohort factor <= 1 (no overflow)
        reference = np.array([birth_log_s[side == s].min(initial=0.0) for s in (0, SHORT)])
        weight = self.c.size_usd[span][use] * np.exp(reference[side] - birth_log_s)
        key = rel[use] * 2 + side
        width = n_bins * 2
        flat_size = (n_hours + 1) * width
        opened, closed = first[use] * width + key, stop[use] * width + key
        running = np.cumsum(
            (np.bincount(opened, weight, flat_size) - np.bincount(closed, weight, flat_size))
            .reshape(n_hours + 1, width), axis=0,
        )[:n_hours]  # fmt: skip
        alive = np.cumsum(
            (np.bincount(opened, minlength=flat_size) - np.bincount(closed, minlength=flat_size))
            .reshape(n_hours + 1, width), axis=0,
        )[:n_hours]  # fmt: skip
        last_bar = (
            np.searchsorted(self.bars.time_us, hours, side="left") - 1
        )  # last reading before h
        hour_factor = np.exp(self.f.log_survival[:, last_bar].T - reference)  # (hour, side)
        column_side = np.tile([0, SHORT], n_bins)  # key = bin · 2 + side
        cells = np.where(alive > 0, running * hour_factor[:, column_side], 0.0)  # zeros stay zero
        return hours, edges, cells.reshape(n_hours, n_bins, 2)  # cells: (hour, bin, side)
