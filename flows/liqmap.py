"""The liqmap flow: lake inputs → liquidation-map engine → liqmap_* datasets in the lake.

The inputs of a date range are read once, from the pass start of its first date; one pass a
calendar month, from the month's fixed start (transforms/liqmap/passes.py) and streamed in
chunks (stream.py), yields the month's snapshots, so a date's map is the same whatever range
it is made in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from liqbrief.settings import Settings
from sources.reference_data import load_margin_rules, load_tier_mix
from sources.venues.depth import DEPTH_HINTS
from store.datasets import Dataset, map_dataset, market_dataset, unit_key
from store.lake import Lake, dataset_key, days_between
from store.ledger import MAP_ENGINE_SOURCE, LedgerEntry
from store.units import write_unit
from transforms.liqmap.aggregate import AGGREGATE_VENUE, aggregate_parts
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import (
    CHUNK_DAYS,
    LiquidationMaps,
    NotEnoughDataError,
)
from transforms.liqmap.map_tables import MapParts
from transforms.liqmap.passes import (
    ENGINE_INPUTS,
    InputReader,
    MonthlyPasses,
    by_month,
    month_of,
    pass_start,
)
from transforms.venue_margin import VENUES, Venue

OUTPUTS = ("liqmap_bins", "liqmap_summary", "liqmap_heatmap")


def read_days(
    lake: Lake, symbol: str, first: date, last: date, venue: Venue = "binance"
) -> dict[str, pd.DataFrame]:
    """A venue's engine inputs stored for the days [first, last], partition by partition
    (Bybit's and OKX's in Binance's schemas, store/datasets.py market_dataset)."""
    return {
        name: lake.read(market_dataset(venue, name), symbol, first, last) for name in ENGINE_INPUTS
    }


@dataclass(frozen=True)
class MapModel:
    """The engine passes over a range of dates for a symbol: one per month from the month's
    fixed pass start, each reading its own days and run as far as the dates cut from it."""

    symbol: str
    config: ModelConfig
    brackets_source: str
    passes: MonthlyPasses
    venue: Venue = "binance"


def model_of(
    symbol: str, read: InputReader, first: date, last: date, config: ModelConfig,
    venue: Venue = "binance",
) -> MapModel:  # fmt: skip
    """A venue's engine passes for maps of [first, last] over the inputs ``read`` returns,
    with its own tiers and formula (transforms/venue_margin.py); NotEnoughDataError at once
    if the first date's month has too little to map anything."""
    rules, brackets_source = load_margin_rules(symbol, venue)
    passes = MonthlyPasses(read, rules, config, symbol, last)
    passes.of_month(month_of(first))  # read now: a symbol without inputs is named here
    return MapModel(symbol, config, brackets_source, passes, venue)


def model_for(
    lake: Lake, symbol: str, start: date, end: date, venue: Venue = "binance"
) -> MapModel:
    """A venue's engine passes for maps of [start, end], each month's inputs read from the
    lake when its first date is cut."""
    config = ModelConfig(tiers=load_tier_mix())
    read = partial(read_days, lake, symbol, venue=venue)
    return model_of(symbol, read, start, end, config, venue)


def parts_of(model: MapModel, dates: list[date], heatmap_dates: list[date]) -> MapParts:
    """The maps of ``dates`` before their frames are built (in date order, none before an
    earlier call's first date), each summary row naming its tier file."""
    parts = model.passes.parts(dates, heatmap_dates, venue=model.venue)
    for row in parts.summary_rows:
        row["brackets_source"] = model.brackets_source
    return parts


def maps_of(model: MapModel, dates: list[date], heatmap_dates: list[date]) -> LiquidationMaps:
    """The maps of ``dates`` (in date order, none before an earlier call's first date)."""
    return parts_of(model, dates, heatmap_dates).frames(model.symbol, model.venue)


def write_maps(
    lake: Lake,
    maps: LiquidationMaps,
    symbol: str,
    dates: list[date],
    config: ModelConfig,
    venue: str = "binance",
) -> int:
    """Replace each date's map (bins, summary and heatmap) as one unit, manifest last: a
    date without a heatmap this run loses the old one, a date without a summary row is not
    written; return rows written."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    run_id = uuid.uuid4().hex
    keys = {name: dataset_key(map_dataset(venue, name)) for name in OUTPUTS}
    by_day = {
        keys[name]: _tables_by_day(frame, map_dataset(venue, name))
        for name, frame in _frames(maps).items()
    }
    unit = unit_key(map_dataset(venue, "liqmap_bins"))
    empty_bins = map_dataset(venue, "liqmap_bins").schema.empty_table()

    def write_date(day: date) -> int:
        tables = {name: days[day] for name, days in by_day.items() if day in days}
        tables.setdefault(keys["liqmap_bins"], empty_bins)
        entries = {
            name: LedgerEntry(
                venue=venue, dataset=name, symbol=symbol, date=day.isoformat(),
                source_url=MAP_ENGINE_SOURCE, source_sha256="", rows=table.num_rows,
                duplicates_dropped=0, missing_rows=0, ingested_at=now,
                config_fingerprint=config.fingerprint(),
            )
            for name, table in tables.items()
        }  # fmt: skip
        write_unit(lake, unit, day, tables, entries, config.fingerprint(), run_id)
        return sum(t.num_rows for t in tables.values())

    # each date is its own unit: written concurrently on an object store
    mapped = [day for day in dates if day in by_day[keys["liqmap_summary"]]]
    return sum(lake.each(write_date, mapped))


def _frames(maps: LiquidationMaps) -> dict[str, pd.DataFrame]:
    return {
        "liqmap_bins": maps.bins,
        "liqmap_summary": maps.summary,
        "liqmap_heatmap": maps.heatmap,
    }


def _tables_by_day(frame: pd.DataFrame, ds: Dataset) -> dict[date, pa.Table]:
    """One conversion, sorted by date, then a zero-copy slice per date present in ``frame``
    (bins and summary have every date; heatmaps only the dates asked for)."""
    if not len(frame):
        return {}
    days = pd.to_datetime(frame["date"]).to_numpy()
    order = np.argsort(days, kind="stable")
    whole = pa.Table.from_pandas(
        frame[ds.schema.names].iloc[order], schema=ds.schema, preserve_index=False
    )
    sorted_days = days[order]
    out: dict[date, pa.Table] = {}
    for value in np.unique(sorted_days):
        lo = np.searchsorted(sorted_days, value, side="left")
        hi = np.searchsorted(sorted_days, value, side="right")
        out[pd.Timestamp(value).date()] = whole.slice(int(lo), int(hi - lo))
    return out


OKX_OI_DAYS = 5  # the ~1,440 five-minute points of DEPTH_HINTS' OKX open interest


def okx_depth_note(venue: str, start: date, reason: str = "", today: date | None = None) -> str:
    """Why an extract cannot fill OKX's open interest before its REST depth, when OKX is
    the venue or the reason names it ("" otherwise): the command named beside it still
    fills the other venues and inputs."""
    today = today or datetime.now(UTC).date()
    about_okx = venue == "okx" or "okx: " in reason
    if not about_okx or start >= today - timedelta(days=OKX_OI_DAYS):
        return ""
    hint = DEPTH_HINTS[("okx", "metrics")]
    return f" ({hint}; no extract fills OKX before {today - timedelta(days=OKX_OI_DAYS)})"


def extract_command(symbol: str, venue: str, start: date, end: date) -> str:
    """The extract that fills a venue's inputs (every venue's for the aggregated map)."""
    venues = "" if venue == "binance" else f"--venues {','.join(venues_of(venue))} "
    return f"liqbrief extract {venues}--symbols {symbol} --start {start} --end {end}"


def venues_of(venue: str) -> tuple[str, ...]:
    """The venues a map is made of: one, or all three for the aggregated map."""
    return VENUES if venue == AGGREGATE_VENUE else (venue,)


def missing_lines(symbol: str, missing: dict[date, str], venue: str = "binance") -> list[str]:
    """One line per date without a map, with the command that fills its inputs."""
    named = "" if venue == "binance" else f"{venue} "
    return [
        f"no {named}map for {symbol} {day}: {reason}; run "
        f"`{extract_command(symbol, venue, day - timedelta(days=1), day - timedelta(days=1))}` first"
        f"{okx_depth_note(venue, day - timedelta(days=1), reason)}"
        for day, reason in sorted(missing.items())
    ]


class NoMapError(Exception):
    """A date has no map: its inputs are missing or stale (the message says what to run)."""


def summary_of(lake: Lake, symbol: str, day: date, window: str, venue: str = "binance") -> dict:
    """One date's map summary row for a window, computed from the lake (nothing written):
    one venue's, or the aggregated map of all three (venue "all")."""
    by_venue = {v: _one_day_parts(lake, symbol, day, v) for v in venues_of(venue)}
    if venue == AGGREGATE_VENUE:
        by_venue[venue] = aggregate_parts(by_venue, symbol, ModelConfig(tiers=load_tier_mix()))
    maps = by_venue[venue].frames(symbol, venue)
    if maps.missing:
        raise NoMapError(missing_lines(symbol, maps.missing, venue)[0])
    return maps.summary.loc[maps.summary["window"] == window].iloc[0].to_dict()


def _one_day_parts(lake: Lake, symbol: str, day: date, venue: Venue) -> MapParts:
    try:
        model = model_for(lake, symbol, day, day, venue)
    except NotEnoughDataError as exc:
        named = "" if venue == "binance" else f"{venue} "
        start, end = pass_start(day), day - timedelta(days=1)
        raise NoMapError(
            f"no {named}map for {symbol} {day}: {exc}; run "
            f"`{extract_command(symbol, venue, start, end)}`{okx_depth_note(venue, start)}"
        ) from None
    return parts_of(model, [day], [])


@task(task_run_name="liqmap-{symbol}-{start}-{end}")
def build_liquidation_maps(
    symbol: str,
    start: date,
    end: date,
    heatmaps: Literal["all", "last", "none"] = "all",
    venue: str = "binance",
    members: list[str] | None = None,
) -> dict:
    """Store the maps of [start, end] of one venue, or of each venue and their aggregate
    (of ``members`` when given: the daily job's venues that have their inputs)."""
    lake = Lake(Settings.from_env().lake)
    dates = days_between(start, end)
    chosen = members if venue == AGGREGATE_VENUE and members else venues_of(venue)
    models = [_venue_model(lake, symbol, start, end, v) for v in chosen]
    heatmap_dates = set(_heatmap_dates(models[0], dates, heatmaps))
    rows, missing = 0, {}
    for first in range(0, len(dates), CHUNK_DAYS):  # written as cut: memory as for one chunk
        chunk = dates[first : first + CHUNK_DAYS]
        heat = [d for d in chunk if d in heatmap_dates]
        by_venue = {m.venue: parts_of(m, chunk, heat) for m in models}
        if venue == AGGREGATE_VENUE:
            by_venue[venue] = aggregate_parts(by_venue, symbol, models[0].config)
        for name, parts in by_venue.items():  # dates without a map: skipped
            maps = parts.frames(symbol, name)
            rows += write_maps(lake, maps, symbol, chunk, models[0].config, name)
        missing |= by_venue[venue].missing
    for line in missing_lines(symbol, missing, venue):
        get_run_logger().warning(line)
    return {"dates": len(dates) - len(missing), "rows": rows, "missing": missing}


def _heatmap_dates(
    model: MapModel, dates: list[date], heatmaps: Literal["all", "last", "none"]
) -> list[date]:
    """The dates to store a heatmap for: every one (a date without a map gets none), the
    last date with a map, or none."""
    if heatmaps != "last":
        return dates if heatmaps == "all" else []
    for month, days in reversed(by_month(dates)):
        missing = model.passes.unmappable(month, days)
        mapped = [d for d in days if d not in missing]
        if mapped:
            return mapped[-1:]
    return []


def _venue_model(lake: Lake, symbol: str, start: date, end: date, venue: Venue) -> MapModel:
    """model_for(), a venue without inputs named with the extract that fills them."""
    try:
        return model_for(lake, symbol, start, end, venue)
    except NotEnoughDataError as exc:
        if venue == "binance":
            raise
        first = pass_start(start)
        raise NotEnoughDataError(
            f"{venue}: {exc}; run `{extract_command(symbol, venue, first, end)}`"
            f"{okx_depth_note(venue, first)}"
        ) from None


@task(task_run_name="liqmap-model-{symbol}-{start}-{end}", cache_policy=NO_CACHE)
def map_model(symbol: str, start: date, end: date) -> MapModel:
    """The engine pass a backfill cuts its chunks' maps from (kept in memory, not stored)."""
    return model_for(Lake(Settings.from_env().lake), symbol, start, end)


def write_maps_of(model: MapModel, dates: list[date]) -> dict[date, str]:
    """Store the maps (with heatmaps) of ``dates`` cut from ``model``; the dates without a
    map (no fresh price or open interest), with the reason."""
    lake = Lake(Settings.from_env().lake)
    maps = maps_of(model, dates, dates)
    write_maps(lake, maps, model.symbol, dates, model.config)  # dates without a map: skipped
    return maps.missing


@flow(name="liqmap")
def liqmap(
    symbols: list[str],
    start: date,
    end: date,
    heatmaps: Literal["all", "last", "none"] = "all",
    venue: str = "binance",
    members: list[str] | None = None,
) -> dict[str, dict]:
    """Compute and store the liquidation maps of every date in [start, end] for each symbol
    (one venue's, or with venue "all" each venue's and their aggregate: of every venue, or
    of ``members``)."""
    results = {
        symbol: build_liquidation_maps(symbol, start, end, heatmaps, venue, members)
        for symbol in symbols
    }
    get_run_logger().info("liqmap %s..%s: %s", start, end, results)
    return results
