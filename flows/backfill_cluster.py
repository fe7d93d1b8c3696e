"""A backfill's heavy work as Dask tasks (LIQBRIEF_DASK_ADDRESS set); see flows/cluster.py.

What fans out, and what stays in order:
- per symbol, one task: the streamed engine pass, cut into maps a chunk at a time, each
  chunk followed by that symbol's market context and records (the records chain runs in
  date order inside the task; a symbol's context needs its own maps, no other symbol's);
- per symbol, the track record (scored from the inputs, not the maps);
- one task for the macro tables of every day (no symbol in them);
- then the days' briefings, in batches of days (about eight batches per worker thread: a
  Prefect task run costs 70-96 ms of API work here, bench/scale.py), once all of the above
  are in the lake; a day that fails does not fail its batch, and a batch whose worker died goes
  out again a day per task.
Each task writes the lake itself and returns a small dict of failures by day. The tables
and briefings are the same as the single-machine path's (flows/backfill.py).
"""

from __future__ import annotations

import logging
import time
from datetime import date

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.runtime import task_run
from prefect_dask import DaskTaskRunner

from flows.backfill import DayLedger, settle_rendered, write_chunk_maps
from flows.cluster import adopt_environment, dask_runner, worker_environment
from flows.context import (
    MarketHistory,
    check_context_date,
    read_fred,
    write_macro_tables,
    write_symbol_context,
)
from flows.liqmap import model_for
from flows.render_workers import run_listings, write_briefing_of_day
from flows.validate import score_before_briefings
from liqbrief.settings import Settings
from sources.reference_calendar import load_calendar
from store.lake import Lake
from store.read_cache import Listings, snapshot_reads
from transforms.context.macro import known_vintages

CHUNK_DAYS = 16  # as flows/backfill.py: maps of this many days are cut, then their context
BATCHES_PER_WORKER = 8  # render batches per worker (see render_batches)


def _chunks(days: list[date]) -> list[list[date]]:
    return [days[i : i + CHUNK_DAYS] for i in range(0, len(days), CHUNK_DAYS)]


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def symbol_context_days(
    lake: Lake, symbol: str, days: list[date], history: MarketHistory
) -> dict[date, str]:
    """One symbol's market context and records for consecutive ``days`` in date order, each
    chained from the previous day's records while that day was written (else read from the
    lake), as ``context_for_days`` does; the error of each day that failed."""
    errors: dict[date, str] = {}
    records = None
    for day in days:
        try:
            check_context_date(lake, day, [symbol])
            records = write_symbol_context(lake, symbol, day, history, records)
        except Exception as exc:  # this day fails; the next one reads its inputs afresh
            errors[day], records = _error(exc), None
    return errors


def _chained(days: list[date]) -> list[list[date]]:
    """Runs of consecutive days (a gap breaks the records chain, as in the single path)."""
    runs: list[list[date]] = []
    for day in days:
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


@task(task_run_name="maps-and-context-{symbol}", cache_policy=NO_CACHE)
def symbol_days(symbol: str, todo: list[date], environment: dict[str, str]) -> dict[date, str]:
    """One engine pass over ``todo`` for ``symbol``: maps a chunk at a time, then the
    chunk's context; the error of each day that cannot be briefed."""
    adopt_environment(environment)
    root = Settings.from_env().lake
    with snapshot_reads(root):  # the pass, the maps and the context read the inputs once
        return _symbol_days(Lake(root), symbol, todo)


def _symbol_days(lake: Lake, symbol: str, todo: list[date]) -> dict[date, str]:
    try:
        model = model_for(lake, symbol, todo[0], todo[-1])
        history = MarketHistory(lake, symbol, todo[0], todo[-1])
    except Exception as exc:
        return dict.fromkeys(todo, f"map {symbol}: {_error(exc)}")
    errors: dict[date, str] = {}
    for chunk in _chunks(todo):
        errors |= {d: f"map {symbol}: {e}" for d, e in write_chunk_maps(model, chunk).items()}
        for run in _chained(chunk):
            for day, problem in symbol_context_days(lake, symbol, run, history).items():
                errors.setdefault(day, f"context: {problem}")
    return errors


def _span_run_name(prefix: str, parameter: str):
    """A task run's name from the first and last of its days: "<prefix>-<first>-to-<last>"."""

    def name() -> str:
        days = task_run.parameters[parameter]
        return f"{prefix}-{days[0]}-to-{days[-1]}"

    return name


@task(task_run_name=_span_run_name("macro-context", "todo"), cache_policy=NO_CACHE)
def macro_days(
    todo: list[date], symbols: list[str], environment: dict[str, str]
) -> dict[date, str]:
    """The macro context and events of every day (FRED read once); a day whose market
    inputs the lake lacks for any symbol fails, as in ``context_for_days``."""
    adopt_environment(environment)
    lake = Lake(Settings.from_env().lake)
    calendar = load_calendar()
    known = known_vintages(read_fred(lake, range(todo[0].year - 1, todo[-1].year + 1)), calendar)
    known_year = pd.to_datetime(known["date"]).dt.year
    errors: dict[date, str] = {}
    for day in todo:
        try:
            check_context_date(lake, day, symbols)
            in_years = known[known_year.between(day.year - 1, day.year).to_numpy()]
            write_macro_tables(lake, day, in_years, calendar)
        except Exception as exc:
            errors[day] = f"context: {_error(exc)}"
    return errors


@task(task_run_name="track-record-{symbol}", cache_policy=NO_CACHE)
def track_record(symbol: str, first: date, last: date, environment: dict[str, str]) -> str:
    """The symbol's track record before the briefings of [first, last] (never raises)."""
    adopt_environment(environment)
    return score_before_briefings([symbol], first, last)[symbol]


@task(task_run_name=_span_run_name("briefs", "days"), cache_policy=NO_CACHE)
def brief_batch_on_worker(
    days: list[date], symbols: list[str], environment: dict[str, str], listings: Listings
) -> dict[date, str]:
    """Build, render and write a batch of days' briefings on a worker, one after another
    (reading in a snapshot that holds the run's ``listings``); the error of each day that
    failed ("" for the others: a day never fails its batch), its traceback logged in the
    task run."""
    adopt_environment(environment)
    settings = Settings.from_env()
    outcome: dict[date, str] = {}
    for day in days:
        try:
            write_briefing_of_day(settings.lake, day, symbols, settings.reports_dir, listings)
            outcome[day] = ""
        except Exception as exc:
            _task_logger().error("briefing of %s failed", day, exc_info=True)
            outcome[day] = _error(exc)
    return outcome


def _task_logger() -> logging.Logger | logging.LoggerAdapter:
    """The task run's logger (the traceback stays in the run); the module's outside one."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def render_batches(days: list[date], slots: int) -> list[list[date]]:
    """The days cut into about BATCHES_PER_WORKER batches per worker thread: a Prefect task
    run costs 70-96 ms of API work on this 2-core machine (bench/scale.py; a task run per day
    left the cluster 22 % behind one machine, batches 7 %); enough batches remain that the
    workers finish together."""
    size = max(1, -(-len(days) // (max(slots, 1) * BATCHES_PER_WORKER)))
    return [days[i : i + size] for i in range(0, len(days), size)]


def collect_batches(pending: list, ledger: DayLedger, symbols: list[str], send: bool, resubmit) -> None:  # fmt: skip
    """Settle each day of each batch as its batch finishes (e-mailing it if asked). A batch
    whose task died (a day that kills its worker, lost too often) goes out again a day per
    task (``resubmit(days)``), so only that day fails; a re-run retries it."""
    for days, future in pending:
        try:
            outcome = future.result()
        except Exception as exc:
            if len(days) > 1:
                singles = [([day], resubmit([day])) for day in days]
                collect_batches(singles, ledger, symbols, send, resubmit)
                continue
            outcome = dict.fromkeys(days, _error(exc))
        for day in days:
            settle_rendered(day, outcome.get(day, "not rendered"), ledger, symbols, send)


def cluster_threads(runner: DaskTaskRunner) -> int:
    """The worker threads the cluster has now (an adaptive one may have grown since start)."""
    workers = runner.client.scheduler_info(n_workers=-1)["workers"].values()
    return sum(int(w.get("nthreads", 1)) for w in workers)


def prepare_days(runner: DaskTaskRunner, todo: list[date], symbols: list[str]) -> dict[date, str]:
    """Maps, context and track record of ``todo`` on the cluster; the first error of each
    day that cannot be briefed ("" for the others)."""
    environment = worker_environment()
    logger = get_run_logger()
    per_symbol = [
        runner.submit(symbol_days, {"symbol": s, "todo": todo, "environment": environment})
        for s in symbols
    ]
    macro = runner.submit(
        macro_days, {"todo": todo, "symbols": symbols, "environment": environment}
    )
    scored = {
        s: runner.submit(track_record, {"symbol": s, "first": todo[0], "last": todo[-1], "environment": environment})
        for s in symbols
    }  # fmt: skip
    errors = dict.fromkeys(todo, "")
    for what, future in [*zip(symbols, per_symbol, strict=True), ("macro context", macro)]:
        try:
            failures = future.result()
        except Exception as exc:  # the task itself died (a worker lost too often): all its days
            failures = dict.fromkeys(todo, f"{what}: {_error(exc)}")
        for day, problem in sorted(failures.items()):
            errors[day] = errors[day] or problem
    for symbol, future in scored.items():
        try:
            outcome = future.result()
        except Exception as exc:  # a briefing without a track record says so
            outcome = f"failed: {_error(exc)}"
        logger.info("track record of %s: %s", symbol, outcome)
    return errors


def brief_days_on_cluster(
    address: str, todo: list[date], symbols: list[str], send: bool, ledger: DayLedger
) -> None:
    """Maps, context and briefings of ``todo`` on the Dask cluster at ``address``."""
    logger = get_run_logger()
    clock = time.perf_counter()
    with dask_runner(address) as runner:
        ready = []
        for day, error in prepare_days(runner, todo, symbols).items():
            if error:
                ledger.settle(day, f"failed: {error}")
            else:
                ready.append(day)
        logger.info("maps and context on the cluster: %.1f s", time.perf_counter() - clock)
        environment = worker_environment()
        listings = run_listings(Settings.from_env().lake)  # the renders list nothing again

        def submit(days: list[date]):
            parameters = {"days": days, "symbols": symbols, "environment": environment, "listings": listings}  # fmt: skip
            return runner.submit(brief_batch_on_worker, parameters)

        threads = cluster_threads(runner)
        pending = [(days, submit(days)) for days in render_batches(ready, threads)]
        collect_batches(pending, ledger, symbols, send, submit)
    logger.info(
        "maps, context and briefings (Dask, %d worker threads): %.1f s",
        threads,
        time.perf_counter() - clock,
    )
