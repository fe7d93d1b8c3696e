"""The intraday snapshot (`daily --at 2026-11-25T14:00`): the book as of a whole UTC hour,
mapped from the lake with nothing after the hour read, stored as the hour's own map unit
(store/datasets.py: "intraday/1400/liqmap", beside and never over the date's 00:00 map) and
briefed (flows/briefing.py: `<date>/liqbrief-<date>T1400.{html,pdf}`).

The engine's snapshot moves from 00:00 UTC to the hour (ModelConfig.snapshot_offset_minutes);
the inputs are cut first, so no row after the hour can reach the map whatever the engine
reads: open interest stamped at or before the hour, klines that closed by it. The hours the
archive lacks come from the venue's REST rows (ledger source "rest:…"); the map stores each
input day's source beside it, and the cut-off line names the REST hours from that."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow as pa
from prefect import flow, get_run_logger

from flows.liqmap import model_of, parts_of, read_days
from sources.reference_data import load_tier_mix
from sources.venues.plan import REST_SOURCE_PREFIX
from store.datasets import intraday_venue, map_dataset, market_dataset, unit_key
from store.lake import Lake, dataset_key, days_between
from store.ledger import MAP_ENGINE_SOURCE, LedgerEntry
from store.units import write_unit
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import LiquidationMaps
from transforms.liqmap.passes import pass_start

INPUTS = ("metrics", "klines_5m", "mark_klines_1m", "klines_1m")


class NoIntradayMapError(Exception):
    """The hour has no map: its inputs are missing or stale (the message says what to run)."""


MAPPED_INPUTS = ("metrics", "klines_5m", "mark_klines_1m")  # the inputs whose source counts


def cutoff_line(at: datetime, rest_days: list[date]) -> str:
    """ "Book as of 14:00 UTC 25 Nov 2026; from Binance REST (the archive lacks them): 24 Nov
    00:00 – 25 Nov 14:00 UTC", or "…; every hour from the Binance archive"."""
    head = f"Book as of {at:%H:%M} UTC {at:%d %b %Y}"
    if not rest_days:
        return f"{head}; every hour from the Binance archive"
    first = datetime.combine(rest_days[0], datetime.min.time(), UTC)
    last = min(at, datetime.combine(rest_days[-1], datetime.min.time(), UTC) + timedelta(days=1))
    return f"{head}; from Binance REST (the archive lacks them): {first:%d %b %H:%M} – {last:%d %b %H:%M} UTC"


@dataclass(frozen=True)
class IntradayMap:
    at: datetime
    summary: dict  # the 7d window's summary row
    rest_days: list[date]  # days (up to the hour) whose map inputs came from REST
    maps: LiquidationMaps | None = None  # every window's bins and summary, the 7d heatmap
    sources: pd.DataFrame = field(default_factory=pd.DataFrame)  # input_sources()
    fingerprint: str = ""  # the model configuration's (the hour's ModelConfig)

    def cutoff_line(self) -> str:
        return cutoff_line(self.at, self.rest_days)


def cut_at(inputs: dict[str, pd.DataFrame], at: datetime, venue: str = "binance") -> dict:
    """Only rows known at ``at``: readings stamped at or before it, bars closed by it."""
    cut = {}
    stamp = pd.Timestamp(at)
    for name, frame in inputs.items():
        ds = market_dataset(venue, name)
        times = frame[ds.time_column]
        if ds.name == "metrics":
            keep = times <= stamp
        else:
            keep = times + pd.Timedelta(seconds=ds.bar_seconds) <= stamp
        cut[name] = frame.loc[keep].reset_index(drop=True)
    return cut


def input_sources(lake: Lake, symbol: str, at: datetime, venue: str = "binance") -> pd.DataFrame:
    """Where each input day of the hour's map came from, as the ledger says now: one row per
    stored (input, day) of the warm-up up to the hour (liqmap_sources' columns)."""
    days = days_between(pass_start(at.date()), at.date())
    rows = []
    for day in days:
        for name in MAPPED_INPUTS:
            entry = lake.ledger_entry(market_dataset(venue, name), symbol, day)
            if entry is not None:
                rows.append((name, day, entry.source_url))
    frame = pd.DataFrame(rows, columns=["input", "input_date", "source_url"])
    return frame.assign(date=at.date(), symbol=symbol, venue=venue)


def rest_days_of(sources: pd.DataFrame) -> list[date]:
    """The days any of whose map inputs came from REST (the archive lacked them)."""
    if sources.empty:
        return []
    rest = sources.loc[sources["source_url"].str.startswith(REST_SOURCE_PREFIX), "input_date"]
    return sorted({pd.Timestamp(d).date() for d in rest})


def rest_days(lake: Lake, symbol: str, at: datetime, venue: str = "binance") -> list[date]:
    """The days up to the hour whose map inputs the ledger says came from REST."""
    return rest_days_of(input_sources(lake, symbol, at, venue))


def intraday_map(lake: Lake, symbol: str, at: datetime, venue: str = "binance") -> IntradayMap:
    """The map of the book at ``at`` (a whole UTC hour), from the lake: every window, the
    7d heatmap to the hour, and where its inputs came from."""
    day = at.date()
    config = ModelConfig(tiers=load_tier_mix(), snapshot_offset_minutes=at.hour * 60)
    sources = input_sources(lake, symbol, at, venue)

    def read(first: date, last: date) -> dict[str, pd.DataFrame]:
        return cut_at(read_days(lake, symbol, first, last, venue), at, venue)

    try:
        model = model_of(symbol, read, day, day, config, venue)
    except ValueError as exc:
        raise NoIntradayMapError(no_map_line(symbol, at, str(exc), pass_start(day))) from None
    maps = parts_of(model, [day], [day]).frames(symbol, venue)
    if maps.missing:
        why = next(iter(maps.missing.values()))
        raise NoIntradayMapError(no_map_line(symbol, at, why, day - timedelta(days=1)))
    summary = maps.summary.loc[maps.summary["window"] == "7d"].iloc[0].to_dict()
    return IntradayMap(at, summary, rest_days_of(sources), maps, sources, config.fingerprint())


def no_map_line(symbol: str, at: datetime, why: str, first: date) -> str:
    """Why the hour has no map, and the extract that fills the days from ``first`` to it."""
    return (
        f"no map for {symbol} at {at:%Y-%m-%dT%H:%M}: {why.rstrip('.')}; run `liqbrief extract "
        f"--venues binance --symbols {symbol} --start {first} --end "
        f"{at.date()}` first (the archive, and Binance REST for the days it lacks)"
    )


def write_hour_map(lake: Lake, symbol: str, snapshot: IntradayMap) -> str:
    """Replace the hour's map unit (bins, summary, heatmap and input sources) as one, manifest
    last: a re-run of the same hour replaces it whole, other hours and the date's 00:00 map
    are other units. Returns the unit's key ("intraday/1400/liqmap")."""
    assert snapshot.maps is not None, "a snapshot read back from the lake has no maps to store"
    venue, day = intraday_venue(snapshot.at.hour), snapshot.at.date()
    frames = {
        "liqmap_bins": snapshot.maps.bins,
        "liqmap_summary": snapshot.maps.summary,
        "liqmap_heatmap": snapshot.maps.heatmap,
        "liqmap_sources": snapshot.sources,
    }
    fingerprint = snapshot.fingerprint
    now = datetime.now(UTC).isoformat(timespec="seconds")
    tables, entries = {}, {}
    for name, frame in frames.items():
        ds = map_dataset(venue, name)
        key = dataset_key(ds)
        tables[key] = pa.Table.from_pandas(
            frame[ds.schema.names], schema=ds.schema, preserve_index=False
        )
        entries[key] = LedgerEntry(
            venue=venue, dataset=key, symbol=symbol, date=day.isoformat(),
            source_url=MAP_ENGINE_SOURCE, source_sha256="", rows=tables[key].num_rows,
            duplicates_dropped=0, missing_rows=0, ingested_at=now,
            config_fingerprint=fingerprint,
        )  # fmt: skip
    unit = unit_key(map_dataset(venue, "liqmap_bins"))
    write_unit(lake, unit, day, tables, entries, fingerprint, uuid.uuid4().hex)
    return unit


def archive_end(at: datetime, today: date) -> date:
    """The last day the hour's extract takes from the archive: the hour's own day once a
    whole day has passed since it ended (the archive publishes a day some hours after its
    end; REST reaches back only 30 days, so an older hour must come from the archive), else
    the day before. The map is cut at the hour either way: the rest of the day is not read."""
    return at.date() if at.date() < today - timedelta(days=1) else at.date() - timedelta(days=1)


@flow(name="intraday-snapshot")
def intraday_snapshot(at: datetime, symbols: list[str], brief: bool = True) -> dict:
    """The archive up to the hour's day (``archive_end``), Binance's REST days the archive lacks (a
    day fetched before it ended is completed), then each symbol's map at the hour, stored as
    the hour's unit; with ``brief``, the day's own context (as of 00:00) and the hour's
    briefing. Returns {"symbols": {symbol: {"summary", "cutoff", "unit"}}, "briefing":
    [html, pdf] (with ``brief``)}."""
    from flows.daily import EXTRACT_DATASETS
    from flows.extract import ExtractIncompleteError, extract
    from flows.venues import extract_venues
    from liqbrief.settings import Settings
    from sources.errors import SourceError

    first = pass_start(at.date() - timedelta(days=1))
    try:
        extract(symbols, first, archive_end(at, datetime.now(UTC).date()), EXTRACT_DATASETS)
    except (ExtractIncompleteError, SourceError) as exc:  # REST fills what it can
        get_run_logger().warning("continuing with what the lake has: %s", exc)
    extract_venues(["binance"], symbols, first, at.date())
    lake = Lake(Settings.from_env().lake)
    mapped = {}
    for symbol in symbols:
        snapshot = intraday_map(lake, symbol, at)
        unit = write_hour_map(lake, symbol, snapshot)
        mapped[symbol] = {
            "summary": snapshot.summary,
            "cutoff": snapshot.cutoff_line(),
            "unit": unit,
        }
    out: dict = {"symbols": mapped}
    if brief:
        out["briefing"] = brief_hour(at, symbols)
    return out


def brief_hour(at: datetime, symbols: list[str]) -> list[str]:
    """The day's track record, context and macro as of 00:00 (the daily job's steps, its
    tables), then the hour's briefing from the stored hour maps: [html, pdf] locations."""
    from prefect.artifacts import create_link_artifact

    from flows.briefing import briefing_names, render_briefing
    from flows.context import context
    from flows.validate import score_before_briefings
    from liqbrief.settings import Settings
    from store.artefacts import ArtefactStore

    day = at.date()
    score_before_briefings(symbols, day, day)  # never raises
    context(day, symbols)  # Coinglass's daily bars to D − 1 too (its later snapshots not shown)
    paths = render_briefing(day, symbols, at=at)
    _, pdf_parts = briefing_names(day, at)
    store = ArtefactStore(Settings.from_env().reports_dir)
    create_link_artifact(
        store.uri(*pdf_parts), link_text=pdf_parts[-1], key="intraday-briefing-pdf"
    )
    return paths
