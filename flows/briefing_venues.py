"""The briefing's venue inputs for an aggregated map: each member venue's 7d bins of the
date and its open interest at the snapshot (the last 5-minute reading of D − 1); and, for
`liqbrief brief`, which venues a date's stored aggregated map sums."""

from __future__ import annotations

import math
from datetime import date, timedelta

from reports.briefing import BriefingDataError
from reports.venues import VenueCoverage
from store.datasets import map_dataset, market_dataset
from store.lake import Lake
from transforms.liqmap.aggregate import AGGREGATE_VENUE, aggregate_label, aggregate_members
from transforms.venue_margin import VENUES

WINDOW = "7d"


def venue_coverage(lake: Lake, day: date, symbol: str, coverage: dict) -> VenueCoverage:
    """``coverage`` is the daily job's {"members": [...], "absent": {venue: why}}."""
    members = list(coverage["members"])
    bins, oi = {}, {}
    for venue in members:
        frame = lake.read(map_dataset(venue, "liqmap_bins"), symbol, day, day)
        bins[venue] = frame[frame["window"] == WINDOW]
        oi[venue] = snapshot_oi_usd(lake, venue, symbol, day)
    return VenueCoverage(members, dict(coverage.get("absent", {})), bins, oi)


def snapshot_oi_usd(lake: Lake, venue: str, symbol: str, day: date) -> float:
    """The venue's open interest in USD at 00:00 UTC of ``day``: its last reading of D − 1,
    valued by the venue when it gives a value, else its base units at its last mark price
    (Bybit and OKX give contracts only); NaN when either is not stored."""
    yesterday = day - timedelta(days=1)
    ds = market_dataset(venue, "metrics")
    columns = [ds.time_column, "sum_open_interest", "sum_open_interest_value"]
    frame = lake.read(ds, symbol, yesterday, yesterday, columns).sort_values(ds.time_column)
    if frame.empty:
        return math.nan
    last = frame.iloc[-1]
    if math.isfinite(last["sum_open_interest_value"]):
        return float(last["sum_open_interest_value"])
    marks = market_dataset(venue, "mark_klines_1m")
    closes = lake.read(marks, symbol, yesterday, yesterday, [marks.time_column, "close"])
    closes = closes.sort_values(marks.time_column)["close"].dropna()
    return float(last["sum_open_interest"] * closes.iloc[-1]) if len(closes) else math.nan


def rest_note(lake: Lake, day: date, symbols: list[str]) -> str:
    """The cut-off line's note on the days before ``day`` whose Binance inputs came from
    REST (the archive had not published them): "" when none did."""
    from datetime import UTC, datetime

    from flows.intraday import rest_days

    midnight = datetime.combine(day, datetime.min.time(), UTC)
    days = sorted({d for s in symbols for d in rest_days(lake, s, midnight) if d < day})
    if not days:
        return ""
    span = f"{days[0]:%d %b}" if len(days) == 1 else f"{days[0]:%d %b}–{days[-1]:%d %b}"
    return f"; Binance {span} from REST (not yet in the archive)"


def stored_members(lake: Lake, day: date, symbol: str) -> list[str] | None:
    """The venues the stored aggregated map ("all") of ``day`` sums, or None without one."""
    summary = lake.read(map_dataset(AGGREGATE_VENUE, "liqmap_summary"), symbol, day, day)
    rows = summary[summary["window"] == WINDOW]
    return aggregate_members(str(rows.iloc[0]["brackets_source"])) if len(rows) else None


def briefed_venues(
    lake: Lake, day: date, symbols: list[str], asked: list[str] | None, explicit: bool
) -> dict[str, dict]:
    """`brief`'s venues, as `daily --venues` gives them to the briefing: {symbol: {"members",
    "absent"}} for each symbol briefed on its stored aggregated map (the others on Binance's
    map). ``asked``: --venues (``explicit``) or LIQBRIEF_VENUES beyond Binance, else None.
    A venue asked for but not in the stored map is named; an explicit --venues the stored
    map does not match, or without one, is a BriefingDataError (nothing is rendered)."""
    if explicit and asked == ["binance"]:
        return {}  # Binance's map alone, as asked
    out = {}
    for symbol in symbols:
        members = stored_members(lake, day, symbol)
        if explicit and members is None:
            raise BriefingDataError(
                f"no {aggregate_label(asked)} map of {symbol} for {day}: "
                f"run `{daily_command(asked, symbol, day)}`"
            )
        if members is None:
            continue  # a date mapped before (or without) the venues: Binance's map
        if explicit and not set(members) <= set(asked):
            raise BriefingDataError(
                f"the stored map of {symbol} for {day} is {aggregate_label(members)}, not "
                f"{aggregate_label(asked)}: brief it with --venues {','.join(members)}, or map "
                f"the venues asked for with `{daily_command(asked, symbol, day)}`"
            )
        absent = {
            v: f"not in the stored map of {day}; `{daily_command(asked, symbol, day)}` maps it"
            for v in VENUES
            if v in (asked or [])
            if v not in members
        }
        out[symbol] = {"members": members, "absent": absent}
    return out


def daily_command(venues: list[str], symbol: str, day: date) -> str:
    return f"liqbrief daily --venues {','.join(venues)} --symbols {symbol} --date {day}"
