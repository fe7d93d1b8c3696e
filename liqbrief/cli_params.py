"""The command line's options, parsed and checked once where they enter: symbols, dates,
date ranges and the fixed choices. Lower layers trust what comes out of here."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer

from liqbrief.symbols import InvalidSymbolError, parse_symbols, validate_symbol

DATE_FORMATS = ["%Y-%m-%d"]
EARLIEST = date(2019, 9, 1)  # Binance USD-M futures (and their archive) start in September 2019
MAX_RANGE_DAYS = 3 * 366  # a longer range is split into runs (each one a few hours at most)


class HeatmapDates(StrEnum):
    """The dates of a range that get a heatmap."""

    all = "all"
    last = "last"
    none = "none"


class Window(StrEnum):
    """Cohort windows of the liquidation map (transforms.liqmap.config.WINDOWS)."""

    d1 = "1d"
    d7 = "7d"
    d30 = "30d"


class MapVenue(StrEnum):
    """The book a map models: one venue, or "all" (Binance + Bybit + OKX, summed bin by bin)."""

    binance = "binance"
    bybit = "bybit"
    okx = "okx"
    all = "all"


class Side(StrEnum):
    long = "long"
    short = "short"


class Symbols(list):
    """Tickers parsed from a comma-separated option."""


def symbols_option(text: str) -> Symbols:
    try:
        return Symbols(parse_symbols(text))
    except InvalidSymbolError as exc:
        raise typer.BadParameter(str(exc)) from None


def symbol_option(text: str) -> str:
    try:
        return validate_symbol(text.strip())
    except InvalidSymbolError as exc:
        raise typer.BadParameter(str(exc)) from None


def today() -> date:
    return datetime.now(UTC).date()


def yesterday() -> date:
    return today() - timedelta(days=1)


def checked_day(value: datetime | None) -> date | None:
    """A date option: not in the future (UTC) and not before the archive starts."""
    if value is None:
        return None
    day = value.date()
    if day > today():
        raise typer.BadParameter(f"{day} is in the future (today is {today()} UTC)")
    if day < EARLIEST:
        raise typer.BadParameter(f"{day} is before {EARLIEST}, when Binance's archive starts")
    return day


def checked_range(start: date, end: date) -> tuple[date, date]:
    """A date range: end not before start and at most MAX_RANGE_DAYS long."""
    if end < start:
        raise typer.BadParameter(f"--end {end} is before --start {start}", param_hint="--end")
    days = (end - start).days + 1
    if days > MAX_RANGE_DAYS:
        raise typer.BadParameter(
            f"{start}..{end} is {days} days; at most {MAX_RANGE_DAYS} (3 years) per run: "
            "split the range",
            param_hint="--start/--end",
        )
    return start, end


def archive_range(start: date, end: date) -> tuple[date, date]:
    """An extract range the archive can hold (it publishes a day after it ends), checked
    before any flow run starts."""
    from sources.binance_archive.layout import check_archive_range
    from sources.errors import ArchiveRangeError

    try:
        check_archive_range(start, end, today())
    except ArchiveRangeError as exc:
        raise typer.BadParameter(str(exc), param_hint="--start/--end") from None
    return start, end


def mappable_from(symbols: list[str], first: date, flag: str, extra_days: int = 0) -> None:
    """Refuse a first date to map (or, with ``extra_days``, the date that many days before
    it) whose pass starts (transforms/liqmap/passes.py) before the archive or before the
    first maintenance-bracket snapshot of a symbol: no data could make that map."""
    from sources.reference_data import load_brackets
    from transforms.liqmap.passes import first_mapped_on_or_after, pass_start

    limits = [(EARLIEST, f"the archive starts ({EARLIEST})")]
    for symbol in symbols:
        brackets, source = load_brackets(symbol)
        start = date.fromisoformat(str(brackets["effective_from"].min())[:10])
        limits.append((start, f"the first maintenance-bracket snapshot ({start}, {source})"))
    warm_start = pass_start(first - timedelta(days=extra_days))
    broken = [reason for start, reason in limits if warm_start < start]
    if broken:
        earliest = first_mapped_on_or_after(max(start for start, _ in limits))
        raise typer.BadParameter(
            f"{first} cannot be mapped: its pass starts {warm_start} (30 days before the first "
            f"of its month), before {' and '.join(broken)}; use {flag} "
            f"{earliest + timedelta(days=extra_days)} or later",
            param_hint=flag,
        )


def comma_choices(text: str, choices: list[str], what: str) -> list[str]:
    """A comma-separated subset of ``choices``; an unknown one is refused, naming the choices."""
    picked = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [p for p in picked if p not in choices]
    if unknown or not picked:
        raise typer.BadParameter(
            f"unknown {what} {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from {', '.join(choices)}"
        )
    return list(dict.fromkeys(picked))


def positive_finite(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise typer.BadParameter(f"{value}: use a positive, finite number")
    return value


def leverage_of_at_least_1(value: float) -> float:
    if not math.isfinite(value) or value < 1:
        raise typer.BadParameter(f"{value}: use a finite leverage of at least 1")
    return value


def _date(flag: str, help_text: str):
    return typer.Option(
        flag, formats=DATE_FORMATS, callback=checked_day, metavar="YYYY-MM-DD", help=help_text
    )


SymbolsOpt = Annotated[
    Symbols,
    typer.Option(
        "--symbols",
        parser=symbols_option,
        metavar="TICKERS",
        help="Comma-separated tickers, e.g. BTCUSDT,ETHUSDT.",
    ),
]
SymbolOpt = Annotated[
    str,
    typer.Option("--symbol", parser=symbol_option, metavar="TICKER", help="Ticker, e.g. BTCUSDT."),
]


# The date options are typed datetime (typer parses the format); their callback hands the
# command a checked `date`.
def venues_opt(help_text: str):
    """A ``--venues`` option (comma-separated venue names, checked by the command)."""
    return typer.Option("--venues", metavar="VENUES", help=help_text)


DayOpt = Annotated[datetime | None, _date("--date", "Date (UTC, YYYY-MM-DD), default today.")]
StartOpt = Annotated[datetime | None, _date("--start", "First day (UTC, YYYY-MM-DD).")]
EndOpt = Annotated[datetime | None, _date("--end", "Last day (UTC, YYYY-MM-DD).")]


def whole_past_hour(value: str | None) -> datetime | None:
    """`daily --at`: a whole UTC hour (YYYY-MM-DDTHH:00), not in the future."""
    if value is None:
        return None
    try:
        at = datetime.strptime(value, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use a UTC hour like 2026-11-25T14:00") from None
    if at.minute:
        raise typer.BadParameter(f"{value} is not a whole hour: use {at:%Y-%m-%dT%H}:00")
    now = datetime.now(UTC)
    if at > now:
        raise typer.BadParameter(f"{value} is in the future (it is {now:%Y-%m-%dT%H:%M} UTC)")
    if at.date() < EARLIEST:
        raise typer.BadParameter(f"{value} is before {EARLIEST}, when Binance's archive starts")
    return at


BriefAtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="YYYY-MM-DDTHH:00",
        callback=whole_past_hour,
        help="Re-render the briefing of this hour's stored map (written by `daily --at`).",
    ),
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="YYYY-MM-DDTHH:00",
        callback=whole_past_hour,
        help="Map the book as of this whole UTC hour (REST for the hours the archive lacks), "
        "store that hour's map and write its briefing beside the day's; prints the key levels.",
    ),
]
