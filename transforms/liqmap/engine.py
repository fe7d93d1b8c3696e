"""liquidation_maps(): lake frames in, daily liquidation-map tables out (pure, no I/O).

Two passes give the same maps: run_model() holds every cohort of the range (simple, the one
the streamed pass is tested against); the streamed pass (stream.py), which the flows use,
holds the longest window plus a chunk. map_tables.py turns either's snapshots into frames."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from transforms.liqmap.cohorts import Cohorts, open_cohorts
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.inputs import Bars, MarkPath, build_bars, build_mark_path
from transforms.liqmap.map_tables import LiquidationMaps, MapParts, cut_maps, unmappable_at
from transforms.liqmap.snapshots import SnapshotMaker, snapshot_times
from transforms.liqmap.stream import StreamedPass
from transforms.liqmap.survival import Fates, cohort_fates
from transforms.venue_margin import MarginRules

CHUNK_DAYS = 60  # days of snapshots a streamed pass advances at a time (bench/liqmap.py)


class NotEnoughDataError(ValueError):
    """The frames hold too little open interest or price to run the model at all."""


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
    brackets: pd.DataFrame | MarginRules,
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
    brackets: pd.DataFrame | MarginRules,
    dates: list[date],
    config: ModelConfig | None = None,
    *,
    symbol: str,
    venue: str = "binance",
    last_1m: pd.DataFrame | None = None,
    heatmap_dates: list[date] | None = None,
    chunk_days: int | None = CHUNK_DAYS,
) -> LiquidationMaps:
    """Every date's map from one pass over the history in the frames.

    The frames should start 30 days before the first date so the 30d window is full;
    missing history shows up in each summary's coverage counts, never silently.
    The pass is streamed ``chunk_days`` at a time (stream.py): memory bounded by the longest
    window plus a chunk instead of the whole range; ``chunk_days=None`` runs the one pass
    (every cohort held), whose maps are identical. Either way the maps come in date order,
    once per date, whatever the order of ``dates`` and ``heatmap_dates``.
    """
    config = config or ModelConfig()
    # both passes answer in date order, once per date: the streamed one can only go forward
    dates = sorted(set(dates))
    heatmap_dates = None if heatmap_dates is None else sorted(set(heatmap_dates))
    if chunk_days is not None:
        streamed = streamed_pass(
            metrics, klines_5m, mark_1m, brackets, config, symbol=symbol, last_1m=last_1m,
            chunk_days=chunk_days,
        )  # fmt: skip
        return maps_from_stream(
            streamed, dates, config, symbol=symbol, venue=venue, heatmap_dates=heatmap_dates
        )
    run = run_model(metrics, klines_5m, mark_1m, brackets, config, symbol=symbol, last_1m=last_1m)
    return maps_from_run(
        run, dates, config, symbol=symbol, venue=venue, heatmap_dates=heatmap_dates
    )


def streamed_pass(
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    mark_1m: pd.DataFrame,
    brackets: pd.DataFrame | MarginRules,
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
    """The maps of ``dates`` as frames: parts_from_stream(), then the frames built once."""
    parts = parts_from_stream(
        streamed, dates, config, symbol=symbol, venue=venue, heatmap_dates=heatmap_dates
    )
    return parts.frames(symbol, venue)


def parts_from_stream(
    streamed: StreamedPass,
    dates: list[date],
    config: ModelConfig,
    *,
    symbol: str,
    venue: str = "binance",
    heatmap_dates: list[date] | None = None,
    into: MapParts | None = None,
) -> MapParts:
    """The maps of ``dates`` (and heatmaps of ``heatmap_dates``), the same as maps_from_run()
    of the one pass, in date order, added to ``into`` (default: new parts). The pass advances
    ``chunk_days`` of dates at a time and each group is cut as soon as it is reached, so only
    what a later snapshot or the shrink can still need is held. Later calls must not ask for
    dates before this call's first."""
    parts = into if into is not None else MapParts(np.asarray(config.tiers.vectors()[0]))
    asked, heat = set(dates), set(heatmap_dates or [])
    wanted = np.array(sorted(asked | heat), "datetime64[D]")
    group = (wanted - wanted[0]).astype(np.int64) // streamed.chunk_days if len(wanted) else wanted
    for first, last in _runs(group):
        days = wanted[first:last].astype(object).tolist()
        times = snapshot_times(wanted[first:last], config.snapshot_offset_minutes).tolist()
        streamed.advance(times[-1], first_us=times[0])
        cut_maps(
            streamed.run_parts()[2], [d for d in days if d in asked], config, parts,
            symbol=symbol, venue=venue, heatmap_dates=[d for d in days if d in heat],
        )  # fmt: skip
    return parts


def _runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """[first, last) of each run of equal consecutive labels."""
    edges = np.flatnonzero(np.diff(labels)) + 1
    bounds = np.concatenate([[0], edges, [len(labels)]]).astype(int).tolist()
    return list(itertools.pairwise(bounds)) if len(labels) else []


def unmappable_dates(run: ModelRun, dates: list[date], config: ModelConfig) -> dict[date, str]:
    """The dates whose snapshot lacks a fresh price or open-interest reading, with the reason."""
    return unmappable_at(run.maker, dates, config)


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
    cut_maps(
        run.maker, dates, config, parts, symbol=symbol, venue=venue, heatmap_dates=heatmap_dates
    )
    return parts.frames(symbol, venue)
