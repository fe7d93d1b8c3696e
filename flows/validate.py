"""The validate flow: score each day's map and estimate against what was liquidated, and
keep the track record (`validation` and `validation_summary` datasets) in the lake.

One task per symbol scores a whole range: one engine pass per model variant (the exact
model and its ablations) per calendar month of the range, from the month's pass start as
its maps are, not one per day. Each day's rows (one per variant) replace that day's
partition atomically, so a re-run rewrites the same bytes' worth of rows and never
duplicates. The summaries as of D are computed from the stored rows of [D − 90, D − 1]
after the range is written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache, partial

import pandas as pd
import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.liqmap import read_days
from liqbrief.settings import Settings
from liqbrief.symbols import coin_of
from sources.reference_data import load_brackets, load_tier_mix
from store.datasets import DATASETS, Dataset
from store.lake import Lake, days_between
from store.ledger import LedgerEntry
from store.realised import days_with_data, read_coverage, read_realised
from transforms.liqmap.config import ModelConfig
from transforms.liqmap.engine import NotEnoughDataError
from transforms.liqmap.passes import MonthlyPasses, by_month, pass_start
from transforms.liqmap.track_record import (
    ABLATIONS,
    Evidence,
    score_days_streamed,
    variant_config,
)
from transforms.liqmap.track_summary import SUMMARY_WINDOWS, rolling_summaries

VENUE = "binance"  # the only venue with maps today
VALIDATION_SOURCE = "liqbrief:validate"
RECORDER_HINT = (
    "start the recorder with `liqbrief record` (or set COINGLASS_API_KEY for Coinglass's "
    "daily totals), then validate the days it covers"
)


class ValidationInputError(RuntimeError):
    """A range cannot be scored: no map inputs, or nothing realised (the message says why)."""


def _coinglass(lake: Lake, name: str, coin: str, start: date, end: date) -> pd.DataFrame:
    """Coinglass bars opening in [start, end] (monthly partitions, dated the 1st)."""
    bars = lake.read(DATASETS[name], coin, start.replace(day=1), end)
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end + timedelta(days=1), tz="UTC")
    return bars[(bars["time"] >= lo) & (bars["time"] < hi)].reset_index(drop=True)


def read_evidence(lake: Lake, symbol: str, start: date, end: date) -> Evidence:
    """What the lake knows was liquidated on the venue in [start, end]."""
    coin = coin_of(symbol)
    return Evidence(
        read_realised(lake, VENUE, symbol, start, end),
        read_coverage(lake, VENUE, symbol, start, end),
        _coinglass(lake, "liquidations_binance_1d", coin, start, end),
        _coinglass(lake, "liquidations_binance_4h", coin, start, end),
    )


def has_evidence(lake: Lake, symbol: str, start: date, end: date) -> bool:
    """Whether anything realised is stored for the range (cheap: listings, one bar read)."""
    days = set(days_between(start, end))
    if days & set(days_with_data(lake, VENUE, symbol)):
        return True
    if len(read_coverage(lake, VENUE, symbol, start, end)):
        return True
    return len(_coinglass(lake, "liquidations_binance_1d", coin_of(symbol), start, end)) > 0


def no_evidence_line(symbols: list[str], start: date, end: date) -> str:
    return (
        f"no realised liquidations stored for {', '.join(symbols)} on {VENUE} in "
        f"{start}..{end} (no recorded or archive rows, no coverage, no Coinglass daily bars): "
        + RECORDER_HINT
    )


def score_range(lake: Lake, symbol: str, start: date, end: date) -> pd.DataFrame:
    """Validation rows of every day in [start, end] and every model variant."""
    brackets, _ = load_brackets(symbol)
    base = ModelConfig(tiers=load_tier_mix())
    evidence = read_evidence(lake, symbol, start, end)
    read = lru_cache(maxsize=1)(partial(read_days, lake, symbol))  # a month's, once
    configs = {model: variant_config(base, model) for model in ABLATIONS}
    passes = {  # each month from its own pass, as its maps are (transforms/liqmap/passes.py)
        model: MonthlyPasses(read, brackets, config, symbol, end)  # end: through its path
        for model, config in configs.items()
    }
    frames, unscored = [], {}
    for month, days in by_month(days_between(start, end)):
        try:
            month_frames = [
                score_days_streamed(
                    passes[model].of_month(month),
                    config,
                    days,
                    evidence,
                    symbol=symbol,
                    model=model,
                )
                for model, config in configs.items()
            ]
        except NotEnoughDataError as exc:
            unscored[month] = (days, str(exc))
            continue
        frames.extend(month_frames)
    if unscored:
        _report_unscored(symbol, unscored, bool(frames))
    return pd.concat(frames, ignore_index=True)


def _report_unscored(
    symbol: str, unscored: dict[date, tuple[list[date], str]], scored_any: bool
) -> None:
    """A month without inputs is skipped with a warning; no month at all is an error."""
    first = min(days[0] for days, _ in unscored.values())
    last = max(days[-1] for days, _ in unscored.values())
    why = next(iter(unscored.values()))[1]
    line = (
        f"cannot score {symbol} {first}..{last}: {why}; run `liqbrief extract --symbols "
        f"{symbol} --start {pass_start(first)} --end {last}` first"
    )
    if not scored_any:
        raise ValidationInputError(line)
    get_run_logger().warning(line)


def _entry(ds: Dataset, symbol: str, day: date, rows: int, fingerprint: str) -> LedgerEntry:
    return LedgerEntry(
        venue=ds.venue, dataset=ds.name, symbol=symbol, date=day.isoformat(),
        source_url=VALIDATION_SOURCE, source_sha256="", rows=rows, duplicates_dropped=0,
        missing_rows=0, ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config_fingerprint=fingerprint,
    )  # fmt: skip


def write_days(lake: Lake, ds: Dataset, symbol: str, frame: pd.DataFrame) -> int:
    """Replace each date's partition with the frame's rows of that date (one atomic write
    per date; the dates are independent, so concurrent on an object store); returns the
    rows written."""
    fingerprint = ModelConfig(tiers=load_tier_mix()).fingerprint()
    table = pa.Table.from_pandas(frame[ds.schema.names], schema=ds.schema, preserve_index=False)
    days = frame["date"].to_numpy()

    def write_date(day: date) -> None:
        rows = table.filter(pa.array(days == day))
        lake.write_day(ds, day, rows, _entry(ds, symbol, day, rows.num_rows, fingerprint))

    lake.each(write_date, sorted(set(frame["date"])))
    return table.num_rows


def summaries_as_of(lake: Lake, symbol: str, first: date, last: date) -> pd.DataFrame:
    """The rolling summaries as of every date in [first, last], from the stored rows."""
    window = max(SUMMARY_WINDOWS)
    rows = lake.read(DATASETS["validation"], symbol, first - timedelta(days=window), last)
    return rolling_summaries(rows, days_between(first, last), symbol=symbol, venue=VENUE)


@task(task_run_name="validate-{symbol}-{start}-{end}", cache_policy=NO_CACHE)
def validate_symbol(symbol: str, start: date, end: date) -> dict:
    """Score [start, end] for one symbol, store the rows, then the summaries as of
    [start + 1, end + 1] (each summary pools only the days before its date)."""
    lake = Lake(Settings.from_env().lake)
    rows = score_range(lake, symbol, start, end)
    written = write_days(lake, DATASETS["validation"], symbol, rows)
    first, last = start + timedelta(days=1), end + timedelta(days=1)
    summaries = summaries_as_of(lake, symbol, first, last)
    write_days(lake, DATASETS["validation_summary"], symbol, summaries)
    exact = rows[rows["model"] == "exact"]
    return {
        "days": len(exact),
        "price_level_days": int((exact["top_bins"] > 0).sum()),
        "time_level_days": int((exact["time_realised_source"] != "").sum()),
        "rows": written,
        "summaries": f"{first}..{last}",
    }


def score_before_briefings(symbols: list[str], first: date, last: date) -> dict[str, str]:
    """For briefings dated [first, last]: score [first − 1, last − 1] and write the
    summaries as of each briefing date. Never raises (a briefing without a track record
    says so); returns each symbol's outcome."""
    logger = get_run_logger()
    outcome = {}
    for symbol in symbols:
        try:
            result = validate_symbol(symbol, first - timedelta(days=1), last - timedelta(days=1))
            outcome[symbol] = f"{result['price_level_days']} day(s) scored at price level"
        except Exception as exc:
            outcome[symbol] = f"failed: {type(exc).__name__}: {exc}"
            logger.warning("track record of %s not updated: %s", symbol, exc)
    return outcome


def failure_message(symbol: str, exc: Exception) -> str:
    """One symbol's failure in a line: our input errors say what to run; others name the
    symbol and the error (details in the Prefect run)."""
    if isinstance(exc, ValidationInputError):
        return str(exc)
    first = (str(exc).strip() or "no message").splitlines()[0]
    return f"{symbol}: {type(exc).__name__}: {first}"


@flow(name="validate")
def validate(symbols: list[str], start: date, end: date) -> dict[str, dict]:
    """Score every day of [start, end] for each symbol and store the track record. Each
    symbol is scored on its own: one that fails ({"error": line}) stops none of the others."""
    logger = get_run_logger()
    results = {}
    for symbol in symbols:
        try:
            results[symbol] = validate_symbol(symbol, start, end)
        except Exception as exc:
            results[symbol] = {"error": failure_message(symbol, exc)}
            logger.warning("validate %s %s..%s failed: %s", symbol, start, end, exc)
    logger.info("validate %s..%s: %s", start, end, results)
    return results
