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
