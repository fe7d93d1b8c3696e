"""The backfill flow: many past days in one flow run, each day's briefing a task.

Order of work: extract the whole range once; run the liquidation-map engine once over the
range (one pass); then, a chunk of days at a time, write the chunk's maps cut from that pass
and its context tables in date order (records chain from the previous day; each input read
once per chunk), and hand the chunk's briefings to worker processes, which render while the
next chunk is prepared. E-mail only when asked. A day whose PDF exists is complete and
skipped unless ``force``, so a re-run after a crash resumes where it stopped. A failed day
does not stop the others; the run ends Failed and names it.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.task_runners import ThreadPoolTaskRunner

from flows.briefing import briefing_paths
from flows.context import context_for_days, extract_fred
from flows.delivery import email_briefing
from flows.extract import ExtractIncompleteError, extract
from flows.liqmap import WARMUP_DAYS, MapModel, map_model, write_maps_of
from flows.render_workers import render, render_workers
from liqbrief import progress
from liqbrief.settings import Settings
from store.lake import days_between

TASK_THREADS = 4  # threads only wait on render workers; the workers bound the CPU use
CHUNK_DAYS = 16  # maps and context of this many days are computed, then their renders start


class BackfillFailedError(RuntimeError):
    """Some days failed; the others were completed."""


def complete_days(days: list[date], reports_dir: str) -> set[date]:
    return {d for d in days if all(p.exists() for p in briefing_paths(reports_dir, d))}


def prepare_chunk(
    chunk: list[date], symbols: list[str], models: dict[str, MapModel]
) -> dict[date, str]:
    """Maps and context tables for a chunk of days (in date order); the error of each day
    that cannot be rendered, "" for the others. The maps are cut from the range's one
    engine pass, so they equal `liqmap` over the range, and are written a chunk at a time so
    rendering starts after the first chunk, not the year."""
    logger = get_run_logger()
    for symbol, model in models.items():
        try:
            write_maps_of(model, chunk)
        except Exception as exc:  # the briefing says the map is missing and what to run
            logger.error("maps for %s %s..%s failed: %s", symbol, chunk[0], chunk[-1], exc)
    try:
        failures = context_for_days(chunk, symbols)
    except Exception as exc:
        failures = dict.fromkeys(chunk, f"{type(exc).__name__}: {exc}")
    return {day: f"context: {failures[day]}" if day in failures else "" for day in chunk}


@task(task_run_name="brief-{day}")
def brief_day(day: date, symbols: list[str]) -> str:
    settings = Settings.from_env()
    return render(settings.lake, day, symbols, settings.reports_dir)


@flow(name="backfill", task_runner=ThreadPoolTaskRunner(max_workers=TASK_THREADS))
def backfill(
    start: date,
    end: date,
    symbols: list[str] | None = None,
    send: bool = False,
    force: bool = False,
) -> dict[str, list[str]]:
    """Briefings for every day in [start, end] (e-mailed only if ``send``)."""
    symbols = symbols or ["BTCUSDT"]
    logger = get_run_logger()
    settings = Settings.from_env()
    days = days_between(start, end)
    done_before = set() if force else complete_days(days, settings.reports_dir)
    todo = [d for d in days if d not in done_before]
    status: dict[date, str] = {d: "skipped" for d in done_before}
    progress.report("total", len(days))
    progress.report("advance", len(done_before))
    artifact = create_progress_artifact(
        len(done_before) / len(days) * 100, description="backfill: days done"
    )
    if todo:
        clock = time.perf_counter()
        try:
            extract(
                symbols, todo[0] - timedelta(days=WARMUP_DAYS + 1), todo[-1] - timedelta(days=1)
            )
        except ExtractIncompleteError as exc:
            logger.warning("continuing with what the lake has: %s", exc)
        extract_fred(todo[0] - timedelta(days=400), todo[-1])
        logger.info("extract: %.1f s", time.perf_counter() - clock)
        clock = time.perf_counter()
        models = {}
        for symbol in symbols:
            try:
                models[symbol] = map_model(symbol, todo[0], todo[-1])
            except Exception as exc:  # every day of this symbol will say its map is missing
                logger.error("liquidation model for %s failed: %s", symbol, exc)
        logger.info("liquidation model: %.1f s", time.perf_counter() - clock)
        clock = time.perf_counter()
        pending = {}
        finished = len(done_before)

        def settle(day: date, outcome: str) -> None:
            nonlocal finished
            status[day] = outcome
            finished += 1
            progress.report("advance", 1)
            update_progress_artifact(artifact, finished / len(days) * 100)

        def collect(wait: bool) -> None:
            """Record the briefings that are rendered (all of them if ``wait``), e-mail them
            if asked, and move the progress on as they finish, not only at the end."""
            for day in list(pending):
                if not wait and not pending[day].wrapped_future.done():
                    continue
                try:
                    pending.pop(day).result()
                    if send:
                        email_briefing(day, symbols)
                    settle(day, "done")
                except Exception as exc:
                    settle(day, f"failed: {type(exc).__name__}: {exc}")

        workers = settings.render_workers if len(todo) >= 2 * settings.render_workers else 1
        with render_workers(workers):  # the workers start up while the first chunk is mapped
            if send:  # days finished by an earlier, interrupted run may not have gone out yet
                for day in sorted(done_before):  # the sent-ledger skips whoever already has it
                    try:
                        email_briefing(day, symbols)
                    except Exception as exc:
                        status[day] = f"failed: e-mail: {type(exc).__name__}: {exc}"
            for start_at in range(0, len(todo), CHUNK_DAYS):
                chunk = todo[start_at : start_at + CHUNK_DAYS]
                for day, error in prepare_chunk(chunk, symbols, models).items():
                    if error:
                        settle(day, f"failed: {error}")
                    else:
                        pending[day] = brief_day.submit(day, symbols)
                collect(wait=False)
            logger.info("maps and context: %.1f s", time.perf_counter() - clock)
            collect(wait=True)
        logger.info(
            "maps, context and briefings (%d render workers): %.1f s",
            workers,
            time.perf_counter() - clock,
        )
    update_progress_artifact(artifact, 100.0)
    create_table_artifact(
        [{"day": d.isoformat(), "status": status.get(d, "failed: not reached")} for d in days],
        key="backfill-summary",
        description=f"backfill {start}..{end} {', '.join(symbols)}",
    )
    failed = [f"{d}: {s}" for d, s in sorted(status.items()) if s.startswith("failed")]
    if failed:
        raise BackfillFailedError(
            f"{len(failed)} of {len(days)} day(s) failed:\n  " + "\n  ".join(failed)
        )
    summary = {"done": [], "skipped": []}
    for d, s in sorted(status.items()):
        summary["done" if s == "done" else "skipped"].append(d.isoformat())
    return summary
