"""The daily flow: extract, then map the latest date whose inputs are complete."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from flows.daily import daily_briefing
from liqbrief.testing.archive_mirror import ArchiveMirror
from store.datasets import DATASETS
from store.lake import Lake

pytestmark = [pytest.mark.flow, pytest.mark.server]


def test_daily_maps_the_latest_complete_date_when_yesterday_is_missing(
    prefect_harness, mirror: ArchiveMirror, daily_sources: Path, monkeypatch
) -> None:
    tmp_path = daily_sources  # the archive has everything up to 2024-02-08; 2024-02-09 is not there
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(tmp_path / "out"))
    state = daily_briefing(date(2024, 2, 10), ["BTCUSDT"], return_state=True)
    result, run_id = state.result(), state.state_details.flow_run_id
    assert result["mapped"] == {"BTCUSDT": date(2024, 2, 9)}
    html, pdf = (Path(p) for p in result["briefings"])
    assert html.name == "liqbrief-2024-02-09.html" and pdf.read_bytes().startswith(b"%PDF")
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def artifacts():  # this run's own (other flow tests share the harness's database)
        only_this_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=only_this_run)

    found = {a.key: a for a in asyncio.run(artifacts()) if a.key}
    assert "If BTC drops below" in found["daily-headline"].data
    assert found["daily-briefing-pdf"].data.endswith("liqbrief-2024-02-09.pdf)")
    lake = Lake(str(tmp_path / "lake"))
    summary = lake.read(DATASETS["liqmap_summary"], "BTCUSDT", date(2024, 2, 9), date(2024, 2, 10))
    assert set(summary["date"].astype(str)) == {"2024-02-09"}
    row = summary.set_index("window").loc["30d"]
    assert row["oi_missing_bars"] == 0 and row["long_total_usd"] > 0
    assert (
        len(lake.read(DATASETS["liqmap_heatmap"], "BTCUSDT", date(2024, 2, 9), date(2024, 2, 9)))
        > 0
    )
    # the track record: the day before the briefing scored (nothing realised: NaN and ""),
    # the briefing date's summaries written, the briefing rendered all the same
    scored = lake.read(DATASETS["validation"], "BTCUSDT", date(2024, 2, 8), date(2024, 2, 8))
    assert len(scored) == 4 and (scored["covered_hours"] == 0).all()
    assert (scored["realised_source"] == "").all() and scored["top_precision"].isna().all()
    track = lake.read(DATASETS["validation_summary"], "BTCUSDT", date(2024, 2, 9), date(2024, 2, 9))
    assert len(track) == 8 and (track["days_scored"] == 0).all()
    # a second run downloads nothing new and maps the same date again, replacing it
    mirror.requests.clear()
    assert daily_briefing(date(2024, 2, 10), ["BTCUSDT"])["mapped"] == {"BTCUSDT": date(2024, 2, 9)}
    assert mirror.zip_requests() == []  # only the still-missing day is asked for again
    asked = [path for path, _ in mirror.requests if path != "/"]  # "/" is the reachability probe
    assert asked and all("2024-02-09" in path for path in asked)


def test_the_smtp_password_can_come_from_a_prefect_secret_block(
    prefect_harness, monkeypatch
) -> None:
    from prefect.blocks.system import Secret

    from delivery.smtp import SmtpSettings

    Secret(value="from-a-block").save("liqbrief-smtp-test", overwrite=True)
    monkeypatch.setenv("LIQBRIEF_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LIQBRIEF_DESK_TO", "desk@example.com")
    monkeypatch.delenv("LIQBRIEF_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("LIQBRIEF_SMTP_PASSWORD_BLOCK", "liqbrief-smtp-test")
    settings = SmtpSettings.from_env()
    assert settings.password_value() == "from-a-block" and "from-a-block" not in repr(settings)


def test_a_symbol_without_inputs_does_not_cost_the_others_their_briefing(
    prefect_harness, daily_sources: Path, monkeypatch
) -> None:
    """The archive has no ETHUSDT files: BTCUSDT is still briefed, and the run fails after
    it, naming ETHUSDT and the briefing it made (a cron job still alerts)."""
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(daily_sources / "out"))
    state = daily_briefing(date(2024, 2, 9), ["BTCUSDT", "ETHUSDT"], send=False, return_state=True)
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert message.startswith("ETHUSDT: no complete day of inputs in the 30 days before 2024-02-09")
    pdf = daily_sources / "out" / "2024-02-09" / "liqbrief-2024-02-09.pdf"
    assert f"(briefed BTCUSDT without it: {pdf})" in message
    assert pdf.read_bytes().startswith(b"%PDF")
    lake = Lake(str(daily_sources / "lake"))
    assert (
        len(lake.read(DATASETS["liqmap_summary"], "BTCUSDT", date(2024, 2, 9), date(2024, 2, 9)))
        == 3
    )
