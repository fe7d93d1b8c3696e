"""The intraday snapshot (`daily --at 2026-11-25T14:00`): the book as of a whole UTC hour,
computed from the lake (nothing written), with nothing after the hour read.

The engine's snapshot moves from 00:00 UTC to the hour (ModelConfig.snapshot_offset_minutes);
the inputs are cut first, so no row after the hour can reach the map whatever the engine
reads: open interest stamped at or before the hour, klines that closed by it. The hours the
archive lacks come from the venue's REST rows (ledger source "rest:…"), and the cut-off line
names them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from prefect import flow, get_run_logger

from flows.liqmap import WARMUP_DAYS, MapModel, parts_of, read_inputs
from sources.reference_data import load_margin_rules, load_tier_mix
from sources.venues.plan import REST_SOURCE_PREFIX
from store.datasets import market_dataset
from store.lake import Lake, days_between
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import streamed_pass

INPUTS = ("metrics", "klines_5m", "mark_klines_1m", "klines_1m")


class NoIntradayMapError(Exception):
    """The hour has no map: its inputs are missing or stale (the message says what to run)."""


@dataclass(frozen=True)
class IntradayMap:
    at: datetime
    summary: dict  # the 7d window's summary row
    rest_days: list[date]  # days (up to the hour) whose map inputs came from REST

    def cutoff_line(self) -> str:
        """ "Book as of 14:00 UTC 25 Nov 2026; from Binance REST: 24 Nov 00:00 – 25 Nov 14:00"."""
        head = f"Book as of {self.at:%H:%M} UTC {self.at:%d %b %Y}"
        if not self.rest_days:
            return f"{head}; every hour from the Binance archive"
        first = datetime.combine(self.rest_days[0], datetime.min.time(), UTC)
        last = min(
            self.at,
            datetime.combine(self.rest_days[-1], datetime.min.time(), UTC) + timedelta(days=1),
        )
        return f"{head}; from Binance REST (the archive lacks them): {first:%d %b %H:%M} – {last:%d %b %H:%M} UTC"


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


def rest_days(lake: Lake, symbol: str, at: datetime, venue: str = "binance") -> list[date]:
    """The days up to the hour whose map inputs the ledger says came from REST."""
    days = days_between(at.date() - timedelta(days=WARMUP_DAYS), at.date())
    out = []
    for day in days:
        for name in ("metrics", "klines_5m", "mark_klines_1m"):
            entry = lake.ledger_entry(market_dataset(venue, name), symbol, day)
            if entry is not None and entry.source_url.startswith(REST_SOURCE_PREFIX):
                out.append(day)
                break
    return out


def intraday_map(lake: Lake, symbol: str, at: datetime, venue: str = "binance") -> IntradayMap:
    """The 7d map summary of the book at ``at`` (a whole UTC hour), from the lake."""
    day = at.date()
    config = ModelConfig(tiers=load_tier_mix(), snapshot_offset_minutes=at.hour * 60)
    rules, brackets_source = load_margin_rules(symbol, venue)
    inputs = cut_at(read_inputs(lake, symbol, day, day, venue), at, venue)
    try:
        streamed = streamed_pass(
            inputs["metrics"], inputs["klines_5m"], inputs["mark_klines_1m"], rules, config,
            symbol=symbol, last_1m=inputs["klines_1m"],
        )  # fmt: skip
    except ValueError as exc:
        raise NoIntradayMapError(f"no map for {symbol} at {at:%Y-%m-%dT%H:%M}: {exc}") from None
    model = MapModel(symbol, config, brackets_source, streamed, venue)
    maps = parts_of(model, [day], []).frames(symbol, venue)
    if maps.missing:
        why = next(iter(maps.missing.values()))
        raise NoIntradayMapError(
            f"no map for {symbol} at {at:%Y-%m-%dT%H:%M}: {why}; run `liqbrief extract --venues "
            f"binance --symbols {symbol} --start {day - timedelta(days=1)} --end {day}` first"
        )
    summary = maps.summary.loc[maps.summary["window"] == "7d"].iloc[0].to_dict()
    return IntradayMap(at, summary, rest_days(lake, symbol, at, venue))


@flow(name="intraday-snapshot")
def intraday_snapshot(at: datetime, symbols: list[str]) -> dict[str, dict]:
    """The archive up to the day before the hour, Binance's REST days the archive lacks (a
    day fetched before it ended is completed), then each symbol's map at the hour."""
    from flows.daily import EXTRACT_DATASETS
    from flows.extract import ExtractIncompleteError, extract
    from flows.venues import extract_venues
    from liqbrief.settings import Settings
    from sources.errors import SourceError

    first = at.date() - timedelta(days=WARMUP_DAYS + 1)
    try:
        extract(symbols, first, at.date() - timedelta(days=1), EXTRACT_DATASETS)
    except (ExtractIncompleteError, SourceError) as exc:  # REST fills what it can
        get_run_logger().warning("continuing with what the lake has: %s", exc)
    extract_venues(["binance"], symbols, first, at.date())
    lake = Lake(Settings.from_env().lake)
    out = {}
    for symbol in symbols:
        snapshot = intraday_map(lake, symbol, at)
        out[symbol] = {"summary": snapshot.summary, "cutoff": snapshot.cutoff_line()}
    return out
