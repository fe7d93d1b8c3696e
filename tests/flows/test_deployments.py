"""`liqbrief serve` runs the same daily-briefing deployment as prefect.yaml declares."""

from __future__ import annotations

import yaml

from liqbrief.cli import daily_deployment
from tests.conftest import PROJECT_ROOT


def test_serve_runs_the_daily_deployment_of_prefect_yaml() -> None:
    declared = {
        d["name"]: d
        for d in yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"]
    }["daily-briefing"]
    served = daily_deployment()
    assert served.name == declared["name"]
    assert served.entrypoint == declared["entrypoint"] == "flows/daily.py:daily_briefing"
    assert served.parameters == declared["parameters"]
    assert served.concurrency_limit == declared["concurrency_limit"] == 1
    (schedule,) = served.schedules
    assert schedule.schedule.cron == declared["schedules"][0]["cron"] == "0 7 * * *"
    assert schedule.schedule.timezone == declared["schedules"][0]["timezone"] == "UTC"


def test_the_backfill_deployment_takes_the_dask_address_as_a_job_variable(monkeypatch) -> None:
    """Deployed without LIQBRIEF_DASK_ADDRESS the variable is empty (one machine); with it,
    the runs get the scheduler's address (as `prefect deploy` fills the placeholders)."""
    from prefect.utilities.templating import apply_values

    from liqbrief.settings import Settings

    declared = {
        d["name"]: d
        for d in yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"]
    }["backfill"]["work_pool"]["job_variables"]
    monkeypatch.delenv("LIQBRIEF_DASK_ADDRESS", raising=False)
    unset = apply_values(declared, {})["env"]["LIQBRIEF_DASK_ADDRESS"]
    monkeypatch.setenv("LIQBRIEF_DASK_ADDRESS", unset)
    assert unset == "" and Settings.from_env().dask_address is None
    monkeypatch.setenv("LIQBRIEF_DASK_ADDRESS", "tcp://10.0.0.5:8786")
    deployed = apply_values(declared, {})["env"]["LIQBRIEF_DASK_ADDRESS"]
    assert deployed == "tcp://10.0.0.5:8786" == Settings.from_env().dask_address
