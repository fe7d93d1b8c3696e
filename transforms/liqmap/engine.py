"""liquidation_maps(): lake frames in, daily liquidation-map tables out (pure, no I/O)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from transforms.liqmap.cohorts import Cohorts, open_cohorts
from transforms.liqmap.config import WINDOWS, ModelConfig
from transforms.liqmap.inputs import Bars, MarkPath, build_bars, build_mark_path
from transforms.liqmap.key_levels import key_levels
from transforms.liqmap.snapshots import (
    SIDES,
    SnapshotMaker,
    StaleSnapshotError,
    snapshot_times,
)
from transforms.liqmap.stream import StreamedPass
from transforms.liqmap.survival import Fates, cohort_fates

CHUNK_DAYS = 60  # days of snapshots a streamed pass advances at a time (bench/liqmap.py)


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


def model_inputs(
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    mark_1m: pd.DataFrame,
    last_1m: pd.DataFrame | None,
    symbol: str,
) -> tuple[Bars, MarkPath]:
    """The aligned bars and mark path both passes run on (refused if too short)."""
    bars = build_bars(metrics, klines_5m)
    path = build_mark_path(mark_1m, last_1m)
    if len(bars.time_us) < 2 or len(path.time_us) == 0:
        raise NotEnoughDataError(f"{symbol}: not enough open-interest or price data to build a map")
    return bars, path


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
    """The one pass: every cohort of the range and its fate, held together in memory."""
    bars, path = model_inputs(metrics, klines_5m, mark_1m, last_1m, symbol)
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
    chunk_days: int | None = None,
) -> LiquidationMaps:
    """Every date's map from one pass over the history in the frames.

    The frames should start 30 days before the first date so the 30d window is full;
    missing history shows up in each summary's coverage counts, never silently.
    With ``chunk_days`` the pass is streamed (stream.py): the same maps, with memory bounded
    by the longest window plus a chunk instead of the whole range; dates in time order.
    """
    config = config or ModelConfig()
    if chunk_days is not None:
        return streamed_maps(
            metrics, klines_5m, mark_1m, brackets, dates, config, symbol=symbol, venue=venue,
            last_1m=last_1m, heatmap_dates=heatmap_dates, chunk_days=chunk_days,
        )  # fmt: skip
    run = run_model(metrics, klines_5m, mark_1m, brackets, config, symbol=symbol, last_1m=last_1m)
    return maps_from_run(
        run, dates, config, symbol=symbol, venue=venue, heatmap_dates=heatmap_dates
    )


def streamed_maps(
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    mark_1m: pd.DataFrame,
    brackets: pd.DataFrame,
    dates: list[date],
    config: ModelConfig,
    *,
    symbol: str,
    venue: str = "binance",
    last_1m: pd.DataFrame | None = None,
    heatmap_dates: list[date] | None = None,
    chunk_days: int = CHUNK_DAYS,
) -> LiquidationMaps:
    """liquidation_maps() through a streamed pass (stream.py)."""
    streamed = streamed_pass(
        metrics, klines_5m, mark_1m, brackets, config, symbol=symbol, last_1m=last_1m,
        chunk_days=chunk_days,
    )  # fmt: skip
    return maps_from_stream(
        streamed, dates, config, symbol=symbol, venue=venue, heatmap_dates=heatmap_dates
    )


def streamed_pass(
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    mark_1m: pd.DataFrame,
    brackets: pd.DataFrame,
    config: ModelConfig,
    *,
    symbol: str,
    last_1m: pd.DataFrame | None = None,
    chunk_days: int = CHUNK_DAYS,
) -> StreamedPass:
    """A pass not yet run: maps_from_stream() advances it as far as the dates it cuts."""
    bars, path = model_inputs(metrics, klines_5m, mark_1m, last_1m, symbol)
    return StreamedPass(bars, path, brackets, config, symbol, chunk_days)


def maps_from_stream(
    streamed: StreamedPass,
    dates: list[date],
    config: ModelConfig,
    *,
    symbol: str,
    venue: str = "binance",
    heatmap_dates: list[date] | None = None,
) -> LiquidationMaps:
    """The maps of ``dates`` (and heatmaps of ``heatmap_dates``), the same as maps_from_run()
    of the one pass, in date order. The pass advances ``chunk_days`` of dates at a time and
    each group is cut as soon as it is reached, so only what a later snapshot or the shrink
    can still need is held. Later calls must not ask for dates before this call's first."""
    parts = MapParts(np.asarray(config.tiers.vectors()[0]))
    asked, heat = set(dates), set(heatmap_dates or [])
    wanted = np.array(sorted(asked | heat), "datetime64[D]")
    group = (wanted - wanted[0]).astype(np.int64) // streamed.chunk_days if len(wanted) else wanted
    for first, last in _runs(group):
        days = wanted[first:last].astype(object).tolist()
        times = snapshot_times(wanted[first:last], config.snapshot_offset_minutes).tolist()
        streamed.advance(times[-1], first_us=times[0])
        cut_maps(
            ModelRun(*streamed.run_parts()), [d for d in days if d in asked], config, parts,
            symbol=symbol, venue=venue, heatmap_dates=[d for d in days if d in heat],
        )  # fmt: skip
    return parts.frames(symbol, venue)


def _runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """[first, last) of each run of equal consecutive labels."""
    edges = np.flatnonzero(np.diff(labels)) + 1
    bounds = np.concatenate([[0], edges, [len(labels)]]).astype(int).tolist()
    return list(itertools.pairwise(bounds)) if len(labels) else []


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


@dataclass
class MapParts:
    """What cutting maps collects before the frames are built once: per snapshot and
    window the non-empty cells, the summary rows, the heatmap cells, the dates without a map."""

    tiers: np.ndarray
    bins: list = field(default_factory=list)
    summary_rows: list[dict] = field(default_factory=list)
    heat: list = field(default_factory=list)
    missing: dict[date, str] = field(default_factory=dict)

    def frames(self, symbol: str, venue: str) -> LiquidationMaps:
        bins = _bins_frame(self.bins, self.tiers, symbol, venue)
        heat = _heatmap_frame(self.heat, symbol, venue)
        return LiquidationMaps(bins, pd.DataFrame(self.summary_rows), heat, self.missing)


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
    parts = MapParts(np.asarray(run.cohorts.tiers))
    cut_maps(run, dates, config, parts, symbol=symbol, venue=venue, heatmap_dates=heatmap_dates)
    return parts.frames(symbol, venue)


def cut_maps(
    run: ModelRun,
    dates: list[date],
    config: ModelConfig,
    parts: MapParts,
    *,
    symbol: str,
    venue: str,
    heatmap_dates: list[date] | None = None,
) -> None:
    """Add the maps of ``dates`` (and heatmaps of ``heatmap_dates``) to ``parts``."""
    maker = run.maker
    missing = unmappable_dates(run, dates, config)
    parts.missing |= missing
    times = snapshot_times(np.array(dates, "datetime64[D]"), config.snapshot_offset_minutes)
    for day, t_us in zip(dates, times.tolist(), strict=True):
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
            parts.summary_rows.append(row)
            bin_idx, side_idx, tier_idx = np.nonzero(grid.cells)
            parts.bins.append(
                (day, window_index, edges[bin_idx], edges[bin_idx + 1], side_idx,
                 tier_idx, grid.cells[bin_idx, side_idx, tier_idx])
            )  # fmt: skip
    mapped_heatmaps = [d for d in heatmap_dates or [] if d not in missing]
    parts.heat.extend(_heatmap_parts(maker, mapped_heatmaps, config))


def _bins_frame(parts: list, tiers: np.ndarray, symbol: str, venue: str) -> pd.DataFrame:
    """One long frame from every snapshot's non-empty cells, built once (not per date)."""
    counts = np.array([len(p[2]) for p in parts], dtype=np.int64)
    day = np.repeat(np.array([p[0] for p in parts], dtype=object), counts)
    window_index = np.repeat(np.array([p[1] for p in parts], dtype=np.int64), counts)
    joined = [np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in range(2, 7)]
    bin_lo, bin_hi, side_idx, tier_idx, notional = joined
    return pd.DataFrame(
        {
            "date": day,
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


def _heatmap_parts(maker: SnapshotMaker, dates: list[date], config: ModelConfig) -> list:
    """Each asked date's 7-day heatmap cells (non-empty only), for one frame built later."""
    times = snapshot_times(np.array(dates, "datetime64[D]"), config.snapshot_offset_minutes)
    parts = []
    for day, t_us in zip(dates, times.tolist(), strict=True):
        hours, edges, cells = maker.heatmap(int(t_us))
        hour_idx, bin_idx, side_idx = np.nonzero(cells)
        parts.append((day, hours[hour_idx], edges[bin_idx], edges[bin_idx + 1], side_idx,
                      cells[hour_idx, bin_idx, side_idx]))  # fmt: skip
    return parts


def _heatmap_frame(parts: list, symbol: str, venue: str) -> pd.DataFrame:
    """Every asked date's 7-day heatmap as one long frame, built once (not per date)."""
    if not parts:
        return pd.DataFrame()
    counts = np.array([len(p[1]) for p in parts], dtype=np.int64)
    day = np.repeat(np.array([p[0] for p in parts], dtype=object), counts)
    hour, bin_lo, bin_hi, side_idx, notional = (
        np.concatenate([part[k] for part in parts]) for k in range(1, 6)
    )
    return pd.DataFrame(
        {
            "date": day, "symbol": symbol, "venue": venue,
            "hour": pd.to_datetime(hour, unit="us", utc=True),
            "bin_lo": bin_lo, "bin_hi": bin_hi,
            "side": np.asarray(SIDES)[side_idx],
            "notional_usd": notional,
        }
    )  # fmt: skip
