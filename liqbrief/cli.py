"""The ``liqbrief`` command line."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
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
console = Console(stderr=True)


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
                    symbol_list, start_day, end_day, _csv_list(datasets) if datasets else None
                )
        except (ExtractIncompleteError, SourceError) as exc:
            console.print(f"[red]{exc}")
            raise typer.Exit(1) from None
    console.print(f"extract {start_day}..{end_day}: {summary}")


if __name__ == "__main__":
    app()
