"""`liqbrief extract --venues …`: the Binance archive plus the venues' REST APIs.

Binance: the archive for the days it has published, then REST for what it lacks (today and
days not yet published, up to 30 days back); Bybit and OKX: REST for the whole range. One
line per venue and symbol says what was stored, then one per coverage warning."""

from __future__ import annotations

from datetime import date, timedelta

import typer

from liqbrief.cli_params import comma_choices, today, yesterday
from liqbrief.settings import KNOWN_VENUES, Settings

MAX_WARNINGS_SHOWN = 12  # per venue and symbol; the Prefect run logs every one


class VenueExtractIncompleteError(RuntimeError):
    """Some venue series failed; the rest were stored."""


def venues_option(text: str | None, settings: Settings) -> list[str] | None:
    """--venues (else LIQBRIEF_VENUES), checked; None when that is Binance alone and no
    --venues was given: the archive-only extract of before."""
    if text is None:
        return None if settings.venue_list == ["binance"] else settings.venue_list
    try:
        return comma_choices(text.lower(), list(KNOWN_VENUES), "venue")
    except typer.BadParameter as exc:
        exc.param_hint = "--venues"
        raise


def rest_datasets(chosen: list[str] | None) -> tuple[str, ...]:
    """The REST datasets of --datasets (default: all but klines_1m, which must be named)."""
    from sources.venues.fetchers import ALL_DATASET_NAMES, DATASET_NAMES

    if chosen is None:
        return DATASET_NAMES
    return tuple(d for d in ALL_DATASET_NAMES if d in chosen)


def run_venue_extract(
    venues: list[str], symbols: list[str], start: date, end: date,
    chosen: list[str] | None, force: bool, archive_extract,
) -> None:  # fmt: skip
    """The archive part (Binance, days up to yesterday) through ``archive_extract``, then
    every venue's REST part; prints what each stored and its coverage warnings, and fails
    (exit 1) after printing if any series or archive file failed."""
    from flows.extract import ExtractIncompleteError
    from flows.venues import extract_venues
    from sources.errors import SourceError
    from store.lake import Lake

    archive_error: Exception | None = None
    if "binance" in venues and start <= yesterday():
        try:
            archive_extract(symbols, start, min(end, yesterday()), chosen, force)
        except (ExtractIncompleteError, SourceError) as exc:  # the REST part still runs
            archive_error = exc
    datasets = rest_datasets(chosen)
    reports = extract_venues(venues, symbols, start, end, force, datasets) if datasets else []
    for report in reports:
        print_report(report)
    failures = [f"{r['venue']} {f}" for r in reports for f in r["failures"]]
    if isinstance(archive_error, ExtractIncompleteError):
        # at the live edge the archive has not published the last days; Binance's REST
        # stores them, so only what neither source stored fails (klines_1m: REST if named)
        archive_error, filled = archive_error.unfilled(Lake(Settings.from_env().lake))
        if filled:
            typer.echo(f"archive: {filled} file(s) it has not published; their days were fetched through REST")  # fmt: skip
    if archive_error is not None:
        raise archive_error
    if failures:
        more = f" (and {len(failures) - 1} more above)" if len(failures) > 1 else ""
        stored = sum(r["days_stored"] + r["days_skipped"] for r in reports)
        kept = "everything else was stored" if stored else "nothing was stored"
        raise VenueExtractIncompleteError(
            f"{len(failures)} venue series could not be fetched ({kept}); "
            f"first: {failures[0]}{more}"
        )


def print_report(report: dict) -> None:
    from sources.venues.report import VenueReport

    typer.echo(VenueReport(**report).summary_line())
    warnings = report["warnings"]
    for line in warnings[:MAX_WARNINGS_SHOWN]:
        typer.echo(f"  coverage: {line}")
    if len(warnings) > MAX_WARNINGS_SHOWN:
        typer.echo(
            f"  coverage: … and {len(warnings) - MAX_WARNINGS_SHOWN} more (in the Prefect run's log)"
        )
    for line in report["failures"]:
        typer.echo(f"  failed: {line}")


def default_venue_range(start: date | None, end: date | None) -> tuple[date, date]:
    """The live edge: end defaults to today, start to six days before the end."""
    end_day = end or today()
    return start or end_day - timedelta(days=6), end_day


def print_daily_venues(result: dict) -> None:
    """`daily --venues`: each symbol's stored aggregated map (7d) and the venues left out."""
    from liqbrief.cli_map import map_lines
    from store.datasets import map_dataset
    from store.lake import Lake

    lake = Lake(Settings.from_env().lake)
    for symbol, coverage in result["venues"].items():
        day = coverage["day"]
        summary = lake.read(map_dataset("all", "liqmap_summary"), symbol, day, day)
        row = summary.set_index("window").loc["7d"].to_dict() | {"window": "7d"}
        for line in map_lines(symbol, "7d", row):
            typer.echo(line)
        for venue, why in coverage["absent"].items():
            typer.echo(f"  missing venue {venue}: {why}")


def run_intraday(
    at, symbols: list[str], date_given: bool, venues: list[str] | None, as_json: bool = False
) -> None:
    """`daily --at`: checks, then the Binance book as of the hour, stored and briefed; prints
    each symbol's cut-off line and key levels, then the briefing's paths (or all as JSON)."""
    from liqbrief.cli_map import map_lines
    from liqbrief.cli_params import mappable_from
    from liqbrief.json_output import strict_json

    if date_given:
        raise typer.BadParameter("give --at or --date, not both", param_hint="--at")
    if venues is not None and venues != ["binance"]:
        raise typer.BadParameter(
            "the intraday snapshot maps Binance's book only (--venues binance)", param_hint="--at"
        )
    mappable_from(symbols, at.date(), "--at", extra_days=1)
    settings = Settings.from_env()
    settings.require_lake(writable=True)
    settings.require_reports_dir()
    from flows.intraday import intraday_snapshot

    result = intraday_snapshot(at, symbols)
    html, pdf = result["briefing"]
    if as_json:
        out = {"at": at, "symbols": result["symbols"], "briefing": {"html": html, "pdf": pdf}}
        typer.echo(strict_json(out))
        return
    for symbol, mapped in result["symbols"].items():
        typer.echo(mapped["cutoff"])
        for line in map_lines(symbol, "7d", mapped["summary"] | {"date": f"{at:%Y-%m-%d}"}):
            typer.echo(line.replace(" 00:00 UTC,", f" {at:%H:%M} UTC,", 1))
    typer.echo(html)
    typer.echo(pdf)
