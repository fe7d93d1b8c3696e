"""liquidation_maps(): lake frames in, daily liquidation-map tables out (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from transforms.liqmap.cohorts import Cohorts, open_cohorts
from transforms.liqmap.config import WINDOWS, ModelConfig
from transforms.liqmap.inputs import build_bars, build_mark_path
from transforms.liqmap.key_levels import key_levels
from transforms.liqmap.snapshots import (
    SIDES,
    SnapshotMaker,
    StaleSnapshotError,
    snapshot_times,
)
from transforms.liqmap.survival import Fates, cohort_fates


class NotEnoughDataError(ValueError):
    """The frames hold too little open interest or price to run the model at all."""


@dataclass(frozen=True)
class LiquidationMaps:
    bins: pd.DataFrame  # date, symbol, venue, window, bin_lo, bin_hi, side, tier, notional_usd
    summary: pd.DataFrame  # one row per date and window
    heatmap: pd.DataFrame  # date, symbol, venue, hour, bin_lo, bin_hi, side, notional_usd
    missing: dict[date, str]  # dates without a map, and why (no fresh price or open interest)


@dataclass(frozen=True)
class ModelRun:
    """The one-pass state, kept for validation and debugging."""

    cohorts: Cohorts
    fates: Fates
    maker: SnapshotMaker


def run_model(
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    mark_1m: pd.DataFrame,
    brackets: pd.DataFrame,
    config: ModelConfig,
    *,
    symbol: str,
    last_1m: pd.DataFrame | None = None,
) -> ModelRun:
    bars = build_bars(metrics, klines_5m)
    path = build_mark_path(mark_1m, last_1m)
    if len(bars.time_us) < 2 or len(path.time_us) == 0:
        raise NotEnoughDataError(f"{symbol}: not enough open-interest or price data to build a map")
    cohorts = open_cohorts(bars, brackets, config)
    fates = cohort_fates(cohorts, bars, path, config.shrink_on_oi_decrease)
    return ModelRun(cohorts, fates, SnapshotMaker(cohorts, fates, bars, path, symbol, config))


def liquidation_maps(
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    mark_1m: pd.DataFrame,
    brackets: pd.DataFrame,
    dates: list[date],
    config: ModelConfig | None = None,
    *,
    symbol: str,
    venue: str = "binance",
    last_1m: pd.DataFrame | None = None,
    heatmap_dates: list[date] | None = None,
) -> LiquidationMaps:
    """Every date's map from one pass over the history in the frames.

    The frames should start 30 days before the first date so the 30d window is full;
    missing history shows up in each summary's coverage counts, never silently.
    """
    config = config or ModelConfig()
    run = run_model(metrics, klines_5m, mark_1m, brackets, config, symbol=symbol, last_1m=last_1m)
    return maps_from_run(
        run, dates, config, symbol=symbol, venue=venue, heatmap_dates=heatmap_dates
    )


def unmappable_dates(run: ModelRun, dates: list[date], config: ModelConfig) -> dict[date, str]:
    """The dates whose snapshot lacks a fresh price or open-interest reading, with the reason."""
    times = snapshot_times(np.array(dates, "datetime64[D]"), config.snapshot_offset_minutes)
    missing = {}
    for day, t_us in zip(dates, times.tolist(), strict=True):
        try:
            run.maker.price_at(t_us)
        except StaleSnapshotError as exc:
            missing[day] = str(exc)
    return missing


def maps_from_run(
    run: ModelRun,
    dates: list[date],
    config: ModelConfig,
    *,
    symbol: str,
    venue: str = "binance",
    heatmap_dates: list[date] | None = None,
) -> LiquidationMaps:
    """The maps of any dates inside a model run's range: a long range can be run once and
    cut into maps a chunk of dates at a time, with the same result as all at once.
    A date without a fresh price or open interest gets no map, only a line in ``missing``."""
    maker = run.maker
    tiers = np.asarray(run.cohorts.tiers)
    missing = unmappable_dates(run, dates, config)
    times = snapshot_times(np.array(dates, "datetime64[D]"), config.snapshot_offset_minutes)
    bin_parts: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    summary_rows: list[dict] = []
    for day_index, (day, t_us) in enumerate(zip(dates, times.tolist(), strict=True)):
        if day in missing:
            continue
        snap = maker.snapshot(t_us)
        for window_index, window in enumerate(WINDOWS):
            grid = snap.grids[window]
            edges = grid.edges
            row = {"date": day, "symbol": symbol, "venue": venue, "window": window}
            row |= key_levels(grid.cells, edges, snap.p0, snap.round_step)
            row |= {
                "est_liquidated_long_usd": snap.liquidated_long_usd,
                "est_liquidated_short_usd": snap.liquidated_short_usd,
                "est_liquidated_usd": snap.liquidated_long_usd + snap.liquidated_short_usd,
                "p0_from_last_price": snap.p0_from_fallback,
                "bin_size": grid.size,
            }
            row |= snap.coverage[window]
            summary_rows.append(row)
            bin_idx, side_idx, tier_idx = np.nonzero(grid.cells)
            bin_parts.append(
                (day_index, window_index, edges[bin_idx], edges[bin_idx + 1], side_idx,
                 tier_idx, grid.cells[bin_idx, side_idx, tier_idx])
            )  # fmt: skip
    bins = _bins_frame(bin_parts, dates, tiers, symbol, venue)
    mapped_heatmaps = [d for d in heatmap_dates or [] if d not in missing]
    heat = _heatmap_frame(maker, mapped_heatmaps, symbol, venue, config)
    return LiquidationMaps(bins, pd.DataFrame(summary_rows), heat, missing)


def _bins_frame(
    parts: list, dates: list[date], tiers: np.ndarray, symbol: str, venue: str
) -> pd.DataFrame:
    """One long frame from every snapshot's non-empty cells, built once (not per date)."""
    counts = np.array([len(p[2]) for p in parts], dtype=np.int64)
    day_index = np.repeat(np.array([p[0] for p in parts], dtype=np.int64), counts)
    window_index = np.repeat(np.array([p[1] for p in parts], dtype=np.int64), counts)
    joined = [np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in range(2, 7)]
    bin_lo, bin_hi, side_idx, tier_idx, notional = joined
    return pd.DataFrame(
        {
            "date": np.asarray(dates, dtype=object)[day_index],
            "symbol": symbol,
            "venue": venue,
            "window": np.asarray(list(WINDOWS))[window_index],
            "bin_lo": bin_lo,
            "bin_hi": bin_hi,
            "side": np.asarray(SIDES)[side_idx.astype(np.int64)],
            "tier": tiers[tier_idx.astype(np.int64)],
            "notional_usd": notional,
        }
    )


def _heatmap_frame(
    maker: SnapshotMaker, dates: list[date], symbol: str, venue: str, config: ModelConfig
) -> pd.DataFrame:
    """Every asked date's 7-day heatmap as one long frame, built once (not per date)."""
    if not dates:
        return pd.DataFrame()
    times = snapshot_times(np.array(dates, "datetime64[D]"), config.snapshot_offset_minutes)
    parts = []
    for day_index, t_us in enumerate(times.tolist()):
        hours, edges, cells = maker.heatmap(int(t_us))
        hour_idx, bin_idx, side_idx = np.nonzero(cells)
        parts.append((np.full(len(hour_idx), day_index), hours[hour_idx], edges[bin_idx],
                      edges[bin_idx + 1], side_idx, cells[hour_idx, bin_idx, side_idx]))  # fmt: skip
    day_index, hour, bin_lo, bin_hi, side_idx, notional = (
        np.concatenate([part[k] for part in parts]) for k in range(6)
    )
    return pd.DataFrame(
        {
            "date": np.asarray(dates, dtype=object)[day_index], "symbol": symbol, "venue": venue,
            "hour": pd.to_datetime(hour, unit="us", utc=True),
            "bin_lo": bin_lo, "bin_hi": bin_hi,
            "side": np.asarray(SIDES)[side_idx],
            "notional_usd": notional,
        }
    )  # fmt: skip
