"""The backfill flow: many past days in one flow run, each day's briefing a task.

Order of work: bring the lake's inputs up to date once (no download at all when the lake
already has every input; FRED and Coinglass each fetched once for the whole range); run the liquidation-map engine once over the range (one pass);
score the days before the briefings against what was liquidated (the track record, one
pass per model variant; a failure is only logged);
then, a chunk of days at a time, write the chunk's maps cut from that pass and its context
tables in date order (records chain from the previous day; each input read once per chunk),
and hand the chunk's briefings to worker processes, which render while the next chunk is
prepared. E-mail only when asked. A day whose PDF exists is complete and skipped unless
``force``, so a re-run after a crash resumes where it stopped. A day whose map, context or
briefing fails is not written, does not stop the others, and is retried by a re-run; the
run ends Failed and names it.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.task_runners import ThreadPoolTaskRunner

from flows.briefing import briefing_complete, list_briefing_inputs
from flows.context import MACRO_SYMBOL, context_for_days, extract_fred, fetch_market_wide
from flows.delivery import email_briefing
from flows.extract import DEFAULT_DATASETS, ExtractIncompleteError, extract
from flows.liqmap import MapModel, map_model, write_maps_of
from flows.render_workers import render, render_workers, run_listings
from flows.validate import score_before_briefings
from liqbrief import progress
from liqbrief.settings import Settings
from liqbrief.symbols import Symbol
from sources.errors import SourceError
from store.artefacts import ArtefactStore
from store.datasets import DATASETS
from store.lake import Lake, days_between
from store.read_cache import snapshot_reads
from transforms.liqmap.passes import pass_start

# what a backfill writes a day of per symbol: listed over the run's range once (fresh days)
WRITTEN_PER_SYMBOL = ("liqmap_bins", "market_context", "chart_series", "records", "validation", "validation_summary")  # fmt: skip
TASK_THREADS = 4  # threads only wait on render workers; the workers bound the CPU use
CHUNK_DAYS = 16  # maps and context of this many days are computed, then their renders start


class BackfillFailedError(RuntimeError):
    """Some days failed; the others were completed."""


def complete_days(days: list[date], reports_dir: str) -> set[date]:
    """Days whose briefing is done (two metadata calls a day, no listing)."""
    store = ArtefactStore(reports_dir)
    return {d for d in days if briefing_complete(store, d)}


class DayLedger:
    """Each day's outcome, with the progress bar (days) and the progress artifact kept in step."""

    def __init__(self, days: list[date], done_before: set[date]) -> None:
        self.days = days
        self.status: dict[date, str] = dict.fromkeys(sorted(done_before), "skipped")
        progress.report("total", len(days))
        progress.report("advance", len(done_before))
        self.artifact: UUID = create_progress_artifact(
            len(done_before) / len(days) * 100, description="backfill: days done"
        )

    def settle(self, day: date, outcome: str) -> None:
        self.status[day] = outcome
        progress.report("advance", 1)
        update_progress_artifact(self.artifact, len(self.status) / len(self.days) * 100)

    def failed(self) -> list[str]:
        return [f"{d}: {s}" for d, s in sorted(self.status.items()) if s.startswith("failed")]


def lake_has_inputs(lake: Lake, symbols: list[str], first: date, last: date) -> bool:
    """Whether every archive dataset of every symbol is stored for every day of [first, last]."""
    days = days_between(first, last)
    return all(
        len(lake.ingested_days(DATASETS[name], symbol, days)) == len(days)
        for symbol in symbols
        for name in DEFAULT_DATASETS
    )


def bring_inputs_up_to_date(symbols: list[str], todo: list[date]) -> None:
    """Download what the map warm-up and the days need, unless the lake has it all (then the
    archive is not contacted); an archive problem leaves the affected days to fail alone."""
    logger = get_run_logger()
    first, last = pass_start(todo[0] - timedelta(days=1)), todo[-1] - timedelta(days=1)
    if lake_has_inputs(Lake(Settings.from_env().lake), symbols, first, last):
        logger.info(
            "the lake holds every archive input of %s..%s: nothing to download", first, last
        )
    else:
        try:
            with progress.silenced():  # the bar counts days, not the extract's files
                extract(symbols, first, last)
        except (ExtractIncompleteError, SourceError) as exc:
            logger.warning("continuing with what the lake has: %s", exc)
    extract_fred(todo[0] - timedelta(days=400), todo[-1])  # a failing series is only reported
    fetch_market_wide(symbols)  # each Coinglass series once for the whole range (all its days)


def list_days_to_write(symbols: list[str], todo: list[date]) -> None:
    """One listing of each table the run writes over its range, in the run's snapshot (on
    an object store): writing a fresh day then deletes no old record (there is none)."""
    lake = Lake(Settings.from_env().lake)
    span = days_between(todo[0] - timedelta(days=1), todo[-1])  # the scoring starts a day early
    tables = [(name, s) for s in symbols for name in WRITTEN_PER_SYMBOL]
    tables += [(name, MACRO_SYMBOL) for name in ("macro_context", "macro_events")]
    lake.each(lambda table: lake.note_absent_days(DATASETS[table[0]], table[1], span), tables)


def build_models(
    symbols: list[str], todo: list[date]
) -> tuple[dict[str, MapModel], dict[str, str]]:
    """One engine pass per symbol over the days to do; the error of each symbol that failed."""
    models, errors = {}, {}
    for symbol in symbols:
        try:
            models[symbol] = map_model(symbol, todo[0], todo[-1])
        except Exception as exc:
            errors[symbol] = f"{type(exc).__name__}: {exc}"
    return models, errors


def write_chunk_maps(model: MapModel, chunk: list[date]) -> dict[date, str]:
    """Write the chunk's maps (if that fails, day by day, so only the days that cannot be
    written fail); the error of each day without a map: its write failed, or it has no
    fresh price or open interest (the engine's reason)."""
    try:
        return write_maps_of(model, chunk)
    except Exception:
        errors = {}
        for day in chunk:
            try:
                errors |= write_maps_of(model, [day])
            except Exception as exc:
                errors[day] = f"{type(exc).__name__}: {exc}"
        return errors


def prepare_chunk(
    chunk: list[date], symbols: list[str], models: dict[str, MapModel], model_errors: dict[str, str]
) -> dict[date, str]:
    """Maps and context tables for a chunk of days (in date order); the error of each day
    that cannot be rendered, "" for the others. A day missing any symbol's map fails (and is
    retried by a re-run) rather than being rendered without it."""
    errors = {day: "" for day in chunk}
    for symbol in symbols:
        if symbol in model_errors:
            failed = dict.fromkeys(chunk, model_errors[symbol])
        else:
            failed = write_chunk_maps(models[symbol], chunk)
        for day, problem in failed.items():
            errors[day] = errors[day] or f"map {symbol}: {problem}"
    try:
        context_failures = context_for_days(chunk, symbols)
    except Exception as exc:
        context_failures = dict.fromkeys(chunk, f"{type(exc).__name__}: {exc}")
    for day, error in context_failures.items():
        errors[day] = errors[day] or f"context: {error}"
    return errors


@task(task_run_name="brief-{day}")
def brief_day(day: date, symbols: list[str]) -> str:
    settings = Settings.from_env()
    listings = run_listings(settings.lake)  # what the run listed: the render asks no more
    return render(settings.lake, day, symbols, settings.reports_dir, listings)


def collect(pending: dict, ledger: DayLedger, symbols: list[str], send: bool, wait: bool) -> None:
    """Record the briefings that are rendered (all of them if ``wait``), e-mail them if asked,
    and move the progress on as they finish, not only at the end."""
    for day in list(pending):
        if not wait and not pending[day].wrapped_future.done():
            continue
        try:
            pending.pop(day).result()
            error = ""
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        settle_rendered(day, error, ledger, symbols, send)


def settle_rendered(day: date, error: str, ledger: DayLedger, symbols: list[str], send: bool) -> None:  # fmt: skip
    """A rendered day is done once e-mailed (if asked); a day that failed says why."""
    if error:
        ledger.settle(day, f"failed: {error}")
        return
    try:
        if send:
            email_briefing(day, symbols)
        ledger.settle(day, "done")
    except Exception as exc:
        ledger.settle(day, f"failed: {type(exc).__name__}: {exc}")


def mail_earlier_days(ledger: DayLedger, symbols: list[str]) -> None:
    """Days an earlier run finished may not have gone out yet: it was interrupted, its
    sending failed, or it ran without --send (the sent-ledger skips whoever has them)."""
    for day in [d for d, s in sorted(ledger.status.items()) if s == "skipped"]:
        try:
            email_briefing(day, symbols)
        except Exception as exc:
            ledger.status[day] = f"failed: e-mail: {type(exc).__name__}: {exc}"


def brief_days(
    todo: list[date], symbols: list[str], send: bool, ledger: DayLedger, workers: int
) -> None:
    """Maps, context and briefings of ``todo``, a chunk at a time, rendered in workers."""
    logger = get_run_logger()
    clock = time.perf_counter()
    list_days_to_write(symbols, todo)
    models, model_errors = build_models(symbols, todo)
    logger.info("liquidation model: %.1f s", time.perf_counter() - clock)
    track_record = score_before_briefings(symbols, todo[0], todo[-1])  # never raises
    logger.info("track record: %s (%.1f s)", track_record, time.perf_counter() - clock)
    pending: dict = {}
    with render_workers(workers):  # the workers start up while the first chunk is mapped
        for start_at in range(0, len(todo), CHUNK_DAYS):
            chunk = todo[start_at : start_at + CHUNK_DAYS]
            for day, error in prepare_chunk(chunk, symbols, models, model_errors).items():
                if error:
                    ledger.settle(day, f"failed: {error}")
                else:
                    pending[day] = brief_day.submit(day, symbols)
            collect(pending, ledger, symbols, send, wait=False)
        collect(pending, ledger, symbols, send, wait=True)
    logger.info(
        "maps, context and briefings (render workers: %d): %.1f s",
        workers,
        time.perf_counter() - clock,
    )


def publish_summary(ledger: DayLedger, title: str) -> dict[str, list[str]]:
    """The summary-table artifact; raises BackfillFailedError naming the failed days."""
    update_progress_artifact(ledger.artifact, 100.0)
    create_table_artifact(
        [{"day": d.isoformat(), "status": ledger.status.get(d, "failed: not reached")} for d in ledger.days],
        key="backfill-summary",
        description=title,
    )  # fmt: skip
    failed = ledger.failed()
    if failed:
        raise BackfillFailedError(
            f"{len(failed)} of {len(ledger.days)} day(s) failed (a re-run retries them):\n  "
            + "\n  ".join(failed)
        )
    summary: dict[str, list[str]] = {"done": [], "skipped": []}
    for d, s in sorted(ledger.status.items()):
        summary["done" if s == "done" else "skipped"].append(d.isoformat())
    return summary


@flow(name="backfill", task_runner=ThreadPoolTaskRunner(max_workers=TASK_THREADS))
def backfill(
    start: date,
    end: date,
    symbols: list[Symbol] | None = None,
    send: bool = False,
    force: bool = False,
) -> dict[str, list[str]]:
    """Briefings for every day in [start, end] (e-mailed only if ``send``)."""
    if end < start:
        raise ValueError(f"backfill {start}..{end}: the end is before the start")
    symbols = symbols or ["BTCUSDT"]
    settings = Settings.from_env()
    days = days_between(start, end)
    done_before = set() if force else complete_days(days, settings.reports_dir)
    ledger = DayLedger(days, done_before)
    todo = [d for d in days if d not in done_before]
    if todo and settings.dask_address:
        from flows.cluster import require_scheduler

        require_scheduler(settings.dask_address)  # before anything is fetched or written
    if send:  # also when every day is complete: a send that failed, or a run without --send
        mail_earlier_days(ledger, symbols)
    if todo:
        # the inputs check, the engine pass, the scoring and the context read each day once
        with snapshot_reads(settings.lake):
            clock = time.perf_counter()
            bring_inputs_up_to_date(symbols, todo)
            get_run_logger().info("extract: %.1f s", time.perf_counter() - clock)
            list_briefing_inputs(Lake(settings.lake), symbols)  # handed to every render
            if settings.dask_address:
                from flows.backfill_cluster import brief_days_on_cluster

                brief_days_on_cluster(settings.dask_address, todo, symbols, send, ledger)
            else:
                workers = settings.render_workers if len(todo) >= 2 * settings.render_workers else 1
                brief_days(todo, symbols, send, ledger, workers)
    return publish_summary(ledger, f"backfill {start}..{end} {', '.join(symbols)}")
