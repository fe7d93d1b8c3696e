"""Briefings rendered in worker processes during a backfill.

Rendering (matplotlib, WeasyPrint) is CPU-bound Python that holds the GIL, so task threads
cannot use a second core; worker processes can. The Prefect task for each day still runs
in the flow's thread pool and waits for its worker, so every day keeps its own task run,
state and error. Workers are spawned (not forked: the flow process runs threads and an event
loop) and read everything they need from their arguments and the lake. On an object store,
each render reads in a snapshot seeded with the run's listings (``run_listings``): what the
run already listed, a briefing does not list or ask for again.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date

from flows.briefing import write_briefing
from flows.spawning import sigint_blocked
from store.lake import Lake
from store.read_cache import Listings, active_snapshot, snapshot_reads

_pool: ProcessPoolExecutor | None = None


def _warm_up() -> None:
    """Import the renderers once per worker, before the first day arrives. Ctrl-C reaches
    the workers too; they ignore it (no KeyboardInterrupt traceback of their own): the CLI
    process stops them. A worker starts with SIGINT blocked (``sigint_blocked``), so one
    that came while it was still starting up is dropped here, not raised."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    import weasyprint  # noqa: F401

    import reports.render  # noqa: F401


def _started() -> None:
    """A no-op task: submitting one per worker makes the pool start them all now."""


def run_listings(lake_root: str) -> Listings:
    """The whole listings this process's run snapshot holds (none on a local lake)."""
    snapshot = active_snapshot(Lake(lake_root).root)
    return snapshot.listings() if snapshot is not None else {}


def write_briefing_of_day(
    lake_root: str,
    day: date,
    symbols: list[str],
    reports_dir: str,
    listings: Listings | None = None,
) -> str:
    """Build, render and write one day's briefing, reading in a snapshot that holds the
    run's ``listings``; the PDF's path."""
    with snapshot_reads(lake_root) as snapshot:
        if snapshot is not None and listings:
            snapshot.adopt(listings)
        _, pdf = write_briefing(Lake(lake_root), day, symbols, reports_dir)
    return str(pdf)


def render(
    lake_root: str,
    day: date,
    symbols: list[str],
    reports_dir: str,
    listings: Listings | None = None,
) -> str:
    """Render in a worker when a pool is open, else here."""
    args = (lake_root, day, symbols, reports_dir, listings)
    if _pool is None:
        return write_briefing_of_day(*args)
    return _pool.submit(write_briefing_of_day, *args).result()


@contextmanager
def render_workers(count: int) -> Iterator[None]:
    """Open a pool of ``count`` worker processes for ``render`` (none if count < 2)."""
    global _pool
    if count < 2:
        yield
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(count, mp_context=context, initializer=_warm_up) as pool:
        # The pool spawns a worker only when a task finds none idle, so the second one
        # would start (and import for ~2 s) in the middle of the first renders. Start them
        # all now: their imports overlap whatever the caller does next. They start with
        # SIGINT blocked (flows/spawning.py) until _warm_up ignores it.
        with sigint_blocked():
            for _ in range(count):
                pool.submit(_started)
        _pool = pool
        try:
            yield
        finally:
            _pool = None
