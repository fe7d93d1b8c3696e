"""Worker processes start deaf to a terminal's Ctrl-C (flows/spawning.py): render workers
and a LocalCluster's Dask workers, each in a fresh interpreter as the CLI starts them (the
first spawn there also starts multiprocessing's resource tracker, which unblocks SIGINT in
the spawning thread unless it was started first)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

SIGINT_BIT = 1 << 1  # bit (signal number − 1) of /proc/PID/status's signal masks

MASKS = """
import json, os
def masks(pid):
    status = open(f"/proc/{pid}/status").read().splitlines()
    fields = dict(line.split(":\\t") for line in status if line.startswith(("SigBlk", "SigIgn")))
    return {name: int(value, 16) for name, value in fields.items()}
"""

RENDER_WORKERS = (
    MASKS
    + """
import multiprocessing
from flows.render_workers import render_workers
if __name__ == "__main__":
    with render_workers(2):  # read at once: the workers are still importing
        print(json.dumps([masks(p.pid) for p in multiprocessing.active_children()]))
"""
)

LOCAL_CLUSTER = (
    MASKS
    + """
from flows.cluster import dask_runner
if __name__ == "__main__":
    with dask_runner("local") as runner:
        print(json.dumps(list(runner.client.run(lambda: masks(os.getpid())).values())))
"""
)


def worker_masks(script: str, tmp_path: Path) -> list[dict[str, int]]:
    path = tmp_path / "spawn_workers.py"  # a file: spawned children re-import __main__
    path.write_text(script)
    done = subprocess.run(
        [sys.executable, str(path)], cwd=PROJECT_ROOT, capture_output=True, text=True,
        timeout=180, env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_render_workers_start_with_sigint_blocked_or_ignored(tmp_path: Path) -> None:
    workers = worker_masks(RENDER_WORKERS, tmp_path)
    assert len(workers) == 2
    assert all((w["SigBlk"] | w["SigIgn"]) & SIGINT_BIT for w in workers), workers


@pytest.mark.server
def test_a_local_clusters_workers_start_with_sigint_blocked(tmp_path: Path) -> None:
    workers = worker_masks(LOCAL_CLUSTER, tmp_path)
    assert len(workers) >= 1
    assert all(w["SigBlk"] & SIGINT_BIT for w in workers), workers


def test_the_resource_tracker_says_nothing_after_a_process_exits_at_once() -> None:
    """The CLI exits at once on Ctrl-C; the tracker it started lives on, cleans up the
    semaphores left behind, and printed "leaked semaphore objects" after our one line."""
    code = (
        "import multiprocessing, os\n"
        "from flows.spawning import sigint_blocked\n"
        "with sigint_blocked():\n"
        "    lock = multiprocessing.get_context('spawn').Lock()\n"
        "os._exit(0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LIQBRIEF_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    # run() returns once the stderr pipe closes: after the tracker, which shares it, ended
    assert done.returncode == 0 and done.stderr == ""
