"""A Dask cluster for a flow's fan-out (LIQBRIEF_DASK_ADDRESS), through prefect-dask.

The flows keep their own task runner for the small work; the heavy tasks (an engine pass
per symbol, the days' renders) are submitted to a ``DaskTaskRunner`` opened here, so the
single-machine path is untouched when no address is set. Each Dask task still is a
Prefect task run (state, retries, logs). Workers read and write the lake themselves;
tasks take and return paths, dates and small dicts. A worker imports the renderers once,
when it joins (``WarmWorker``), not per task.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from distributed.diagnostics.plugin import WorkerPlugin
from prefect_dask import DaskTaskRunner

from flows.spawning import sigint_blocked
from liqbrief.settings import SECRET_NAMES

CONNECT_SECONDS = 5.0  # how long the scheduler has to answer before the run is refused


class ClusterUnreachableError(RuntimeError):
    """No Dask scheduler answers at LIQBRIEF_DASK_ADDRESS (the message says what to do)."""


class WarmWorker(WorkerPlugin):
    """Import the engine and the renderers (matplotlib, WeasyPrint, fonts) once per worker,
    when it starts or joins, so no task pays for it."""

    name = "liqbrief-warm-worker"

    def setup(self, worker) -> None:
        import weasyprint  # noqa: F401

        import flows.briefing
        import flows.liqmap  # noqa: F401
        import reports.render  # noqa: F401


def scheduler_problem(address: str) -> str | None:
    """Why a tcp://host:port scheduler cannot be reached, or None if something answers."""
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def require_scheduler(address: str) -> None:
    """Refuse an address where no scheduler answers, before any work starts."""
    if address == "local":
        return
    problem = scheduler_problem(address)
    if problem:
        raise ClusterUnreachableError(
            f"LIQBRIEF_DASK_ADDRESS={address!r}: no Dask scheduler answers there ({problem}); "
            f"start one (`dask scheduler`, then `dask worker {address}`) or unset "
            "LIQBRIEF_DASK_ADDRESS to run on this machine"
        )


def local_cluster_kwargs() -> dict:
    """A LocalCluster sized to the machine: one single-threaded worker process per core
    (rendering holds the GIL), no dashboard port."""
    return {
        "n_workers": os.cpu_count() or 1,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
    }


def task_runner(address: str) -> DaskTaskRunner:
    if address == "local":
        return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs())
    return DaskTaskRunner(address=address, client_kwargs={"timeout": f"{CONNECT_SECONDS}s"})


@contextmanager
def dask_runner(address: str) -> Iterator[DaskTaskRunner]:
    """A started DaskTaskRunner on ``address`` ("local" or tcp://host:port), its workers
    warmed up (the plugin also reaches workers that join later). A LocalCluster's workers,
    and those its nannies restart later (from its event loop's threads), start deaf to a
    Ctrl-C (flows/spawning.py): the CLI stops them."""
    require_scheduler(address)
    with ExitStack() as stack:
        with sigint_blocked():
            runner = stack.enter_context(task_runner(address))
            client = runner.client  # made on first use, with the LocalCluster if "local"
        client.register_plugin(WarmWorker(), name=WarmWorker.name)
        yield runner


def worker_environment() -> dict[str, str]:
    """The run's LIQBRIEF_* settings (no secrets), shipped with each task so the workers use
    the same lake, reports directory and chart format as the flow."""
    return {
        name: value
        for name, value in os.environ.items()
        if name.startswith("LIQBRIEF_") and name not in SECRET_NAMES
    }


def adopt_environment(environment: dict[str, str]) -> None:
    """Make the run's settings this worker's (every task of a run carries the same ones)."""
    for name in [n for n in os.environ if n.startswith("LIQBRIEF_") and n not in environment]:
        if name not in SECRET_NAMES:
            del os.environ[name]
    os.environ.update(environment)
