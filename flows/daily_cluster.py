"""The daily job's maps on a Dask cluster (LIQBRIEF_DASK_ADDRESS set): one engine pass per
symbol, the symbols at once, each on a worker that writes the lake itself and returns only
the dates it could not map. The context and the briefing (one day) stay in the flow."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.cluster import adopt_environment, dask_runner, worker_environment
from flows.liqmap import build_liquidation_maps


@task(task_run_name="liqmap-{symbol}-{day}", cache_policy=NO_CACHE)
def map_day_on_worker(symbol: str, day: date, environment: dict[str, str]) -> dict[date, str]:
    """``day``'s map of ``symbol`` (heatmap included) written to the lake; the dates
    without a map, with the reason."""
    adopt_environment(environment)
    return build_liquidation_maps.fn(symbol, day, day, heatmaps="last")["missing"]


def maps_on_cluster(address: str, days: dict[str, date]) -> dict[str, dict[date, str]]:
    """Each symbol's map of its date, the symbols in parallel; what is missing per symbol."""
    environment = worker_environment()
    with dask_runner(address) as runner:
        futures = {
            symbol: runner.submit(
                map_day_on_worker, {"symbol": symbol, "day": day, "environment": environment}
            )
            for symbol, day in days.items()
        }
        return {symbol: future.result() for symbol, future in futures.items()}
