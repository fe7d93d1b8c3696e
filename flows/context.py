"""The context flow: FRED → lake, then market context, macro context and records for a date.

Every table is as of the briefing date D (00:00 UTC): only rows before D, only macro values
known by then.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.runtime import task_run

from liqbrief.settings import Settings
from liqbrief.symbols import coin_of
from sources.errors import SourceError
from sources.fred import SERIES, FredClient, merge_observations
from sources.reference_calendar import load_calendar
from sources.retry_policy import RetryPolicy
from store.datasets import DATASETS
from store.lake import Lake, days_between
from store.ledger import LedgerEntry
from transforms.context.chart_series import OI_HISTORY_DAYS, PRICE_PATH_DAYS, chart_series
from transforms.context.macro import (
    calendar_warning,
    known_vintages,
    macro_context_known,
    upcoming_events,
)
from transforms.context.market import known_bars, market_context, market_wide
from transforms.context.records import (
    BINANCE_KEYS,
    MARKET_WIDE_KEYS,
    Key,
    fold_records,
    realised_values,
    record_values,
    records_by_key,
    update_records,
)

MACRO_SYMBOL = "US"  # macro tables are not per instrument; they live under symbol=US
MARKET_INPUTS = ("klines_5m", "metrics")  # a context needs both for the day before D


class ContextDateError(ValueError):
    """A context asked for a date whose inputs cannot be in the lake (after today, or after
    the lake's last day): nothing is written. A failure (exit 1), not a usage error, unless
    the date is after today, which the CLI can also refuse as a bad --date (exit 2)."""


def check_context_date(
    lake: Lake, day: date, symbols: list[str], today: date | None = None
) -> None:
    """Refuse a date after today (UTC), or one whose previous day the lake lacks for a
    symbol (after its last data, before its first, or in a gap): its context would be empty."""
    today = today or datetime.now(UTC).date()
    if day > today:
        raise ContextDateError(
            f"context for {day}: that date is after today ({today}, UTC); "
            f"a context describes 00:00 UTC of a date up to today — use --date {today} or earlier"
        )
    needed = day - timedelta(days=1)
    for symbol in symbols:
        for name in MARKET_INPUTS:
            if lake.ingested_days(DATASETS[name], symbol, [needed]):
                continue  # one day asked for, no listing of the dataset's history
            stored = lake.stored_days(DATASETS[name], symbol)
            held = f"holds {stored[0]} … {stored[-1]}" if stored else "is empty"
            raise ContextDateError(
                f"context for {day}: it needs {symbol} {name} of {needed}, and the lake {held}; "
                f"run `liqbrief extract --symbols {symbol} --start {needed} --end {needed}` "
                "first (nothing was written)"
            )


def _write(lake: Lake, name: str, symbol: str, day: date, frame: pd.DataFrame, source: str) -> None:
    ds = DATASETS[name]
    table = pa.Table.from_pandas(frame[ds.schema.names], schema=ds.schema, preserve_index=False)
    entry = LedgerEntry(
        venue=ds.venue, dataset=name, symbol=symbol, date=day.isoformat(), source_url=source,
        source_sha256="", rows=table.num_rows, duplicates_dropped=0, missing_rows=0,
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    lake.write_day(ds, day, table, entry)


# -- FRED ---------------------------------------------------------------------------------
def store_fred_series(lake: Lake, client: FredClient, series: str, start: date, end: date) -> int:
    """Fetch whole years of one series and merge them into their yearly partitions: rows
    the answer lacks stay as stored (see ``merge_observations``)."""
    first, last = date(start.year, 1, 1), date(end.year, 12, 31)
    fetched = client.observations(series, first, last)  # raises before anything is written
    source = "FRED API" if client.api_key else f"{client.csv_url}/graph/fredgraph.csv?id={series}"
    ds = DATASETS["fred_observations"]
    years = pd.Series([d.year for d in fetched["date"]], index=fetched.index)
    for year in sorted(set(years)):
        partition = date(year, 1, 1)
        stored = _fred_dates(lake.read(ds, series, partition, partition))
        merged = merge_observations(stored, fetched[years == year])
        _write(lake, "fred_observations", series, partition, merged, source)
    return len(fetched)


def _fred_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """The lake's date columns as ``datetime.date`` (None where missing)."""
    out = frame.copy()
    for column in ("date", "realtime_start", "realtime_end"):
        out[column] = [v if v is None or isinstance(v, date) else pd.Timestamp(v).date()
                       if pd.notna(v) else None for v in out[column]]  # fmt: skip
    return out


def read_fred(lake: Lake, years: range) -> pd.DataFrame:
    ds = DATASETS["fred_observations"]
    parts = [
        lake.read(ds, series, date(y, 1, 1), date(y, 1, 1)).assign(series=series)
        for series in SERIES
        for y in years
    ]
    return _fred_dates(pd.concat(parts, ignore_index=True))


@task(task_run_name="extract-fred-{start}-{end}")
def extract_fred(start: date, end: date) -> dict[str, str]:
    """Each series on its own: one that fails is reported and the others are still stored.
    If FRED cannot be reached at all, the remaining series are skipped rather than retried."""
    settings = Settings.from_env()
    lake = Lake(settings.lake)
    outcome: dict[str, str] = {}
    unreachable = False
    with httpx.Client(timeout=30) as http:
        retry = RetryPolicy(attempts=settings.http_attempts)
        client = FredClient(
            http, settings.fred_api_url, settings.fred_csv_url, settings.fred_api_key, retry
        )
        for series in SERIES:
            if unreachable:
                outcome[series] = "failed: skipped, FRED unreachable"
                continue
            try:
                outcome[series] = (
                    f"{store_fred_series(lake, client, series, start, end)} observations"
                )
            except SourceError as exc:
                outcome[series] = f"failed: {exc}"
                unreachable = isinstance(exc.__cause__, httpx.TransportError)
    return outcome


# -- Coinglass ------------------------------------------------------------------------------
COINGLASS_DAILY = (
    "oi_aggregated_1d", "liquidations_binance_1d", "liquidations_all_1d", "funding_oi_weighted_1d",
)  # fmt: skip


def fetch_market_wide(symbols: list[str]) -> dict[str, str]:
    """Bring the symbols' Coinglass series up to date (nothing without COINGLASS_API_KEY).
    Never raises: a series the plan lacks, a bad key or a failure is one warning each (a
    refused key once, not once per series it stopped), and
    the tables use what the lake has (NaN, or no market-wide records, without it)."""
    from flows.coinglass import coinglass_problem_lines, extract_coinglass

    logger = get_run_logger()
    outcomes = extract_coinglass(symbols)
    if "coinglass" in outcomes:  # no key: Binance only, as configured
        logger.info("Coinglass: %s", outcomes["coinglass"])
    for line in coinglass_problem_lines(outcomes):
        logger.warning("%s", line)
    return outcomes


def read_coinglass_daily(lake: Lake, coin: str, last: date) -> dict[str, pd.DataFrame]:
    """The coin's Coinglass daily bars of every stored monthly partition up to ``last``, by
    dataset name, sorted by time (the records need them all; one read per dataset)."""
    frames = {}
    for name in COINGLASS_DAILY:
        ds = DATASETS[name]
        stored = lake.stored_days(ds, coin)
        frames[name] = (
            lake.read(ds, coin, stored[0], last) if stored else ds.schema.empty_table().to_pandas()
        )
    return frames


def bars_before(frames: dict[str, pd.DataFrame], day: date) -> dict[str, pd.DataFrame]:
    """The bars dated D − 1 of each frame (the values at 00:00 UTC of D)."""
    lo, hi = (pd.Timestamp(d, tz="UTC") for d in (day - timedelta(days=1), day))
    out = {}
    for name, frame in frames.items():
        times = frame["time"]
        out[name] = frame.iloc[times.searchsorted(lo) : times.searchsorted(hi)]
    return out


# -- context tables -----------------------------------------------------------------------
WINDOW_DAYS = 8  # market context reads the 8 days before D (7-day changes need the 8th)
MARKET_DATASETS = ("metrics", "klines_5m", "funding_rate")
# how far before a range's first date each input is read: the context's window, and for
# open interest the chart series' 90 days
HISTORY_DAYS = {
    "metrics": max(WINDOW_DAYS, OI_HISTORY_DAYS),
    "klines_5m": max(WINDOW_DAYS, PRICE_PATH_DAYS),
    "funding_rate": WINDOW_DAYS,
}


class MarketHistory:
    """A symbol's market inputs for a range of dates, read once; each date's context is
    computed from the slice of the ``WINDOW_DAYS`` days before it (one path for the window,
    whether one date is computed or a backfill's many). The Coinglass daily bars are read
    whole, once: the dates' market-wide values, the check of D − 1's market-wide records
    and their fold all slice them. Without ``market_wide`` they are not read (the Binance
    records' fold needs none)."""

    def __init__(
        self, lake: Lake, symbol: str, first: date, last: date, market_wide: bool = True
    ) -> None:
        self.lake, self.symbol, self.coin = lake, symbol, coin_of(symbol)
        end = last - timedelta(days=1)
        self.frames = {
            name: lake.read(DATASETS[name], symbol, first - timedelta(days=days), end)
            for name, days in HISTORY_DAYS.items()
        }
        self.coinglass = read_coinglass_daily(lake, self.coin, end) if market_wide else {}
        self._known: dict[Key, tuple[np.ndarray, np.ndarray]] = {}
        self._year_starts: dict[int, pd.DataFrame] = {}

    def window(self, name: str, day: date, days: int = WINDOW_DAYS) -> pd.DataFrame:
        """Rows of ``name`` from 00:00 UTC of D − ``days`` to before 00:00 UTC of D."""
        frame = self.frames[name]
        times = frame[DATASETS[name].time_column]
        lo, hi = (pd.Timestamp(d, tz="UTC") for d in (day - timedelta(days=days), day))
        return frame.iloc[times.searchsorted(lo, side="left") : times.searchsorted(hi, side="left")]

    def chart_series(self, day: date) -> pd.DataFrame:
        """D's chart series (the hourly close of the week before D, the daily open interest
        of the 90 days before D), sliced from the history read once."""
        week = self.window("klines_5m", day, PRICE_PATH_DAYS)
        return chart_series(day, self.symbol, week, self.window("metrics", day, OI_HISTORY_DAYS))

    def year_start(self, year: int) -> pd.DataFrame:
        if year not in self._year_starts:
            span = (date(year, 1, 1), date(year, 1, 7))
            self._year_starts[year] = self.lake.read(DATASETS["klines_5m"], self.symbol, *span)
        return self._year_starts[year]

    def market(self, day: date) -> pd.DataFrame:
        return market_context(
            day, self.symbol, *(self.window(name, day) for name in MARKET_DATASETS),
            self.year_start(day.year), coinglass=bars_before(self.coinglass, day),
        )  # fmt: skip

    def realised_history(self, last: date, keys: list[Key]) -> list[tuple[date, dict[Key, float]]]:
        """The market-wide record values of ``keys`` for every day from the first Coinglass
        daily bar's close to ``last`` (<= the range's last date), as a chained day computes
        them."""
        frames = self.coinglass
        firsts = [f["time"].iloc[0].date() for f in frames.values() if len(f)]
        if not firsts:
            return []
        days = days_between(min(firsts) + timedelta(days=1), last)
        values = (realised_values(market_wide(d, math.nan, bars_before(frames, d))) for d in days)
        return [(d, {k: v[k] for k in keys}) for d, v in zip(days, values, strict=True)]

    def known_values(self, key: Key, day: date) -> np.ndarray:
        """The sorted values a record of market-wide ``key`` as of ``day`` holds by the lake's
        bars: those dated before ``day`` (closed by its 00:00 UTC) with a value; vectorised,
        no fold."""
        if key not in self._known:
            self._known[key] = known_bars(self.coinglass, MARKET_WIDE_KEYS[key])
        times, values = self._known[key]
        return np.sort(values[: int(np.searchsorted(times, np.datetime64(day, "ns")))])

    def record_values(self, day: date, market: pd.DataFrame) -> dict[Key, float]:
        """D's record metrics; D's map is read on its own, so one bad map fails one day."""
        summary = self.lake.read(DATASETS["liqmap_summary"], self.symbol, day, day)
        return record_values(market, summary)


def _stored_records(lake: Lake, symbol: str, day: date) -> pd.DataFrame | None:
    """``day``'s stored records, or None when the lake has none."""
    ds = DATASETS["records"]
    if not lake.ingested_days(ds, symbol, [day]):
        return None
    stored = lake.read(ds, symbol, day, day)
    stored["date"] = pd.to_datetime(stored["date"]).dt.date
    for column in ("all_time_date", "ytd_date"):
        stored[column] = [pd.Timestamp(v).date() if pd.notna(v) else None for v in stored[column]]
    return stored


def folded_records(lake: Lake, symbol: str, day: date) -> pd.DataFrame | None:
    """Binance's records as of ``day`` folded over every earlier day the lake has, each day's
    values from its market context and map exactly as a chained day would compute them (the
    market-wide rows: ``with_market_wide_history``)."""
    stored = lake.stored_days(DATASETS["klines_5m"], symbol)
    if not stored or stored[0] >= day:
        return None
    days = days_between(stored[0] + timedelta(days=1), day)
    lake.note_absent_days(DATASETS["liqmap_summary"], symbol, days)  # one listing, not a GET a day
    history = MarketHistory(lake, symbol, days[0], day, market_wide=False)
    values = ((d, history.record_values(d, history.market(d))) for d in days)
    return fold_records(((d, {k: v[k] for k in BINANCE_KEYS}) for d, v in values), symbol)


def with_market_wide_history(
    previous: pd.DataFrame | None, history: MarketHistory, day: date
) -> pd.DataFrame | None:
    """D − 1's records with each market-wide row that disagrees with the lake's bars folded
    anew over every Coinglass daily bar before D: a row they lack while the lake has bars (a
    first run with a key, records from before one), or one whose history holds other values
    than the lake's bars (bars that came after D − 1's records were made: a failed fetch that
    morning, a plan giving earlier bars; a revised bar; a series refetched for another
    exchange list). Rows that agree are kept (no fold: a backfill's cost stays flat)."""
    yesterday = day - timedelta(days=1)
    rows = records_by_key(previous)
    held = {
        k: np.asarray(rows[k]["history"] if k in rows else [], dtype=float)
        for k in MARKET_WIDE_KEYS
    }
    stale = [
        k
        for k in MARKET_WIDE_KEYS
        if not np.array_equal(held[k], history.known_values(k, yesterday))
    ]
    if not stale:
        return previous
    if previous is not None:
        keys = zip(previous["venue"], previous["metric"], strict=True)
        previous = previous[[k not in stale for k in keys]].reset_index(drop=True)
        previous = previous if len(previous) else None
    values = history.realised_history(yesterday, stale)
    folded = fold_records(values, history.symbol, required=())
    if folded is None:
        return previous
    return folded if previous is None else pd.concat([previous, folded], ignore_index=True)


def write_symbol_context(
    lake: Lake, symbol: str, day: date, history: MarketHistory, previous: pd.DataFrame | None
) -> pd.DataFrame:
    """Write D's market context and records, chained from D − 1's records (``previous`` if
    the caller holds them, else the lake's, else folded over the lake). Returns D's records."""
    market = history.market(day)
    _write(lake, "market_context", symbol, day, market, "liqbrief:market-context")
    _write(lake, "chart_series", symbol, day, history.chart_series(day), "liqbrief:chart-series")
    yesterday = day - timedelta(days=1)
    if previous is None:
        previous = _stored_records(lake, symbol, yesterday)
    if previous is None:
        previous = folded_records(lake, symbol, yesterday)
    previous = with_market_wide_history(previous, history, day)
    records = update_records(previous, history.record_values(day, market), day, symbol)
    _write(lake, "records", symbol, day, records, "liqbrief:records")
    return records


def write_symbols_context(
    lake: Lake,
    day: date,
    histories: dict[str, MarketHistory],
    previous: dict[str, pd.DataFrame | None],
) -> dict[str, pd.DataFrame]:
    """``write_symbol_context`` of each symbol of ``histories`` for D; each symbol's records
    chain is its own, so on an object store they are written concurrently."""

    def one(symbol: str) -> pd.DataFrame:
        return write_symbol_context(lake, symbol, day, histories[symbol], previous[symbol])

    return dict(zip(histories, lake.each(one, list(histories)), strict=True))


@task(task_run_name="context-{symbol}-{day}")
def symbol_context(symbol: str, day: date) -> dict[str, int]:
    lake = Lake(Settings.from_env().lake)
    records = write_symbol_context(lake, symbol, day, MarketHistory(lake, symbol, day, day), None)
    return {"market_context": 1, "records": len(records)}


def _range_run_name() -> str:
    days = task_run.parameters["days"]
    return f"context-{days[0]}-to-{days[-1]}"


@task(task_run_name=_range_run_name)
def context_for_days(days: list[date], symbols: list[str]) -> dict[date, str]:
    """Context tables for many days in date order, each input read once (a backfill):
    the same tables as ``symbol_context`` and ``macro_tables`` day by day. Returns the error
    of each day that failed; the others are written."""
    lake = Lake(Settings.from_env().lake)
    calendar = load_calendar()
    known = known_vintages(read_fred(lake, range(days[0].year - 1, days[-1].year + 1)), calendar)
    known_year = pd.to_datetime(known["date"]).dt.year
    histories = {symbol: MarketHistory(lake, symbol, days[0], days[-1]) for symbol in symbols}
    records: dict[str, pd.DataFrame | None] = dict.fromkeys(symbols)
    failures: dict[date, str] = {}
    for i, day in enumerate(days):
        chained = i > 0 and days[i - 1] == day - timedelta(days=1) and days[i - 1] not in failures
        try:
            check_context_date(lake, day, symbols)
            previous = records if chained else dict.fromkeys(symbols)
            records = write_symbols_context(lake, day, histories, previous)
            years = _fred_years(day)
            in_years = known[known_year.between(years.start, years.stop - 1).to_numpy()]
            write_macro_tables(lake, day, in_years, calendar)
        except Exception as exc:  # this day fails; the next one reads its inputs afresh
            failures[day] = f"{type(exc).__name__}: {exc}"
    return failures


def _fred_years(day: date) -> range:
    return range(day.year - 1, day.year + 1)


@task(task_run_name="macro-context-{day}")
def macro_tables(day: date) -> list[str]:
    lake = Lake(Settings.from_env().lake)
    calendar = load_calendar()
    known = known_vintages(read_fred(lake, _fred_years(day)), calendar)
    return write_macro_tables(lake, day, known, calendar)


def write_macro_tables(
    lake: Lake, day: date, known: pd.DataFrame, calendar: pd.DataFrame
) -> list[str]:
    """Macro context and events for ``day`` from ``known_vintages`` of the FRED
    observations of ``_fred_years(day)``; returns the warnings to show."""
    macro = macro_context_known(known, calendar, day, SERIES)
    events = upcoming_events(calendar, day)
    _write(lake, "macro_context", MACRO_SYMBOL, day, macro, "liqbrief:macro-context")
    _write(lake, "macro_events", MACRO_SYMBOL, day, events, "data/events/calendar.csv")
    return macro_warnings(macro, day) + [w for w in [calendar_warning(calendar, day)] if w]


def macro_warnings(macro: pd.DataFrame, day: date) -> list[str]:
    """Stale or missing series, and values that are later revisions than D knew."""
    warnings = [
        f"{r.series}: no value known on {day}"
        if r.obs_date is None or pd.isna(r.obs_date)
        else f"{r.series}: last value from {r.obs_date}, stale"
        for r in macro.itertuples()
        if r.stale
    ]
    revised = macro.loc[macro["latest_revision"], "series"].tolist()
    if revised:
        warnings.append(
            f"{', '.join(revised)}: latest-revision values fetched after {day} (the keyless "
            "CSV has no vintages); set FRED_API_KEY for the values known then"
        )
    return warnings


@flow(name="context")
def context(
    day: date, symbols: list[str], fetch_macro: bool = True, fetch_coinglass: bool = True
) -> dict:
    """Market context and records per symbol, and the macro context, for date ``day``.
    Raises ContextDateError, before anything is fetched or written, for a date after today
    or after the lake's data."""
    check_context_date(Lake(Settings.from_env().lake), day, symbols)
    logger = get_run_logger()
    coinglass = fetch_market_wide(symbols) if fetch_coinglass else {}
    if fetch_macro:  # a series that fails is used as the lake has it, flagged stale if old
        for series, outcome in extract_fred(day - timedelta(days=400), day).items():
            if outcome.startswith("failed"):
                logger.warning("FRED %s %s; using stored values", series, outcome)
    result = {symbol: symbol_context(symbol, day) for symbol in symbols}
    warnings = macro_tables(day)
    for warning in warnings:
        logger.warning("macro: %s", warning)
    return result | {"macro_warnings": warnings, "coinglass": coinglass}
