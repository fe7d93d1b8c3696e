"""The ``liqbrief`` command line.

Options are parsed and checked where they enter (liqbrief.cli_params) and the settings are
read and validated once, before any command runs; ``main`` turns every outcome into an exit
code and at most a line or two (liqbrief.terminal)."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from liqbrief import progress
from liqbrief.cli_map import print_map
from liqbrief.cli_params import (
    AtOpt,
    BriefAtOpt,
    DayOpt,
    EndOpt,
    HeatmapDates,
    MapVenue,
    Side,
    StartOpt,
    SymbolOpt,
    Symbols,
    SymbolsOpt,
    Window,
    archive_range,
    checked_range,
    comma_choices,
    leverage_of_at_least_1,
    mappable_from,
    positive_finite,
    symbols_option,
    today,
    venues_opt,
    yesterday,
)
from liqbrief.cli_record import record_command
from liqbrief.cli_validate import validate_command
from liqbrief.json_output import strict_json
from liqbrief.settings import Settings, SettingsError, settings_error_line
from liqbrief.terminal import HELP_ASKED, OneLineErrors, console, run
from liqbrief.terminal_logging import keep_run_failures_off_terminal

# Plain help (click's layout): typer's rich panels print a type beside every option, "<bool>"
# even for a flag, which takes no value (`--json true` is refused).
app = typer.Typer(
    cls=OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="liqbrief: the daily crypto-derivatives liquidation briefing.",
)
NO_SMTP_HOST = "LIQBRIEF_SMTP_HOST is not set: no server to send with (README, E-mail)"
DAILY_CRON = "0 7 * * *"  # 07:00 UTC: the archive has usually published yesterday by then


@app.callback()
def main_callback(ctx: typer.Context) -> None:
    """liqbrief: a daily crypto-derivatives liquidation briefing."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    keep_run_failures_off_terminal()
    if not ctx.meta.get(HELP_ASKED):
        Settings.from_env()  # read and validated once, before anything runs (exit 2 if bad)


def _settings(lake_writable: bool | None, writes_briefings: bool = False) -> Settings:
    """The settings, with the lake (and the reports directory of a command that writes
    briefings) checked for what the command does with them."""
    settings = Settings.from_env()
    if lake_writable is not None:
        settings.require_lake(writable=lake_writable)
    if writes_briefings:
        settings.require_reports_dir()
    return settings


def _smtp_settings():
    """The SMTP settings (None without a host), checked before any work so a bad value is
    found before anything is rendered."""
    from pydantic import ValidationError

    from delivery.smtp import SmtpSettings

    try:
        return SmtpSettings.from_env()
    except ValidationError as exc:
        raise SettingsError(settings_error_line(exc, SmtpSettings)) from None
    except ValueError as exc:
        raise SettingsError(str(exc)) from None  # the SMTP settings name the variable


def _datasets_option(text: str | None, known) -> list[str] | None:
    """`--datasets`: None (all) or the named datasets, each one of ``known``."""
    if text is None:
        return None
    try:
        return comma_choices(text, sorted(known), "dataset")
    except typer.BadParameter as exc:
        exc.param_hint = "--datasets"
        raise


def _progress_bar() -> Progress:
    return Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    )  # fmt: skip


@app.command()
def extract(
    symbols: SymbolsOpt = "BTCUSDT",
    start: StartOpt = None,
    end: EndOpt = None,
    datasets: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: klines_1m, klines_5m, mark_klines_1m, metrics, funding_rate "
            "(default all of these); liquidation_snapshot (only when named: realised "
            "liquidations from the archive's withdrawn files, which end 2024-03-31)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Re-fetch and replace days already stored (a bad partition)."),
    ] = False,
    venues: Annotated[
        str | None,
        typer.Option(
            "--venues",
            metavar="VENUES",
            help="Comma-separated, from binance, bybit, okx (default LIQBRIEF_VENUES): also "
            "fetch through the venues' REST APIs (Binance: the days the archive lacks, up to "
            "today); --end then defaults to today.",
        ),
    ] = None,
) -> None:
    """Download Binance archive files into the Parquet lake (skips days already stored);
    with --venues, also the venues' REST data (Binance's live edge, Bybit, OKX). Without
    --start/--end: the 7 days up to yesterday (up to today with --venues)."""
    from liqbrief.cli_venues import default_venue_range, run_venue_extract, venues_option
    from sources.binance_archive.layout import ARCHIVE_DATASETS

    chosen_venues = venues_option(venues, Settings.from_env())
    if chosen_venues is not None:
        start_day, end_day = checked_range(*default_venue_range(start, end))
    else:
        end_day = end or yesterday()
        start_day, end_day = checked_range(start or end_day - timedelta(days=6), end_day)
        archive_range(start_day, end_day)
    chosen = _datasets_option(datasets, ARCHIVE_DATASETS)
    settings = _settings(lake_writable=True)
    if chosen_venues is not None:
        run_venue_extract(
            chosen_venues, list(symbols), start_day, end_day, chosen, force,
            lambda *args: _archive_extract(settings, *args),
        )  # fmt: skip
        return
    _archive_extract(settings, list(symbols), start_day, end_day, chosen, force)


def _archive_extract(
    settings: Settings, symbols: list[str], start_day: date, end_day: date,
    chosen: list[str] | None, force: bool,
) -> None:  # fmt: skip
    """The archive extract flow with its progress bar and summary line."""
    from flows.extract import ExtractIncompleteError
    from flows.extract import extract as extract_flow

    with _progress_bar() as bar:
        job = bar.add_task("archive files", total=0)

        def on_progress(event: str, amount: int) -> None:
            if event == "total":
                bar.update(job, total=(bar.tasks[0].total or 0) + amount)
            else:
                bar.advance(job, amount)

        try:
            with progress.reporting_to(on_progress):
                summary = extract_flow(symbols, start_day, end_day, chosen, force)
        except ExtractIncompleteError:
            _print_snapshot_coverage(settings, chosen, symbols, start_day, end_day)
            raise
    console.print(f"extract {start_day}..{end_day}: {summary}")
    _print_snapshot_coverage(settings, chosen, symbols, start_day, end_day)


def _print_snapshot_coverage(
    settings: Settings, chosen: list[str] | None, symbols: Symbols, start: date, end: date
) -> None:
    """One line per symbol when liquidation_snapshot was asked for: days found of the range."""
    if not chosen or "liquidation_snapshot" not in chosen:
        return
    from sources.binance_archive.snapshot_ingest import snapshot_coverage
    from store.lake import Lake

    for symbol in symbols:
        typer.echo(snapshot_coverage(Lake(settings.lake), symbol, start, end).line())


@app.command()
def daily(
    symbols: SymbolsOpt = "BTCUSDT",
    day: DayOpt = None,
    venues: Annotated[
        str | None,
        venues_opt(
            "Comma-separated, from binance, bybit, okx (default LIQBRIEF_VENUES): the "
            "venues whose books the briefing's map sums (Binance + Bybit + OKX); a venue "
            "that cannot be fetched is named in the briefing."
        ),
    ] = None,
    at: AtOpt = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="With --at: print the hour's map and the briefing's paths as JSON."
        ),
    ] = False,
) -> None:
    """The daily job: extract, map the latest complete date, context, briefing, e-mail.

    The e-mail is sent when LIQBRIEF_SMTP_HOST is set. With --at: the Binance book as of
    that UTC hour, stored as the hour's map and briefed beside the day's briefing
    (<date>/liqbrief-<date>T<HHMM>.html/.pdf; no e-mail)."""
    from liqbrief.cli_venues import print_daily_venues, run_intraday, venues_option

    chosen_venues = venues_option(venues, Settings.from_env())
    if at is not None:
        # LIQBRIEF_VENUES does not stop an hour's snapshot; an explicit --venues must be Binance
        run_intraday(at, list(symbols), day is not None, chosen_venues if venues else None, as_json)
        return
    if as_json:
        raise typer.BadParameter("--json goes with --at (an hour's snapshot)", param_hint="--json")
    # its extract starts a day before the warm-up (yesterday's map, if today's cannot be made)
    mappable_from(list(symbols), day or today(), "--date", extra_days=1)
    _settings(lake_writable=True, writes_briefings=True)
    _smtp_settings()
    from flows.daily import daily_briefing

    result = daily_briefing(day, list(symbols), venues=chosen_venues)
    if "venues" in result:
        print_daily_venues(result)
    for symbol, mapped_day in result["mapped"].items():
        if "venues" not in result:
            print_map(symbol, mapped_day, Window.d7, as_json=False)
    for path in result["briefings"]:
        typer.echo(path)


@app.command("liqmap")
def liqmap_command(
    symbols: SymbolsOpt = "BTCUSDT",
    start: StartOpt = None,
    end: EndOpt = None,
    heatmaps: Annotated[
        HeatmapDates, typer.Option(help="Heatmaps for all, the last or none of the dates.")
    ] = HeatmapDates.all,
    venue: Annotated[
        MapVenue,
        typer.Option(
            case_sensitive=False, help="Venue to map; all = each venue's maps and their sum."
        ),
    ] = MapVenue.binance,
) -> None:
    """Compute and store the liquidation maps of a date range (one pass over its history)."""
    end_day = end or today()
    start_day, end_day = checked_range(start or end_day, end_day)
    mappable_from(list(symbols), start_day, "--start")
    _settings(lake_writable=True)
    from flows.liqmap import liqmap, missing_lines

    result = liqmap(list(symbols), start_day, end_day, heatmaps.value, venue.value)
    for symbol, outcome in result.items():
        console.print(f"liqmap {symbol} {start_day}..{end_day}: {outcome['dates']} date(s) mapped")
    unmapped = [
        line for s, o in result.items() for line in missing_lines(s, o["missing"], venue.value)
    ]
    if unmapped:
        console.print(f"{len(unmapped)} date(s) without a map; first: {unmapped[0]}", markup=False)
        raise typer.Exit(1)


@app.command("context")
def context_command(
    day: DayOpt = None,
    symbols: SymbolsOpt = "BTCUSDT",
    fetch_macro: Annotated[bool, typer.Option(help="Fetch FRED series first.")] = True,
    fetch_coinglass: Annotated[
        bool,
        typer.Option(
            help="Fetch Coinglass market-wide series first (when COINGLASS_API_KEY is set)."
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tables as JSON.")] = False,
) -> None:
    """Compute market context, records and macro context for a date, store and print them.

    Records are per venue: "binance" (the modelled book) and, with Coinglass data,
    "all-market"; realised_* metrics are reported by the exchanges, est_* the model's."""
    settings = _settings(lake_writable=True)
    from flows.coinglass import coinglass_problem_lines
    from flows.context import MACRO_SYMBOL, check_context_date, context
    from store.datasets import DATASETS
    from store.lake import Lake

    on = day or today()
    check_context_date(Lake(settings.lake), on, list(symbols))  # before any flow run starts
    result = context(on, list(symbols), fetch_macro, fetch_coinglass)
    lake = Lake(settings.lake)
    tables = {
        "market_context": [lake.read(DATASETS["market_context"], s, on, on) for s in symbols],
        "records": [
            lake.read(DATASETS["records"], s, on, on).drop(columns="history") for s in symbols
        ],
        "macro_context": [lake.read(DATASETS["macro_context"], MACRO_SYMBOL, on, on)],
        "macro_events": [lake.read(DATASETS["macro_events"], MACRO_SYMBOL, on, on)],
    }
    coinglass_problems = coinglass_problem_lines(result["coinglass"])
    if as_json:
        payload = {
            name: [r for f in frames for r in f.to_dict("records")]
            for name, frames in tables.items()
        }
        payload["warnings"] = result["macro_warnings"] + coinglass_problems
        payload["coinglass"] = result["coinglass"]
        typer.echo(strict_json(payload))
        return
    import pandas as pd
    from rich.markup import escape

    with pd.option_context("display.width", 200, "display.max_columns", 40):
        for name, frames in tables.items():
            typer.echo(f"\n{name}\n{pd.concat(frames).to_string(index=False)}")
    for warning in result["macro_warnings"] + coinglass_problems:
        console.print(f"[yellow]warning: {escape(warning)}")


@app.command()
def brief(
    day: DayOpt = None,
    symbols: SymbolsOpt = "BTCUSDT",
    out: Annotated[
        str | None,
        typer.Option(
            help="Output directory or s3://bucket/prefix (default $LIQBRIEF_REPORTS_DIR)."
        ),
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="E-mail the PDF to LIQBRIEF_DESK_TO afterwards.")
    ] = False,
    at: BriefAtOpt = None,
    venues: Annotated[
        str | None,
        venues_opt(
            "Comma-separated, from binance, bybit, okx: brief on the date's stored map of "
            "these venues (default: the venues its stored aggregated map sums, if it has one; "
            "venues of LIQBRIEF_VENUES not in it are named)."
        ),
    ] = None,
) -> None:
    """Render the HTML and PDF briefing of a date from the lake and print their paths.

    With --at: of that hour's stored map (`daily --at`), beside the date's briefing. A date
    the daily job mapped with --venues is briefed on that aggregated map again."""
    from liqbrief.cli_venues import venues_option

    if at is not None and (day is not None or send):
        raise typer.BadParameter(
            "--at re-renders an hour's briefing: give it without --date and --send",
            param_hint="--at",
        )
    if at is not None and venues is not None and venues.strip().lower() != "binance":
        raise typer.BadParameter(
            "an hour's briefing maps Binance's book only (--venues binance)", param_hint="--at"
        )
    settings = _settings(lake_writable=False)
    asked = venues_option(venues, settings)
    reports_dir = settings.require_reports_dir(out)
    smtp = _smtp_settings() if send else None
    if send and smtp is None:
        raise SettingsError(NO_SMTP_HOST)
    from flows.briefing import write_briefing
    from flows.briefing_venues import briefed_venues
    from store.lake import Lake

    on = at.date() if at is not None else day or today()
    lake = Lake(settings.lake)
    by_symbol = (
        {} if at is not None else briefed_venues(lake, on, list(symbols), asked, venues is not None)
    )
    paths = write_briefing(lake, on, list(symbols), reports_dir, by_symbol or None, at=at)
    for path in paths:
        typer.echo(str(path))
    if send:
        _send(on, list(symbols), force=False, smtp=smtp)


@app.command("send")
def send_command(
    day: DayOpt = None,
    symbols: SymbolsOpt = "BTCUSDT",
    force: Annotated[
        bool, typer.Option("--force", help="Send again to recipients who already had it.")
    ] = False,
) -> None:
    """E-mail the day's PDF to LIQBRIEF_DESK_TO (once per recipient unless --force).

    The e-mail describes the symbols in the PDF; --symbols matter only if it must be rendered."""
    _settings(lake_writable=False, writes_briefings=True)  # renders the PDF if missing
    smtp = _smtp_settings()
    if smtp is None:
        raise SettingsError(NO_SMTP_HOST)
    _send(day or today(), list(symbols), force, smtp)


def _send(on: date, symbols: list[str], force: bool, smtp) -> None:
    from flows.delivery import deliver_briefing

    result = deliver_briefing(on, symbols, smtp, force)
    sent = ", ".join(result["sent"]) or "nobody new"
    console.print(f"sent to {sent}; already had it: {', '.join(result['already_sent']) or 'none'}")


@app.command("backfill")
def backfill_command(
    start: StartOpt,
    end: EndOpt,
    symbols: SymbolsOpt = "BTCUSDT",
    send: Annotated[bool, typer.Option("--send", help="E-mail each new briefing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Redo days already complete.")] = False,
) -> None:
    """Briefings for every day in a range, in one flow run; complete days are skipped."""
    if start is None or end is None:
        raise typer.BadParameter("give both --start and --end", param_hint="--start/--end")
    start_day, end_day = checked_range(start, end)
    mappable_from(list(symbols), start_day, "--start")
    _settings(lake_writable=True, writes_briefings=True)
    if send:
        _smtp_settings()
    from flows.backfill import backfill

    with _progress_bar() as bar:
        job = bar.add_task("days", total=0)

        def on_progress(event: str, amount: int) -> None:
            if event == "total":
                bar.update(job, total=amount)
            else:
                bar.advance(job, amount)

        with progress.reporting_to(on_progress):
            result = backfill(start_day, end_day, list(symbols), send, force)
    console.print(
        f"done: {len(result['done'])} day(s); skipped (already complete): {len(result['skipped'])}"
    )


@app.command()
def serve() -> None:
    """Run the daily-briefing schedule on this machine (no work pool): 07:00 UTC every day."""
    _settings(lake_writable=True, writes_briefings=True)
    _smtp_settings()
    from prefect import serve as serve_deployments

    serve_deployments(daily_deployment())


def daily_deployment():
    """The daily-briefing deployment `serve` runs: the cron of prefect.yaml, one run at a time."""
    from prefect.schedules import Cron

    from flows.daily import daily_briefing

    return daily_briefing.to_deployment(
        name="daily-briefing",
        schedule=Cron(DAILY_CRON, timezone="UTC"),
        concurrency_limit=1,
        parameters={"symbols": ["BTCUSDT", "ETHUSDT"], "send": True},
    )


@app.command("map")
def map_command(
    symbol: SymbolOpt = "BTCUSDT",
    day: DayOpt = None,
    window: Annotated[Window, typer.Option(help="Cohort window.")] = Window.d7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    venue: Annotated[
        MapVenue,
        typer.Option(
            case_sensitive=False,
            help="Venue whose book is mapped; all = Binance + Bybit + OKX summed.",
        ),
    ] = MapVenue.binance,
) -> None:
    """Compute one date's liquidation map from the lake and print its key levels.

    The snapshot is at 00:00 UTC of the date; nothing is written."""
    mappable_from([symbol], day or today(), "--date")
    _settings(lake_writable=False)
    print_map(symbol, day or today(), window, as_json, venue.value)


@app.command()
def liqprice(
    side: Annotated[Side, typer.Option(help="Position side.")],
    entry: Annotated[float, typer.Option(callback=positive_finite, help="Entry price.")],
    leverage: Annotated[
        float, typer.Option(callback=leverage_of_at_least_1, help="Leverage, e.g. 10.")
    ],
    notional: Annotated[
        float,
        typer.Option(
            callback=positive_finite, help="Position notional in USD (picks the bracket)."
        ),
    ] = 10_000.0,
    day: DayOpt = None,
    symbol: SymbolOpt = "BTCUSDT",
) -> None:
    """Print the exact Binance isolated liquidation price, with the maintenance bracket used."""
    from sources.reference_data import load_brackets
    from transforms.liquidation_price import (
        LeverageError,
        bracket_for,
        check_position,
        liquidation_price,
    )

    brackets, source = load_brackets(symbol)
    on = day or today()
    try:
        bracket = bracket_for(brackets, on, notional)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    mmr, cum = float(bracket["mmr"]), float(bracket["cum"])
    try:
        check_position(entry, leverage, float(bracket["max_leverage"]))
    except LeverageError as exc:
        raise typer.BadParameter(str(exc), param_hint="--leverage") from None
    prices = {
        f: float(liquidation_price(side.value, entry, leverage, mmr, cum, notional, f))
        for f in ("exact", "linear", "naive")
    }
    typer.echo(f"{prices['exact']:.2f}")
    console.print(
        f"{side.value} {leverage:g}x at {entry:,.2f}, notional {notional:,.0f}: bracket {int(bracket['bracket'])} "
        f"(mmr {mmr:.2%}, cum {cum:,.0f}) of the {bracket['effective_from']} snapshot in {source}; "
        f"linear {prices['linear']:,.2f}, naive {prices['naive']:,.2f}"
    )


app.command("record")(record_command)
app.command("validate")(validate_command)

lake_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Check the Parquet lake.")
app.add_typer(lake_app, name="lake")


@lake_app.command("verify")
def lake_verify(
    symbols: Annotated[
        Symbols | None,
        typer.Option(
            "--symbols",
            parser=symbols_option,
            metavar="TICKERS",
            help="Comma-separated tickers (default all stored).",
        ),
    ] = None,
    datasets: Annotated[
        str | None, typer.Option(help="Comma-separated datasets (default all).")
    ] = None,
    start: StartOpt = None,
    end: EndOpt = None,
) -> None:
    """Check every stored partition against its ledger record (rows, SHA-256, schema) and
    print the command that re-fetches each bad one; exit 1 if any is bad."""
    from store.datasets import DATASETS
    from store.lake import Lake
    from store.object_store import is_uri
    from store.verify import print_report, verify_lake

    if start and end:
        start, end = checked_range(start, end)
    chosen = _datasets_option(datasets, DATASETS)
    settings = _settings(lake_writable=False)
    if not is_uri(settings.lake) and not Path(settings.lake).exists():  # a mistyped path
        typer.echo(
            f"liqbrief lake verify: no lake at LIQBRIEF_LAKE={settings.lake!r}; point "
            "LIQBRIEF_LAKE at the lake to check (nothing was checked)",
            err=True,
        )
        raise typer.Exit(1)
    report = verify_lake(Lake(settings.lake), chosen, symbols, start, end)
    print_report(report, typer.echo)
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:
    """The `liqbrief` entry point: exit 2 for usage errors, 1 for failures, no traceback."""
    from store.object_store import release_object_stores

    code = run(app)
    release_object_stores()
    raise SystemExit(code)


if __name__ == "__main__":
    main()
