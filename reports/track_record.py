"""The model's track record in the briefing: page 1's line per symbol (from the rolling
validation summary of the date) and the caption of yesterday's map with yesterday's realised
liquidations over it.

Pure. The summary row of date D covers the scored days D − 30 … D − 1, so a briefing of D
shows nothing it could not have known at 00:00 UTC of D. A figure that was not scored is left
out of the sentence (never "nan"); with nothing scored at all the line says how to start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from reports.formatting import base_asset, usd
from reports.overlay_chart import realised_overlay_chart
from transforms.liqmap.track_record import covered_hours as scored_hours

WINDOW_DAYS = 30
MODEL, NAIVE = "exact", "naive"
START_RECORDING = (
    "start the recorder with `liqbrief record` (see README) and score the maps with "
    "`liqbrief validate`"
)
TIME_SOURCES = {
    "coinglass": "Coinglass, all Binance {coin} contracts",
    "recorded": "recorded totals",
}
COVERAGE_SOURCES = {"stream": "stream recorder", "archive": "Binance archive"}
STREAM_CAVEAT = (
    "Binance pushes at most one liquidation per symbol per second: the dots are a lower bound."
)


@dataclass
class RealisedDay:
    """Yesterday on Binance: the map of 00:00 UTC (7d bins and its price), the realised
    liquidations (time, side, price, quantity, notional_usd, source) and the recorder's
    covered intervals (start, end, source)."""

    day: date
    liquidations: pd.DataFrame = field(default_factory=pd.DataFrame)
    coverage: pd.DataFrame = field(default_factory=pd.DataFrame)
    bins: pd.DataFrame = field(default_factory=pd.DataFrame)
    p0: float = math.nan


def _finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _share(value: float) -> str:
    """A 0–1 share as a whole percentage: 0.714 → "71 %"."""
    return f"{value * 100:.0f} %"


def summary_row(rows: pd.DataFrame, model: str) -> dict | None:
    """The 30-day summary row of one model variant, or None when not stored."""
    if rows.empty:
        return None
    chosen = rows[(rows["model"] == model) & (rows["window_days"] == WINDOW_DAYS)]
    return chosen.iloc[0].to_dict() if len(chosen) else None


INTRO = (
    "Each day's 00:00 UTC map against the liquidations Binance reported that day (recorded hours "
    "only), pooled over the 30 days before this date: the share of the map's top-decile bins "
    "(by estimated notional) a realised liquidation hit, with its 95 % lower bound, against two "
    "baselines without the model: the share of all its bins hit, and the share of as many bins "
    "nearest the price hit (liquidations cluster near the price: the bar to clear)."
)


def _precision_part(exact: dict, naive: dict | None) -> str:
    if not _finite(exact["top_precision"]) or not exact["days_scored"]:
        return "no day with enough recorded liquidations to score the price levels"
    text = f"{_share(exact['top_precision'])} of top-decile bins hit"
    if _finite(exact["top_precision_lower_95"]):
        text += f" (95 % lower bound {_share(exact['top_precision_lower_95'])})"
    baselines = []
    if _finite(exact["baseline_hit_share"]):
        baselines.append(f"{_share(exact['baseline_hit_share'])} of all bins")
    if _finite(exact.get("nearest_hit_share")):
        baselines.append(f"{_share(exact['nearest_hit_share'])} of the bins nearest the price")
    if baselines:
        text += " vs " + " and ".join(baselines)
    if naive and _finite(naive["top_precision"]):
        text += f"; naive formula {_share(naive['top_precision'])}"
    return text


def _rho_part(coin: str, exact: dict, naive: dict | None) -> str | None:
    rho = exact["time_spearman_1d"]
    if not _finite(rho):
        return None
    details = []
    if _finite(exact["time_spearman_1d_lo"]) and _finite(exact["time_spearman_1d_hi"]):
        details.append(
            f"95 % {exact['time_spearman_1d_lo']:.2f} to {exact['time_spearman_1d_hi']:.2f}"
        )
    if naive and _finite(naive["time_spearman_1d"]):
        details.append(f"naive {naive['time_spearman_1d']:.2f}")
    source = TIME_SOURCES.get(exact["time_realised_source"], "the realised series").format(
        coin=coin
    )
    details.append(f"{exact['time_days']} days vs {source}")
    return f"daily ρ estimated vs realised {rho:.2f} ({'; '.join(details)})"


def _scope_part(exact: dict) -> str:
    events = exact["events"] if _finite(exact["events"]) else 0
    text = f"{exact['days_scored']} of {WINDOW_DAYS} days scored, {events:,} liquidations"
    if _finite(exact["coverage_pct"]):
        text += f", {exact['coverage_pct']:.0f} % of hours recorded"
    return text


def _scored(exact: dict | None) -> bool:
    return exact is not None and bool(exact["days_scored"] or exact["time_days"])


def not_computed_line(symbol: str, day: date) -> str:
    """Realised data stored for the window but no summary of the date: validation failed or
    never ran — what to run, not "start the recorder"."""
    first, last = day - timedelta(days=WINDOW_DAYS), day - timedelta(days=1)
    return (
        f"{base_asset(symbol)}: track record not computed for this date, although realised "
        f"liquidations of the last {WINDOW_DAYS} days are stored — run `liqbrief validate "
        f"--symbols {symbol} --start {first} --end {last}`."
    )


def track_record_line(
    symbol: str, rows: pd.DataFrame, day: date | None = None, stored: bool = False
) -> str:
    """One symbol's line: the last 30 days' top-decile hit share against the all-bins and
    nearest-bins baselines (the naive formula's beside it), ρ of estimated vs realised, days
    scored and the hours recorded; with realised data ``stored`` but no summary row of
    ``day``, the validate command to run."""
    coin = base_asset(symbol)
    exact = summary_row(rows, MODEL)
    if exact is None and stored and day is not None:
        return not_computed_line(symbol, day)
    if not _scored(exact):
        return f"{coin}: no scored day in the last {WINDOW_DAYS} days — {START_RECORDING}."
    naive = summary_row(rows, NAIVE)
    parts = [_precision_part(exact, naive), _rho_part(coin, exact, naive), _scope_part(exact)]
    return f"{coin}: " + ". ".join(p[0].upper() + p[1:] for p in parts if p) + "."


def track_record_block(
    symbols: list[str], rows: dict[str, pd.DataFrame], day: date | None = None,
    stored: frozenset[str] | set[str] = frozenset(),
) -> tuple[str, list[str]]:  # fmt: skip
    """Page 1's block: the intro and one line per symbol; ``stored``: the symbols with realised
    data in the window but no summary row of ``day`` (their line names the validate to run).
    With nothing scored and nothing stored, no intro and one line saying how to start."""
    empty = pd.DataFrame()
    scored = any(_scored(summary_row(rows.get(s, empty), MODEL)) for s in symbols)
    if set(symbols) & set(stored) and day is not None:
        lines = [track_record_line(s, rows.get(s, empty), day, s in stored) for s in symbols]
        return (INTRO if scored else ""), lines
    if not scored:
        coins = ", ".join(base_asset(s) for s in symbols)
        return "", [
            f"No track record yet: no day of {coins} scored against realised liquidations in the "
            f"last {WINDOW_DAYS} days — {START_RECORDING}."
        ]
    return INTRO, [track_record_line(s, rows.get(s, empty)) for s in symbols]


def covered_hours(coverage: pd.DataFrame, day: date) -> int:
    """Whole hours of ``day`` (UTC) the recorder covered: the hours validation scores (one
    definition, transforms.liqmap.track_record.covered_hours: an hour with a gap is out)."""
    if coverage.empty:
        return 0
    return int(scored_hours(coverage, day, 1).sum())


def overlay_caption(realised: pd.DataFrame, coverage: pd.DataFrame, day: date) -> str:
    """What the overlay shows: yesterday's liquidations, per side, and the hours recorded."""
    longs = realised.loc[realised["side"] == "long", "notional_usd"]
    shorts = realised.loc[realised["side"] == "short", "notional_usd"]
    hours = covered_hours(coverage, day)
    sources = sorted(set(coverage["source"])) if not coverage.empty else []
    covered = (
        f"{hours} of 24 hours covered ({', '.join(COVERAGE_SOURCES.get(s, s) for s in sources)})"
        if sources
        else "no covered hours stored for the day"
    )
    caveat = f" {STREAM_CAVEAT}" if (realised["source"] == "stream").any() else ""
    return (
        f"Dots: the {len(realised):,} liquidations Binance reported on {day:%d %b %Y} "
        f"(longs {len(longs):,}, {usd(longs.sum())}; shorts {len(shorts):,}, {usd(shorts.sum())}); "
        f"{covered}.{caveat}"
    )


def no_overlay_line(day: date) -> str:
    return f"No realised liquidations recorded for {day:%d %b %Y} — {START_RECORDING}."


def realised_overlay(
    symbol: str, name: str, realised: RealisedDay, charts_on: bool, fmt: str, title_window: str
) -> tuple[str, str]:
    """The detail page's chart of yesterday's map with yesterday's realised liquidations and
    its caption; without liquidations (or without a map of that day) no chart and one line
    saying what is missing and what to run."""
    day = realised.day
    if realised.liquidations.empty:
        return "", no_overlay_line(day)
    if realised.bins.empty:
        return "", (
            f"{len(realised.liquidations):,} realised liquidations recorded for {day}, but no map of "
            f"that date to compare — run `liqbrief liqmap --symbols {symbol} --start {day} --end {day}`."
        )
    title = f"{name}: yesterday's map ({day:%d %b}, 00:00 UTC, {title_window} cohorts) and what was liquidated"
    svg = (
        realised_overlay_chart(realised.bins, realised.liquidations, realised.p0, title, fmt)
        if charts_on
        else ""
    )
    return svg, overlay_caption(realised.liquidations, realised.coverage, day)
