"""The daily job's venues (LIQBRIEF_VENUES / `daily --venues`): with more than Binance, every
venue's REST days are fetched after the archive (so a REST day fetched before it ended is
completed), each venue that has its inputs is mapped with their aggregate, and a venue that
could not be fetched or mapped is named (the briefing says so: never silently a smaller book).
Binance alone keeps the archive-only job of before, byte for byte."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from prefect import get_run_logger

from flows.liqmap import liqmap
from flows.venues import extract_venues
from store.datasets import market_dataset
from store.lake import Lake, days_between
from transforms.liqmap.aggregate import AGGREGATE_VENUE
from transforms.liqmap.engine import NotEnoughDataError
from transforms.liqmap.passes import WARMUP_DAYS
from transforms.venue_margin import VENUES

MAP_INPUTS = ("metrics", "klines_5m", "mark_klines_1m")


def more_than_binance(venues: list[str] | None) -> bool:
    return bool(venues) and list(venues) != ["binance"]


def ordered(venues: list[str]) -> list[str]:
    """The venues in the order the aggregate names them (Binance, Bybit, OKX)."""
    return [v for v in VENUES if v in venues]


@dataclass
class VenueMaps:
    """What the daily job mapped for one symbol: the date, the venues in its aggregate, and
    each venue asked for that is not in it, with why."""

    day: date
    members: list[str]
    absent: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"day": self.day, "members": self.members, "absent": self.absent}


def extract_rest(venues: list[str], symbols: list[str], first: date, last: date) -> dict:
    """Every venue's REST days of [first, last]; {venue: first failure} of the venues with
    a series that failed (the rest is stored: the run goes on with what it has)."""
    failed: dict[str, str] = {}
    try:
        reports = extract_venues(venues, symbols, first, last)
    except Exception as exc:  # a venue outage must not stop the briefing
        get_run_logger().warning("venue extract failed: %s", exc)
        return dict.fromkeys(venues, f"REST extract failed: {exc}")
    for report in reports:
        for line in report["failures"]:
            failed.setdefault(report["venue"], f"{report['symbol']} {line}")
    return failed


def own_reason(venue: str, reason: str) -> str:
    """The part of ``reason`` about ``venue``, without the venue's name: every line that
    shows it names the venue already ("missing venue okx: its price …", not "okx: okx: …")."""
    own = f"{venue}: "
    if reason.startswith(own):  # a map that could not be made: "okx: BTCUSDT: not enough …"
        return reason.removeprefix(own)
    _, summed, venues = reason.partition(" map: ")  # "no … map: bybit: …; okx: …"
    parts = venues.split("; ") if summed else []
    return next((p.removeprefix(own) for p in parts if p.startswith(own)), reason)


def map_venues(
    lake: Lake, symbol: str, venues: list[str], target: date, failed: dict[str, str]
) -> VenueMaps | None:
    """Map the latest date some venue has complete inputs for: each venue that has them and
    their aggregate; None when no venue has any. A venue whose map cannot be made (no fresh
    price, say) is dropped from the aggregate with its reason, and the rest mapped again."""
    latest = {v: latest_mappable_date(lake, symbol, target, v) for v in ordered(venues)}
    dates = [d for d in latest.values() if d is not None]
    if not dates:
        return None
    day = max(dates)
    members = [v for v, d in latest.items() if d == day]
    absent = {
        v: failed.get(v) or f"inputs of {day - timedelta(days=1)} not complete in the lake"
        for v in latest
        if v not in members
    }
    while members:
        try:
            result = liqmap([symbol], day, day, "last", AGGREGATE_VENUE, members)[symbol]
        except NotEnoughDataError as exc:  # Bybit's and OKX's name their venue first
            named = [v for v in members if str(exc).startswith(f"{v}: ")]
            if not named:
                raise
            absent[named[0]] = own_reason(named[0], str(exc))
            members.remove(named[0])
            continue
        reason = result["missing"].get(day)
        if not reason:
            break
        dropped = [v for v in members if f"{v}: " in reason] or members
        absent |= {v: own_reason(v, reason) for v in dropped}
        members = [v for v in members if v not in dropped]
    for venue, why in absent.items():
        get_run_logger().warning("%s %s: not in the %s map: %s", symbol, venue, day, why)
    return VenueMaps(day, members, absent) if members else None


def latest_mappable_date(
    lake: Lake, symbol: str, not_after: date, venue: str = "binance"
) -> date | None:
    """The latest D <= not_after whose previous day has every map input of ``venue``."""
    days = days_between(not_after - timedelta(days=WARMUP_DAYS), not_after - timedelta(days=1))
    complete = set(days)
    for name in MAP_INPUTS:
        complete &= lake.ingested_days(market_dataset(venue, name), symbol, days)
    return max(complete) + timedelta(days=1) if complete else None
