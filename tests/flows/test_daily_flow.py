"""The daily flow: extract, then map the latest date whose inputs are complete."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from flows.daily import EXTRACT_DATASETS, daily_briefing
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.synthetic_archive import build_archive
from store.datasets import DATASETS
from store.lake import Lake

pytestmark = [pytest.mark.flow, pytest.mark.server]


def test_daily_maps_the_latest_complete_date_when_yesterday_is_missing(
    prefect_harness, mirror: ArchiveMirror, tmp_path: Path, monkeypatch, request
) -> None:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("LIQBRIEF_BINANCE_ARCHIVE_URL", mirror.base_url)
    fred = FredServer({"DGS2": pd.DataFrame({"date": ["2024-02-08"], "value": [4.4]})}).__enter__()
    request.addfinalizer(lambda: fred.__exit__(None, None, None))
    monkeypatch.setenv("LIQBRIEF_FRED_CSV_URL", fred.base_url)
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    # the archive has everything up to 2024-02-08; 2024-02-09 is not there
    mirror.add(
        build_archive(
            ["BTCUSDT"], EXTRACT_DATASETS, date(2024, 1, 10), date(2024, 2, 8), monthly=False
        )
    )
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(tmp_path / "out"))
    result = daily_briefing(date(2024, 2, 10), ["BTCUSDT"])
    assert result["mapped"] == {"BTCUSDT": date(2024, 2, 9)}
    html, pdf = (Path(p) for p in result["briefings"])
    assert html.name == "liqbrief-2024-02-09.html" and pdf.read_bytes().startswith(b"%PDF")
    import asyncio

    from prefect.client.orchestration import get_client

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts()

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
