"""Maps cut from a pass into tables: per date and window the map's grid, the summary row
(key levels, estimated liquidations, coverage), the 7-day heatmaps; the frames (the grids'
non-empty bins) are built once from every date's parts, whichever pass (one or streamed) the
snapshots came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from transforms.liqmap.config import WINDOWS, ModelConfig
from transforms.liqmap.key_levels import key_levels
from transforms.liqmap.snapshots import SIDES, SnapshotMaker, StaleSnapshotError, snapshot_times


@dataclass(frozen=True)
class LiquidationMaps:
    bins: pd.DataFrame  # date, symbol, venue, window, bin_lo, bin_hi, side, tier, notional_usd
    summary: pd.DataFrame  # one row per date and window
    heatmap: pd.DataFrame  # date, symbol, venue, hour, bin_lo, bin_hi, side, notional_usd
    missing: dict[date, str]  # dates without a map, and why (no fresh price or open interest)


def unmappable_at(maker: SnapshotMaker, dates: list[date], config: ModelConfig) -> dict[date, str]:
    """The dates whose snapshot lacks a fresh price or open-interest reading, with the reason."""
    times = snapshot_times(np.array(dates, "datetime64[D]"), config.snapshot_offset_minutes)
    missing = {}
    for day, t_us in zip(dates, times.tolist(), strict=True):
        try:
            maker.price_at(t_us)
        except StaleSnapshotError as exc:
            missing[day] = str(exc)
    return missing


@dataclass(frozen=True)
class MapGrid:
    """One map (a date and window) as cut: its cells of shape (bins, 2, tiers) on ``edges``,
    with the P0 and round step its key levels are read at."""

    day: date
    window_index: int
    edges: np.ndarray
    cells: np.ndarray
    p0: float
    round_step: float

    def key_levels(self) -> dict[str, float]:
        return key_levels(self.cells, self.edges, self.p0, self.round_step)


@dataclass
class MapParts:
    """What cutting maps collects before the frames are built once: per snapshot and
    window its grid and the rest of its summary row (estimates, coverage), the heatmaps,
    the dates without a map. The tables a map is stored as (its non-empty bins, its key
    levels) are read off the grids only when the frames are built, so the aggregated map
    sums the venues' grids without making tables it does not store."""

    tiers: np.ndarray
    grids: list[MapGrid] = field(default_factory=list)
    summary_rows: list[dict] = field(default_factory=list)  # one per grid, in grid order
    heat: list = field(default_factory=list)
    missing: dict[date, str] = field(default_factory=dict)

    def frames(self, symbol: str, venue: str) -> LiquidationMaps:
        bins = _bins_frame(self.grids, self.tiers, symbol, venue)
        summary = pd.DataFrame(
            [_with_key_levels(r, g) for r, g in zip(self.summary_rows, self.grids, strict=True)]
        )
        heat = _heatmap_frame(self.heat, symbol, venue)
        return LiquidationMaps(bins, summary, heat, self.missing)


ROW_HEAD = ("date", "symbol", "venue", "window")  # a summary row's first columns


def _with_key_levels(row: dict, grid: MapGrid) -> dict:
    """A summary row as stored: its head, the grid's key levels, then the rest."""
    head = {k: row[k] for k in ROW_HEAD}
    return head | grid.key_levels() | {k: v for k, v in row.items() if k not in head}


def cut_maps(
    maker: SnapshotMaker,
    dates: list[date],
    config: ModelConfig,
    parts: MapParts,
    *,
    symbol: str,
    venue: str,
    heatmap_dates: list[date] | None = None,
) -> None:
    """Add the maps of ``dates`` (and heatmaps of ``heatmap_dates``) to ``parts``."""
    missing = unmappable_at(maker, dates, config)
    parts.missing |= missing
    times = snapshot_times(np.array(dates, "datetime64[D]"), config.snapshot_offset_minutes)
    for day, t_us in zip(dates, times.tolist(), strict=True):
        if day in missing:
            continue
        snap = maker.snapshot(t_us)
        for window_index, window in enumerate(WINDOWS):
            grid = snap.grids[window]
            parts.grids.append(
                MapGrid(day, window_index, grid.edges, grid.cells, snap.p0, snap.round_step)
            )
            row = {"date": day, "symbol": symbol, "venue": venue, "window": window}
            row |= {
                "est_liquidated_long_usd": snap.liquidated_long_usd,
                "est_liquidated_short_usd": snap.liquidated_short_usd,
                "est_liquidated_usd": snap.liquidated_long_usd + snap.liquidated_short_usd,
                "p0_from_last_price": snap.p0_from_fallback,
                "bin_size": grid.size,
            }
            parts.summary_rows.append(row | snap.coverage[window])
    mapped_heatmaps = [d for d in heatmap_dates or [] if d not in missing]
    parts.heat.extend(_heatmap_parts(maker, mapped_heatmaps, config))


def non_empty_cells(edges: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, ...]:
    """A grid's non-empty cells as (bin_lo, bin_hi, side, tier, notional), in bin, side,
    tier order."""
    filled = cells != 0  # a bool mask's nonzero: a float array's costs more
    bin_idx, side_idx, tier_idx = np.nonzero(filled)
    return edges[bin_idx], edges[bin_idx + 1], side_idx, tier_idx, cells[filled]


def _bins_frame(grids: list[MapGrid], tiers: np.ndarray, symbol: str, venue: str) -> pd.DataFrame:
    """One long frame from every snapshot's non-empty cells, built once (not per date)."""
    parts = [non_empty_cells(g.edges, g.cells) for g in grids]
    counts = np.array([len(p[0]) for p in parts], dtype=np.int64)
    day = np.repeat(np.array([g.day for g in grids], dtype=object), counts)
    window_index = np.repeat(np.array([g.window_index for g in grids], dtype=np.int64), counts)
    joined = [np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in range(5)]
    bin_lo, bin_hi, side_idx, tier_idx, notional = joined
    rows = len(bin_lo)
    return pd.DataFrame(
        {
            "date": day,
            "symbol": labels([symbol], np.zeros(rows, np.intp)),
            "venue": labels([venue], np.zeros(rows, np.intp)),
            "window": labels(WINDOWS, window_index),
            "bin_lo": bin_lo,
            "bin_hi": bin_hi,
            "side": labels(SIDES, side_idx),
            "tier": tiers[tier_idx.astype(np.int64)],
            "notional_usd": notional,
        }
    )


def labels(names, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A string column as ``names[codes]``: pandas' string array of the few names, taken by
    index (one vectorised take), instead of a string per row converted one by one (the
    frames' hot path: 100,000s of rows per run). Same dtype and values as before."""
    return pd.array(list(names), dtype="str").take(np.asarray(codes, np.intp))


def _heatmap_parts(maker: SnapshotMaker, dates: list[date], config: ModelConfig) -> list:
    """Each asked date's 7-day heatmap, whole (date, hours, bin edges, cells of shape
    (hours, bins, 2)), for one frame built later."""
    times = snapshot_times(np.array(dates, "datetime64[D]"), config.snapshot_offset_minutes)
    return [
        (day, *maker.heatmap(int(t_us))) for day, t_us in zip(dates, times.tolist(), strict=True)
    ]


def _heatmap_frame(parts: list, symbol: str, venue: str) -> pd.DataFrame:
    """Every asked date's 7-day heatmap as one long frame of its non-empty cells, built once
    (not per date)."""
    if not parts:
        return pd.DataFrame()
    cells = [_non_empty_heat(hours, edges, heat) for _, hours, edges, heat in parts]
    counts = np.array([len(c[0]) for c in cells], dtype=np.int64)
    day = np.repeat(np.array([p[0] for p in parts], dtype=object), counts)
    hour, bin_lo, bin_hi, side_idx, notional = (
        np.concatenate([c[k] for c in cells]) for k in range(5)
    )
    return pd.DataFrame(
        {
            "date": day,
            "symbol": labels([symbol], np.zeros(len(hour), np.intp)),
            "venue": labels([venue], np.zeros(len(hour), np.intp)),
            "hour": pd.to_datetime(hour, unit="us", utc=True),
            "bin_lo": bin_lo, "bin_hi": bin_hi,
            "side": labels(SIDES, side_idx),
            "notional_usd": notional,
        }
    )  # fmt: skip


def _non_empty_heat(hours: np.ndarray, edges: np.ndarray, cells: np.ndarray) -> tuple:
    """A heatmap's non-empty cells as (hour, bin_lo, bin_hi, side, notional), in hour, bin,
    side order."""
    filled = cells != 0
    hour_idx, bin_idx, side_idx = np.nonzero(filled)
    return hours[hour_idx], edges[bin_idx], edges[bin_idx + 1], side_idx, cells[filled]
