"""The render worker pool starts all its processes when it opens, before any briefing."""

from __future__ import annotations

import multiprocessing
import time

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
