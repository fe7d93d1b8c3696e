"""The model's track record: each day's map and estimate scored against what was liquidated.

For a day D and a model variant (the exact model and the ablations of the design note):

- price level: the 00:00 UTC map of D (its 7d window, the map the briefing shows) against
  the liquidations the venue reported during D, counting only the hours of D the recorder
  (or the archive) covered in full: swept-bin Spearman and capture ratio, top-decile
  precision with its Wilson 95 % bound against the all-bins baseline and the nearest-bins
  baseline (as many bins nearest the price: no model information), and the headline test
  (did the side the map called heavier, C_L(low) against C_S(high), lose more?);
- time level: the model's own estimate of what was liquidated in each 4-hour block and in
  the whole of D, per side (``SnapshotMaker.liquidated_between``, the same definition as a
  map's 24 h figure), against Coinglass's Binance bars when stored, else the recorded totals
  of a fully covered day.

Pure: a model run and frames in, VALIDATION_SCHEMA rows out (summaries: track_summary.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import ModelRun, unmappable_dates
from transforms.liqmap.snapshots import snapshot_times
from transforms.liqmap.stream import StreamedPass
from transforms.liqmap.validation import (
    precision_score,
    realised_per_bin,
    swept_mask,
    swept_score,
)

VALIDATION_WINDOW = "7d"  # the map the briefing shows
ABLATIONS: dict[str, dict] = {
    "exact": {},
    "naive": {"formula": "naive"},
    "single_side": {"both_sides": False},
    "no_shrink": {"shrink_on_oi_decrease": False},
}
MIN_PATH_SHARE = 0.99  # of a day's minutes with a price, for the day to be scored
MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
BLOCKS = 6  # 4-hour blocks per day
SOURCE_ORDER = ("stream", "archive", "coinglass", "recorded")


def variant_config(base: ModelConfig, model: str) -> ModelConfig:
    """The configuration of one model variant: the base with its ablation switch flipped."""
    return replace(base, **ABLATIONS[model])


@dataclass(frozen=True)
class Evidence:
    """What was really liquidated, for one symbol and venue over the scored days."""

    events: pd.DataFrame  # time, side ("long"/"short"), price, notional_usd
    coverage: pd.DataFrame  # start, end (exclusive), source ("stream"/"archive")
    coinglass_1d: pd.DataFrame  # time (bar open), long_usd, short_usd; empty without a key
    coinglass_4h: pd.DataFrame


def _us(times: pd.Series) -> np.ndarray:
    """UTC timestamps as epoch microseconds."""
    stamps = pd.to_datetime(times, utc=True).dt.tz_localize(None)
    return stamps.to_numpy("datetime64[us]").astype(np.int64)


def joined_sources(sources) -> str:
    """The distinct non-empty sources, joined by "+" in a fixed order."""
    present = set(sources) - {""}
    return "+".join(s for s in SOURCE_ORDER if s in present)


def covered_hours(coverage: pd.DataFrame, first: date, n_days: int) -> np.ndarray:
    """(day, hour) → the hour lies wholly inside a covered interval; a recorder gap of a
    minute drops its hour (a partly recorded hour would undercount)."""
    minutes = n_days * 1440
    diff = np.zeros(minutes + 1, np.int64)
    if len(coverage):
        t0 = _day_us(first)
        start = np.ceil((_us(coverage["start"]) - t0) / MINUTE_US).astype(np.int64)
        end = np.floor((_us(coverage["end"]) - t0) / MINUTE_US).astype(np.int64)
        start, end = np.clip(start, 0, minutes), np.clip(end, 0, minutes)
        keep = start < end
        np.add.at(diff, start[keep], 1)
        np.add.at(diff, end[keep], -1)
    covered = np.cumsum(diff[:-1]) > 0
    return covered.reshape(n_days, 24, 60).all(axis=2)


def _day_us(day: date) -> int:
    return int(snapshot_times(np.array([day], "datetime64[D]"), 0)[0])


def coverage_sources(coverage: pd.DataFrame, first: date, n_days: int) -> list[str]:
    """Per day, the sources ("stream", "archive") of the intervals touching it."""
    out: list[set] = [set() for _ in range(n_days)]
    if len(coverage):
        t0 = _day_us(first)
        starts = (_us(coverage["start"]) - t0) // DAY_US
        ends = (_us(coverage["end"]) - 1 - t0) // DAY_US
        for lo, hi, source in zip(starts, ends, coverage["source"], strict=True):
            for d in range(max(int(lo), 0), min(int(hi), n_days - 1) + 1):
                out[d].add(source)
    return [joined_sources(s) for s in out]


@dataclass(frozen=True)
class DayEvents:
    """The covered-hour events of the scored days, sorted by day (slices per day)."""

    day: np.ndarray
    block: np.ndarray  # 4-hour block of the day
    is_long: np.ndarray
    side: np.ndarray
    price: np.ndarray
    notional: np.ndarray

    def bounds(self, d: int) -> slice:
        return slice(*np.searchsorted(self.day, [d, d + 1]).tolist())


def covered_events(events: pd.DataFrame, covered: np.ndarray, first: date) -> DayEvents:
    """The events inside covered hours only: a liquidation in an uncovered hour is ignored."""
    hour = (_us(events["time"]) - _day_us(first)) // HOUR_US
    inside = (hour >= 0) & (hour < covered.size)
    inside[inside] = covered.reshape(-1)[hour[inside]]
    keep = np.flatnonzero(inside)[np.argsort(hour[inside], kind="stable")]
    hour, side = hour[keep], events["side"].to_numpy()[keep]
    return DayEvents(
        hour // 24, (hour % 24) // 4, side == "long", side,
        events["price"].to_numpy(float)[keep], events["notional_usd"].to_numpy(float)[keep],
    )  # fmt: skip


def path_extremes(run: ModelRun, covered: np.ndarray, first: date) -> tuple[np.ndarray, np.ndarray]:
    """Per day, the mark path's low and high over its covered hours (NaN without any)."""
    path = run.maker.path
    hour = (path.time_us - _day_us(first)) // HOUR_US
    inside = (hour >= 0) & (hour < covered.size)
    low, high = np.full(covered.size, np.inf), np.full(covered.size, -np.inf)
    np.minimum.at(low, hour[inside], path.low[inside])
    np.maximum.at(high, hour[inside], path.high[inside])
    uncovered = ~covered.reshape(-1)
    low[uncovered], high[uncovered] = np.inf, -np.inf
    day_low, day_high = low.reshape(covered.shape).min(1), high.reshape(covered.shape).max(1)
    return np.where(np.isfinite(day_low), day_low, np.nan), np.where(
        np.isfinite(day_high), day_high, np.nan
    )


def heavier_sign(long_usd: np.ndarray, short_usd: np.ndarray) -> np.ndarray:
    """+1 where longs are heavier, −1 shorts, 0 a tie (nothing to call): the one definition
    of the heavier side, for a day's map and for a window's estimates."""
    return np.sign(np.asarray(long_usd, float) - np.asarray(short_usd, float))


def heavier(long_usd: float, short_usd: float) -> str:
    """The side with more notional, "" on a tie."""
    return {1.0: "long", -1.0: "short"}.get(float(heavier_sign(long_usd, short_usd)), "")


PRICE_LEVEL_EMPTY = {
    "swept_bins": 0, "swept_spearman": math.nan, "capture_ratio": math.nan, "top_bins": 0,
    "top_hits": 0, "top_precision": math.nan, "top_precision_lower_95": math.nan,
    "baseline_hit_share": math.nan, "map_bins": 0, "map_bins_hit": 0, "nearest_hits": 0,
    "nearest_precision": math.nan,
    "headline_long_usd": math.nan, "headline_short_usd": math.nan, "predicted_heavier": "",
    "realised_heavier": "", "heavier_hit": math.nan,
}  # fmt: skip


def score_map(
    edges: np.ndarray, cells: np.ndarray, p0: float, events: DayEvents, low: float, high: float
) -> dict:
    """One map (bin edges, notional per bin and side: shape (bins, 2)) against one day's
    covered events and the day's covered low and high: the price-level columns."""
    n = cells.shape[0]
    bin_lo, bin_hi = np.tile(edges[:-1], 2), np.tile(edges[1:], 2)
    is_long = np.repeat([True, False], n)
    predicted = np.concatenate([cells[:, 0], cells[:, 1]])
    realised = realised_per_bin(bin_lo, bin_hi, is_long, events.side, events.price, events.notional)
    swept = swept_mask(bin_lo, bin_hi, is_long, low, high, p0)
    swept_result = swept_score(predicted, realised, swept)
    distance = np.abs((bin_lo + bin_hi) / 2 - p0)
    precision = precision_score(predicted, realised, len(events.price), distance=distance)
    headline_long = float(predicted[swept & is_long].sum())
    headline_short = float(predicted[swept & ~is_long].sum())
    realised_long = float(events.notional[events.is_long].sum())
    realised_short = float(events.notional[~events.is_long].sum())
    called, happened = (
        heavier(headline_long, headline_short),
        heavier(realised_long, realised_short),
    )
    return {
        "swept_bins": swept_result.swept_bins, "swept_spearman": swept_result.spearman,
        "capture_ratio": swept_result.capture_ratio, "top_bins": precision.top_bins,
        "top_hits": precision.top_hits, "top_precision": precision.top_hit_share,
        "top_precision_lower_95": precision.top_hit_lower_95,
        "baseline_hit_share": precision.baseline_hit_share,
        "map_bins": precision.bins, "map_bins_hit": precision.bins_hit,
        "nearest_hits": precision.nearest_hits,
        "nearest_precision": precision.nearest_hits / precision.top_bins if precision.top_bins else math.nan,
        "headline_long_usd": headline_long, "headline_short_usd": headline_short,
        "predicted_heavier": called, "realised_heavier": happened,
        "heavier_hit": float(called == happened) if called and happened else math.nan,
    }  # fmt: skip


def complete_paths(run: ModelRun, first: date, n_days: int) -> np.ndarray:
    """Per day, whether the run's price path holds at least MIN_PATH_SHARE of its minutes: a
    day without its prices (not yet published, a gap) has no sweep and no estimate to score."""
    minute = (run.maker.path.time_us - _day_us(first)) // MINUTE_US
    inside = (minute >= 0) & (minute < n_days * 1440)
    per_day = np.bincount(minute[inside] // 1440, minlength=n_days)
    return per_day >= MIN_PATH_SHARE * 1440


def _price_level(
    run: ModelRun, config: ModelConfig, dates: list[date], covered: np.ndarray, events: DayEvents
) -> list[dict]:
    """Per day, the price-level columns (empty ones without a map, a covered hour or the
    day's prices)."""
    missing = unmappable_dates(run, dates, config)
    low, high = path_extremes(run, covered, dates[0])
    complete = complete_paths(run, dates[0], len(dates))
    times = snapshot_times(np.array(dates, "datetime64[D]"), config.snapshot_offset_minutes)
    rows = []
    for d, (day, t_us) in enumerate(zip(dates, times.tolist(), strict=True)):
        if day in missing or not covered[d].any() or not complete[d] or not np.isfinite(low[d]):
            rows.append(dict(PRICE_LEVEL_EMPTY))
            continue
        snap = run.maker.snapshot(t_us, up_to=VALIDATION_WINDOW)
        grid = snap.grids[VALIDATION_WINDOW]
        day_events = _slice(events, events.bounds(d))
        rows.append(
            score_map(grid.edges, grid.cells.sum(axis=2), snap.p0, day_events, low[d], high[d])
        )
    return rows


def _slice(events: DayEvents, part: slice) -> DayEvents:
    return DayEvents(*(getattr(events, f)[part] for f in DayEvents.__dataclass_fields__))


def estimated_blocks(run: ModelRun, first: date, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """The model's liquidated notional (long, short) per day and 4-hour block: (days, 6)."""
    starts = _day_us(first) + np.arange(n_days * BLOCKS, dtype=np.int64) * 4 * HOUR_US
    long_usd, short_usd = run.maker.liquidated_between(starts, starts + 4 * HOUR_US)
    return long_usd.reshape(n_days, BLOCKS), short_usd.reshape(n_days, BLOCKS)


def _bars_by_slot(bars: pd.DataFrame, first: date, slots: int, slot_us: int) -> np.ndarray:
    """Coinglass bars (time = bar open) as (slots, 2) long/short USD; NaN where absent."""
    out = np.full((slots, 2), np.nan)
    if len(bars):
        offset = _us(bars["time"]) - _day_us(first)
        index = offset // slot_us
        ok = (offset % slot_us == 0) & (index >= 0) & (index < slots)
        out[index[ok]] = bars[["long_usd", "short_usd"]].to_numpy(float)[ok]
    return out


def realised_blocks(
    evidence: Evidence, events: DayEvents, covered: np.ndarray, first: date
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The realised series per day and 4-hour block, (days, 6, 2) long/short, the daily
    totals (days, 2), and the source of each day: Coinglass's bars where its daily bar is
    stored, else the recorded events of a day covered in full, else NaN and ""."""
    n_days = covered.shape[0]
    daily_cg = _bars_by_slot(evidence.coinglass_1d, first, n_days, DAY_US)
    blocks_cg = _bars_by_slot(evidence.coinglass_4h, first, n_days * BLOCKS, 4 * HOUR_US)
    key = (events.day * BLOCKS + events.block) * 2 + (~events.is_long).astype(np.int64)
    recorded = np.bincount(key, events.notional, n_days * BLOCKS * 2).reshape(n_days, BLOCKS, 2)
    has_cg = np.isfinite(daily_cg).all(axis=1)
    full = covered.all(axis=1) & ~has_cg
    blocks = np.where(has_cg[:, None, None], blocks_cg.reshape(n_days, BLOCKS, 2), np.nan)
    blocks = np.where(full[:, None, None], recorded, blocks)
    daily = np.where(has_cg[:, None], daily_cg, np.where(full[:, None], recorded.sum(1), np.nan))
    sources = [
        "coinglass" if c else "recorded" if f else "" for c, f in zip(has_cg, full, strict=True)
    ]
    return blocks, daily, sources


def score_days(
    run: ModelRun,
    config: ModelConfig,
    dates: list[date],
    evidence: Evidence,
    *,
    symbol: str,
    model: str,
    venue: str = "binance",
) -> pd.DataFrame:
    """VALIDATION_SCHEMA rows of consecutive ``dates`` for one model variant's run."""
    first, n_days = dates[0], len(dates)
    covered = covered_hours(evidence.coverage, first, n_days)
    events = covered_events(evidence.events, covered, first)
    price = pd.DataFrame(_price_level(run, config, dates, covered, events))
    est_long, est_short = estimated_blocks(run, first, n_days)
    incomplete = ~complete_paths(run, first, n_days)
    est_long[incomplete], est_short[incomplete] = np.nan, np.nan
    blocks, daily, time_sources = realised_blocks(evidence, events, covered, first)
    key = events.day * 2 + (~events.is_long).astype(np.int64)
    realised = np.bincount(key, events.notional, n_days * 2).reshape(n_days, 2)
    hours = covered.sum(axis=1)
    realised = np.where(hours[:, None] > 0, realised, np.nan)
    frame = pd.DataFrame(
        {
            "date": dates, "symbol": symbol, "venue": venue, "model": model,
            "realised_source": np.where(hours > 0, coverage_sources(evidence.coverage, first, n_days), ""),
            "covered_hours": hours.astype(np.int64),
            "events": np.bincount(events.day, minlength=n_days).astype(np.int64),
            "realised_long_usd": realised[:, 0], "realised_short_usd": realised[:, 1],
        }
    )  # fmt: skip
    frame = pd.concat([frame, price], axis=1)
    return frame.assign(
        est_long_usd=est_long.sum(1), est_short_usd=est_short.sum(1),
        time_realised_source=time_sources,
        time_realised_long_usd=daily[:, 0], time_realised_short_usd=daily[:, 1],
        est_4h_long_usd=list(est_long), est_4h_short_usd=list(est_short),
        realised_4h_long_usd=list(blocks[:, :, 0]), realised_4h_short_usd=list(blocks[:, :, 1]),
    )  # fmt: skip


def score_days_streamed(
    streamed: StreamedPass,
    config: ModelConfig,
    dates: list[date],
    evidence: Evidence,
    *,
    symbol: str,
    model: str,
    venue: str = "binance",
) -> pd.DataFrame:
    """score_days() from a streamed pass, ``streamed.chunk_days`` days at a time, so scoring
    years holds one chunk of cohorts, not all. A day's rows read its snapshot and the
    model's liquidations through the day's end, so the pass advances past each chunk's last
    day before it is scored; every row equals the one pass's (test_liqmap_stream.py)."""
    frames = []
    for first in range(0, len(dates), streamed.chunk_days):
        chunk = dates[first : first + streamed.chunk_days]
        snaps = snapshot_times(np.array(chunk, "datetime64[D]"), config.snapshot_offset_minutes)
        start_us = min(int(snaps[0]), _day_us(chunk[0]))
        end_us = max(int(snaps[-1]), _day_us(chunk[-1]) + DAY_US)
        streamed.advance(end_us, first_us=start_us)
        run = ModelRun(*streamed.run_parts())
        frames.append(
            score_days(run, config, chunk, evidence, symbol=symbol, model=model, venue=venue)
        )
    return pd.concat(frames, ignore_index=True)
