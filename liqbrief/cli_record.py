"""`liqbrief record`: record the venues' liquidation streams (long-running), or `--status`.

The recorder stops cleanly on SIGTERM or Ctrl-C (SIGINT): the streams close, the spool is
flushed and compacted into the lake, exit 0. Its log lines (subscribed, reconnecting,
compacted) go to stderr, one a line, for journald or a terminal.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer

from liqbrief.cli_params import Symbols, comma_choices, symbols_option
from liqbrief.json_output import strict_json
from liqbrief.settings import Settings
from liqbrief.terminal import console

VENUE_CHOICES = ["binance", "bybit", "okx"]
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"

VenuesOpt = Annotated[
    str,
    typer.Option("--venues", metavar="VENUES", help="Comma-separated, from binance, bybit, okx."),
]
RecordSymbolsOpt = Annotated[
    Symbols,
    typer.Option(
        "--symbols", parser=symbols_option, metavar="TICKERS",
        help="Comma-separated tickers to record, e.g. BTCUSDT,ETHUSDT.",
    ),
]  # fmt: skip


def _venues(text: str) -> list[str]:
    try:
        return comma_choices(text, VENUE_CHOICES, "venue")
    except typer.BadParameter as exc:
        exc.param_hint = "--venues"
        raise


def _check_okx_symbols(venues: list[str], symbols: list[str]) -> None:
    """OKX sizes are contracts: a symbol without a shipped contract value cannot be recorded."""
    from sources.liquidation_streams import symbols_without_contract_value

    if "okx" not in venues:
        return
    missing = symbols_without_contract_value(symbols)
    if missing == symbols:
        raise typer.BadParameter(
            f"OKX has no contract value in data/okx_contract_values.json for {', '.join(missing)}; "
            "record other symbols or drop okx from --venues",
            param_hint="--symbols",
        )
    if missing:
        console.print(
            f"warning: {', '.join(missing)} not recorded on OKX (no contract value in "
            "data/okx_contract_values.json), and not counted as covered there; "
            "the other venues record them",
            markup=False,
        )


def record_command(
    venues: VenuesOpt = "binance,bybit,okx",
    symbols: RecordSymbolsOpt = "BTCUSDT,ETHUSDT",
    status: Annotated[
        bool, typer.Option("--status", help="Print the recorder's status per venue and exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --status: print JSON.")] = False,
) -> None:
    """Record the exchanges' liquidation streams into the lake until stopped (SIGTERM, Ctrl-C).

    Every frame is spooled before it counts as received; the spool is compacted into
    <lake>/<venue>/realised_liquidations hourly and on shutdown, with the connected hours in
    recorder_coverage and the frames received in recorder_messages. --status prints per venue
    the last message, today's messages (malformed ones too), liquidations and gaps."""
    chosen = _venues(venues)
    if as_json and not status:
        raise typer.BadParameter("--json goes with --status", param_hint="--json")
    settings = Settings.from_env()
    if status:
        _print_status(settings, chosen, as_json)
        return
    _check_okx_symbols(chosen, list(symbols))
    settings.require_lake(writable=True)
    spool_dir = settings.require_spool_dir()
    _record(settings, chosen, list(symbols), spool_dir)


def _record(settings: Settings, venues: list[str], symbols: list[str], spool_dir) -> None:
    from sources.liquidation_streams.recorder import RecorderConfig, record

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    package = logging.getLogger("sources.liquidation_streams")
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    urls = {venue: settings.stream_urls[venue] for venue in venues}
    config = RecorderConfig(settings.lake, spool_dir, urls, symbols)

    async def until_signalled():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await record(config, stop)

    summary = asyncio.run(until_signalled())
    done = summary.compaction
    line = (
        f"record: stopped; {sum(summary.frames.values())} frame(s) received, "
        f"{done.segments} segment(s) compacted, "
        f"{done.added} new liquidation(s) in the lake"
    )
    if summary.kept:  # nothing is lost: the segments wait in the spool for the repair
        line += (
            f"; {len(summary.kept)} segment(s) kept in {spool_dir}, not compacted: "
            f"{summary.failures[0]}; the next `liqbrief record` compacts them once repaired"
        )
    console.print(line, markup=False)
    if summary.kept:
        raise typer.Exit(1)


def _print_status(settings: Settings, venues: list[str], as_json: bool) -> None:
    from sources.liquidation_streams.status import recorder_status
    from store.lake import Lake

    settings.require_lake(writable=False)
    spool_dir = settings.require_spool_dir(writable=False)
    report = recorder_status(Lake(settings.lake), spool_dir, venues)
    if as_json:
        typer.echo(strict_json(report))
        return
    state = f"running (pid {report['recorder_pid']})" if report["running"] else "not running"
    pending = report["segments_pending"]
    typer.echo(
        f"recorder {state}; spool {report['spool_dir']}: {pending} segment(s) not yet compacted"
    )
    for line in report["venues"]:
        typer.echo(_venue_line(line))


def _venue_line(line: dict) -> str:
    """One venue's status line for a person."""
    last, gaps = line["last_message_at"], line["gaps_today"]
    text = (
        f"{line['venue']:8} {'connected' if line['connected'] else 'not connected':13} "
        f"last message {last.isoformat(timespec='seconds') if last else 'never'}; "
        f"{line['messages_today']} message(s) today ({line['malformed_today']} malformed), "
        f"{line['liquidations_today']} liquidation(s); "
        f"covered {line['covered_today_pct']:g} % of today; {len(gaps)} gap(s)"
    )
    if gaps:
        longest = max(gaps, key=lambda g: g["minutes"])
        text += f", longest {longest['minutes']:g} min from {longest['start']:%H:%M} UTC"
    if line["refused_symbols"]:
        text += f"; refused by the venue: {', '.join(line['refused_symbols'])}"
    return text
