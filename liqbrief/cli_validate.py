"""`liqbrief validate`: score a range of days against what was liquidated, store the track
record and print, per symbol, the exact model beside its ablations (or strict JSON).

With nothing realised stored for the range it prints one line saying how to start the
recorder and exits 1: the command could not do what it was asked, and a script must see it.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated

import typer

from liqbrief.cli_params import (
    EndOpt,
    StartOpt,
    SymbolsOpt,
    checked_range,
    mappable_from,
    today,
    yesterday,
)
from liqbrief.json_output import strict_json
from liqbrief.settings import Settings

DEFAULT_DAYS = 30


class Venue(StrEnum):
    """Venues with liquidation maps (only Binance USDⓈ-M today)."""

    binance = "binance"


def scored_range(start: date | None, end: date | None) -> tuple[date, date]:
    """[start, end] of days that have ended (default: the 30 days before today)."""
    end_day = end or yesterday()
    if end_day >= today():
        raise typer.BadParameter(
            f"{end_day} has not ended yet: a day is scored once it is over; use --end "
            f"{yesterday()} or earlier",
            param_hint="--end",
        )
    return checked_range(start or end_day - timedelta(days=DEFAULT_DAYS - 1), end_day)


def validate_command(
    start: StartOpt = None,
    end: EndOpt = None,
    symbols: SymbolsOpt = "BTCUSDT",
    venue: Annotated[
        Venue,
        typer.Option(
            case_sensitive=False,
            help="Venue whose maps are scored (only Binance maps exist today).",
        ),
    ] = Venue.binance,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Score each day's map and estimate against realised liquidations; store the track record.

    Price level: the 00:00 UTC map of each day against the liquidations recorded that day
    (covered hours only). Time level: the model's estimated liquidations per day and 4 h
    against Coinglass's Binance bars or recorded totals. The exact model and its ablations."""
    start_day, end_day = scored_range(start, end)
    with_coins(list(symbols))
    mappable_from(list(symbols), start_day, "--start")
    settings = Settings.from_env()
    settings.require_lake(writable=True)
    from flows.validate import has_evidence, validate
    from store.lake import Lake

    lake = Lake(settings.lake)
    bare = [s for s in symbols if not has_evidence(lake, s, start_day, end_day)]
    scored = [s for s in symbols if s not in bare]
    results = validate(scored, start_day, end_day) if scored else {}
    failed = {s: r["error"] for s, r in results.items() if "error" in r}
    report = {s: range_report(lake, s, start_day, end_day) for s in scored if s not in failed}
    if as_json and report:  # nothing scored: no JSON, the one line below
        errors = failed | {s: no_evidence(s, start_day, end_day) for s in bare}
        typer.echo(strict_json({"venue": venue.value, "start": start_day, "end": end_day, "symbols": report, "failed": errors}))  # fmt: skip
    else:
        for symbol, result in report.items():
            for line in table_lines(symbol, start_day, end_day, result["models"]):
                typer.echo(line)
    if failed or bare:
        raise ValidationFailed(failed_line(list(symbols), bare, failed, start_day, end_day))


class ValidationFailed(RuntimeError):
    """Some symbols could not be scored (the others were, and were printed)."""


def with_coins(symbols: list[str]) -> None:
    """A usage error (exit 2) for a ticker without a coin (BTC, not BTCUSDT), before anything
    runs: the track record reads Coinglass's coin-keyed bars."""
    from liqbrief.symbols import InvalidSymbolError, coin_of

    for symbol in symbols:
        try:
            coin_of(symbol)
        except InvalidSymbolError as exc:
            raise typer.BadParameter(str(exc), param_hint="--symbols") from None


def no_evidence(symbol: str, start: date, end: date) -> str:
    from flows.validate import no_evidence_line

    return no_evidence_line([symbol], start, end)


def failed_line(
    symbols: list[str], bare: list[str], failed: dict[str, str], start: date, end: date
) -> str:
    """One line for the symbols not scored: those with nothing realised stored (together,
    with how to start the recorder), then each failure's own message; with some scored,
    it says which were not."""
    from flows.validate import no_evidence_line

    parts = ([no_evidence_line(bare, start, end)] if bare else []) + list(failed.values())
    not_scored = [s for s in symbols if s in bare or s in failed]
    if len(not_scored) == len(symbols):
        return "; ".join(parts)
    scored = [s for s in symbols if s not in not_scored]
    return (
        f"{', '.join(not_scored)} not scored ({', '.join(scored)} scored and stored): "
        + "; ".join(parts)
    )


def range_report(lake, symbol: str, start: date, end: date) -> dict:
    """The stored rows of [start, end] and, per model, their summary over the range."""
    from store.datasets import DATASETS
    from transforms.liqmap.track_record import ABLATIONS
    from transforms.liqmap.track_summary import columns_of, summarise

    rows = lake.read(DATASETS["validation"], symbol, start, end)
    days = (end - start).days + 1
    models = [
        {"model": m, **summarise(columns_of(rows[rows["model"] == m]), days)} for m in ABLATIONS
    ]
    list_columns = [c for c in rows.columns if c.startswith(("est_4h", "realised_4h"))]
    for column in list_columns:
        rows[column] = [list(v) for v in rows[column]]
    return {"models": models, "days": rows.to_dict("records")}


def _pct(value: float) -> str:
    return f"{value * 100:5.1f}%" if math.isfinite(value) else "    –"


def _num(value: float, width: int = 5) -> str:
    return f"{value:{width}.2f}" if math.isfinite(value) else " " * (width - 1) + "–"


def table_lines(symbol: str, start: date, end: date, models: list[dict]) -> list[str]:
    """A compact table: one line per model variant."""
    exact = models[0]
    lines = [
        f"{symbol} binance {start}..{end}: {exact['days_scored']} day(s) scored at price level "
        f"({exact['events']:,} liquidations, coverage {exact['coverage_pct']:.1f}%), "
        f"{exact['time_days']} at time level ({exact['time_realised_source'] or 'no series'})",
        f"  {'model':<11} {'top10%':>6} {'lo95%':>6} {'base%':>6} {'near%':>6}  {'swept ρ':>7}  {'heavier':>6}  "
        f"{'ρ 1d':>5} {'[95% interval]':<14}  {'ρ 4h':>5}  {'est/real':>8}",
    ]
    for m in models:
        interval = f"[{_num(m['time_spearman_1d_lo'])}, {_num(m['time_spearman_1d_hi'])}]"
        lines.append(
            f"  {m['model']:<11} {_pct(m['top_precision'])} {_pct(m['top_precision_lower_95'])} "
            f"{_pct(m['baseline_hit_share'])} {_pct(m['nearest_hit_share'])}  "
            f"{_num(m['swept_spearman_median'], 7)}  "
            f"{_pct(m['heavier_hit_rate'])}  {_num(m['time_spearman_1d'])} {interval}  "
            f"{_num(m['time_spearman_4h'])}  {_num(m['est_to_realised_ratio'], 8)}"
        )
    return lines
