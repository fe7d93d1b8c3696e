"""The ``liqbrief`` command line."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from liqbrief import progress

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="liqbrief: the daily crypto-derivatives liquidation briefing.",
)
console = Console(stderr=True, soft_wrap=True)


BriefingDate = Annotated[
    datetime | None,
    typer.Option("--date", formats=["%Y-%m-%d"], help="Briefing date (default today, UTC)."),
]
DAILY_CRON = "0 7 * * *"  # 07:00 UTC: the archive has usually published yesterday by then


def _csv_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


@app.callback()
def main() -> None:
    """liqbrief: a daily crypto-derivatives liquidation briefing."""
    os.environ.setdefault("DO_NOT_TRACK", "1")


@app.command()
def extract(
    symbols: Annotated[str, typer.Option(help="Comma-separated tickers, e.g. BTCUSDT,ETHUSDT.")] = (
        "BTCUSDT"
    ),
    start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (UTC).")
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Last day (UTC), default yesterday."),
    ] = None,
    datasets: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: klines_1m, klines_5m, mark_klines_1m, metrics, funding_rate "
            "(default all)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Re-fetch and replace days already stored (a bad partition)."),
    ] = False,
) -> None:
    """Download Binance archive files into the Parquet lake (skips days already stored)."""
    from flows.extract import ExtractIncompleteError
    from flows.extract import extract as extract_flow
    from liqbrief.symbols import InvalidSymbolError, validate_symbol
    from sources.errors import SourceError

    end_day = end.date() if end else _yesterday()
    start_day = start.date() if start else end_day - timedelta(days=6)
    try:
        symbol_list = [validate_symbol(s) for s in _csv_list(symbols)]
    except InvalidSymbolError as exc:
        raise typer.BadParameter(str(exc), param_hint="--symbols") from None
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        job = bar.add_task("archive files", total=0)

        def on_progress(event: str, amount: int) -> None:
            if event == "total":
                bar.update(job, total=(bar.tasks[0].total or 0) + amount)
            else:
                bar.advance(job, amount)

        try:
            with progress.reporting_to(on_progress):
                summary = extract_flow(
                    symbol_list, start_day, end_day, _csv_list(datasets) if datasets else None,
                    force,
                )  # fmt: skip
        except (ExtractIncompleteError, SourceError) as exc:
            console.print(f"[red]{exc}")
            raise typer.Exit(1) from None
    console.print(f"extract {start_day}..{end_day}: {summary}")


@app.command()
def daily(
    symbols: Annotated[str, typer.Option(help="Comma-separated tickers.")] = "BTCUSDT",
    day: BriefingDate = None,
) -> None:
    """The daily job: extract, map the latest complete date, compute context, render the briefing."""
    from flows.daily import DailyBriefingError, daily_briefing

    try:
        result = daily_briefing(day.date() if day else None, _csv_list(symbols))
    except DailyBriefingError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None
    for symbol, mapped_day in result["mapped"].items():
        map_command(
            symbol=symbol,
            day=datetime.combine(mapped_day, datetime.min.time()),
            window="7d",
            as_json=False,
        )
    for path in result["briefings"]:
        typer.echo(path)


@app.command("liqmap")
def liqmap_command(
    symbols: Annotated[str, typer.Option(help="Comma-separated tickers.")] = "BTCUSDT",
    start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First date.")
    ] = None,
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last date.")] = None,
    heatmaps: Annotated[
        str, typer.Option(help="Heatmaps for: all, last or none of the dates.")
    ] = "all",
) -> None:
    """Compute and store the liquidation maps of a date range (one pass over its history)."""
    from flows.liqmap import liqmap

    end_day = _day(end, datetime.now(UTC).date())
    start_day = _day(start, end_day)
    if heatmaps not in ("all", "last", "none"):
        raise typer.BadParameter("use all, last or none", param_hint="--heatmaps")
    result = liqmap(_csv_list(symbols), start_day, end_day, heatmaps)
    console.print(f"liqmap {start_day}..{end_day}: {result}")


@app.command("context")
def context_command(
    day: BriefingDate = None,
    symbols: Annotated[str, typer.Option(help="Comma-separated tickers.")] = "BTCUSDT",
    fetch_macro: Annotated[bool, typer.Option(help="Fetch FRED series first.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tables as JSON.")] = False,
) -> None:
    """Compute market context, records and macro context for a date, store and print them."""
    import json

    from flows.context import MACRO_SYMBOL, context
    from liqbrief.settings import Settings
    from store.datasets import DATASETS
    from store.lake import Lake

    on = _day(day, datetime.now(UTC).date())
    symbol_list = _csv_list(symbols)
    result = context(on, symbol_list, fetch_macro)
    lake = Lake(Settings.from_env().lake)
    tables = {
        "market_context": [lake.read(DATASETS["market_context"], s, on, on) for s in symbol_list],
        "records": [
            lake.read(DATASETS["records"], s, on, on).drop(columns="history") for s in symbol_list
        ],
        "macro_context": [lake.read(DATASETS["macro_context"], MACRO_SYMBOL, on, on)],
        "macro_events": [lake.read(DATASETS["macro_events"], MACRO_SYMBOL, on, on)],
    }
    if as_json:
        payload = {
            name: [r for f in frames for r in f.to_dict("records")]
            for name, frames in tables.items()
        }
        payload["warnings"] = result["macro_warnings"]
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30):
        for name, frames in tables.items():
            typer.echo(f"\n{name}\n{pd.concat(frames).to_string(index=False)}")
    for warning in result["macro_warnings"]:
        console.print(f"[yellow]warning: {warning}")


@app.command()
def brief(
    day: BriefingDate = None,
    symbols: Annotated[str, typer.Option(help="Comma-separated tickers.")] = "BTCUSDT",
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default $LIQBRIEF_REPORTS_DIR).")
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="E-mail the PDF to LIQBRIEF_DESK_TO afterwards.")
    ] = False,
) -> None:
    """Render the HTML and PDF briefing of a date from the lake and print their paths."""
    from flows.briefing import write_briefing
    from liqbrief.settings import Settings
    from reports.briefing import BriefingDataError
    from store.lake import Lake

    settings = Settings.from_env()
    on = _day(day, datetime.now(UTC).date())
    try:
        paths = write_briefing(
            Lake(settings.lake), on, _csv_list(symbols), out or settings.reports_dir
        )
    except BriefingDataError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None
    for path in paths:
        typer.echo(str(path))
    if send:
        send_command(day=datetime.combine(on, datetime.min.time()), symbols=symbols, force=False)


@app.command("send")
def send_command(
    day: BriefingDate = None,
    symbols: Annotated[
        str, typer.Option(help="Comma-separated tickers (if the PDF must be rendered).")
    ] = "BTCUSDT",
    force: Annotated[
        bool, typer.Option("--force", help="Send again to recipients who already had it.")
    ] = False,
) -> None:
    """E-mail the day's PDF to LIQBRIEF_DESK_TO (once per recipient unless --force)."""
    from delivery.message import InvalidRecipientError
    from delivery.smtp import DeliveryError, SmtpSettings
    from flows.delivery import deliver_briefing
    from reports.briefing import BriefingDataError

    on = _day(day, datetime.now(UTC).date())
    try:
        smtp = SmtpSettings.from_env()
        if smtp is None:
            console.print(
                "[red]LIQBRIEF_SMTP_HOST is not set: no server to send with (README, E-mail)."
            )
            raise typer.Exit(1)
        result = deliver_briefing(on, _csv_list(symbols), smtp, force)
    except (InvalidRecipientError, DeliveryError, BriefingDataError, ValueError) as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None
    sent = ", ".join(result["sent"]) or "nobody new"
    console.print(f"sent to {sent}; already had it: {', '.join(result['already_sent']) or 'none'}")


@app.command("backfill")
def backfill_command(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First briefing date.")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last briefing date.")],
    symbols: Annotated[str, typer.Option(help="Comma-separated tickers.")] = "BTCUSDT",
    send: Annotated[bool, typer.Option("--send", help="E-mail each new briefing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Redo days already complete.")] = False,
) -> None:
    """Briefings for every day in a range, in one flow run; complete days are skipped."""
    from flows.backfill import BackfillFailedError, backfill

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    ) as bar:  # fmt: skip
        job = bar.add_task("days", total=0)

        def on_progress(event: str, amount: int) -> None:
            if event == "total":
                bar.update(job, total=amount)
            else:
                bar.advance(job, amount)

        try:
            with progress.reporting_to(on_progress):
                result = backfill(start.date(), end.date(), _csv_list(symbols), send, force)
        except BackfillFailedError as exc:
            console.print(f"[red]{exc}")
            raise typer.Exit(1) from None
    console.print(
        f"done: {len(result['done'])} day(s); skipped (already complete): {len(result['skipped'])}"
    )


@app.command()
def serve() -> None:
    """Run the daily-briefing schedule on this machine (no work pool): 07:00 UTC every day."""
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


def _day(value: datetime | None, default: date) -> date:
    return value.date() if value else default


@app.command("map")
def map_command(
    symbol: Annotated[str, typer.Option(help="Ticker, e.g. BTCUSDT.")] = "BTCUSDT",
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date", formats=["%Y-%m-%d"], help="Snapshot date (00:00 UTC), default today."
        ),
    ] = None,
    window: Annotated[str, typer.Option(help="Cohort window: 1d, 7d or 30d.")] = "7d",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Compute the liquidation map for one date from the lake and print its key levels."""
    import json

    from flows.liqmap import NoMapError, summary_of
    from liqbrief.settings import Settings
    from liqbrief.symbols import InvalidSymbolError, validate_symbol
    from store.lake import Lake
    from transforms.liqmap.config import WINDOWS

    if window not in WINDOWS:
        raise typer.BadParameter(f"choose one of {', '.join(WINDOWS)}", param_hint="--window")
    try:
        validate_symbol(symbol)
    except InvalidSymbolError as exc:
        raise typer.BadParameter(str(exc), param_hint="--symbol") from None
    snapshot_day = _day(day, datetime.now(UTC).date())
    lake = Lake(Settings.from_env().lake)
    try:
        row = summary_of(lake, symbol, snapshot_day, window)
    except NoMapError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None
    row["date"] = row["date"].isoformat()
    if as_json:
        typer.echo(json.dumps(row, indent=2, default=str))
        return
    typer.echo(
        f"{symbol} {row['date']} 00:00 UTC, {window} window, P0 {row['p0']:,.2f} "
        "(estimated — relative intensity, Binance only)"
    )
    for k in (1, 2, 3):
        typer.echo(
            f"  below {row[f'round_below_{k}']:>10,.0f}: longs {row[f'cum_long_round_below_{k}'] / 1e6:10,.1f}M"
            f"   above {row[f'round_above_{k}']:>10,.0f}: shorts {row[f'cum_short_round_above_{k}'] / 1e6:10,.1f}M"
        )
    for pct in (1, 2, 3, 5):
        typer.echo(
            f"  ±{pct}%: longs {row[f'cum_long_{pct}pct'] / 1e6:,.1f}M  shorts {row[f'cum_short_{pct}pct'] / 1e6:,.1f}M"
        )
    typer.echo(
        f"  largest long cluster {row['long_cluster_price']:,.0f} ({row['long_cluster_usd'] / 1e6:,.1f}M, "
        f"{row['long_cluster_distance_pct']:+.1f}%); short {row['short_cluster_price']:,.0f} "
        f"({row['short_cluster_usd'] / 1e6:,.1f}M, {row['short_cluster_distance_pct']:+.1f}%)"
    )
    typer.echo(f"  imbalance (±5%) {row['imbalance_5pct']:.2f} : 1 long/short")


@app.command()
def liqprice(
    side: Annotated[str, typer.Option(help="long or short.")],
    entry: Annotated[float, typer.Option(help="Entry price.")],
    leverage: Annotated[float, typer.Option(help="Leverage, e.g. 10.")],
    notional: Annotated[
        float, typer.Option(help="Position notional in USD (picks the bracket).")
    ] = 10_000.0,
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="Date whose bracket snapshot applies; default today.",
        ),
    ] = None,
    symbol: Annotated[str, typer.Option(help="Ticker whose brackets to use.")] = "BTCUSDT",
) -> None:
    """Print the exact Binance isolated liquidation price, with the maintenance bracket used."""
    from sources.reference_data import load_brackets
    from transforms.liquidation_price import (
        LeverageError,
        bracket_for,
        check_position,
        liquidation_price,
    )

    if side not in ("long", "short"):
        raise typer.BadParameter("use long or short", param_hint="--side")
    if leverage <= 0 or entry <= 0 or notional <= 0:
        raise typer.BadParameter("entry, leverage and notional must be positive")
    brackets, source = load_brackets(symbol)
    on = _day(day, datetime.now(UTC).date())
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
        f: float(liquidation_price(side, entry, leverage, mmr, cum, notional, f))
        for f in ("exact", "linear", "naive")
    }
    typer.echo(f"{prices['exact']:.2f}")
    console.print(
        f"{side} {leverage:g}x at {entry:,.2f}, notional {notional:,.0f}: bracket {int(bracket['bracket'])} "
        f"(mmr {mmr:.2%}, cum {cum:,.0f}) of the {bracket['effective_from']} snapshot in {source}; "
        f"linear {prices['linear']:,.2f}, naive {prices['naive']:,.2f}"
    )


lake_app = typer.Typer(no_args_is_help=True, help="Check the Parquet lake.")
app.add_typer(lake_app, name="lake")


@lake_app.command("verify")
def lake_verify(
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated tickers (default all stored).")
    ] = None,
    datasets: Annotated[
        str | None, typer.Option(help="Comma-separated datasets (default all).")
    ] = None,
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
) -> None:
    """Check every stored partition against its ledger record (rows, SHA-256, schema) and
    print the command that re-fetches each bad one; exit 1 if any is bad."""
    from liqbrief.settings import Settings
    from store.lake import Lake
    from store.verify import print_report, verify_lake

    try:
        report = verify_lake(
            Lake(Settings.from_env().lake),
            _csv_list(datasets) if datasets else None,
            _csv_list(symbols) if symbols else None,
            start.date() if start else None,
            end.date() if end else None,
        )
    except ValueError as exc:  # an unknown dataset or a malformed symbol
        raise typer.BadParameter(str(exc)) from None
    print_report(report, typer.echo)
    if not report.ok:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
