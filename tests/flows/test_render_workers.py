"""The render worker pool starts all its processes when it opens, before any briefing, and
a Ctrl-C that reaches them while they start prints nothing and kills none."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import flows.render_workers
from flows.render_workers import render_workers


def test_every_worker_starts_when_the_pool_opens() -> None:
    before = set(multiprocessing.active_children())
    with render_workers(2):
        deadline = time.monotonic() + 30
        started: set = set()
        while time.monotonic() < deadline and len(started) < 2:
            started = set(multiprocessing.active_children()) - before
            time.sleep(0.05)
        assert len(started) == 2, "the pool left a worker to start in the middle of the renders"
    assert not (set(multiprocessing.active_children()) - before), "workers outlived the pool"


def test_one_worker_means_rendering_in_process() -> None:
    before = set(multiprocessing.active_children())
    with render_workers(1):
        time.sleep(0.2)
        assert set(multiprocessing.active_children()) == before


def test_a_ctrl_c_while_workers_start_is_ignored_without_a_traceback(capfd) -> None:
    """A terminal's Ctrl-C reaches the whole process group, workers still importing too:
    each gets SIGINT within milliseconds of its spawn (long before its imports end)."""
    before = set(multiprocessing.active_children())
    with render_workers(2):
        workers = set(multiprocessing.active_children()) - before
        assert len(workers) == 2
        for worker in workers:
            os.kill(worker.pid, signal.SIGINT)
        pool = flows.render_workers._pool
        answered = {pool.submit(os.getpid).result(timeout=60) for _ in range(8)}
        assert answered <= {w.pid for w in workers} and all(w.is_alive() for w in workers)
    errors = capfd.readouterr().err
    assert "KeyboardInterrupt" not in errors and "Traceback" not in errors, errors
