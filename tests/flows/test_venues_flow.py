"""The venues' REST extract flow under Prefect's test harness: one task per venue, side by
side, against the three stand-ins (real time: the bars closed so far today)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flows.venues import extract_venues
from liqbrief.testing.venue_standin import VenueStandin
from store.datasets import market_dataset
from store.lake import Lake

pytestmark = [pytest.mark.flow, pytest.mark.server]


def test_each_venue_is_stored_and_a_rerun_of_ended_days_asks_nothing(
    prefect_harness, tmp_path: Path, monkeypatch
) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    lake = Lake(str(tmp_path / "lake"))
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    with VenueStandin("bybit") as bybit, VenueStandin("okx") as okx:
        monkeypatch.setenv("LIQBRIEF_BYBIT_URL", bybit.base_url)
        monkeypatch.setenv("LIQBRIEF_OKX_URL", okx.base_url)
        reports = extract_venues(["bybit", "okx"], ["BTCUSDT"], yesterday, yesterday)
        assert {r["venue"] for r in reports} == {"bybit", "okx"}
        for report in reports:
            assert report["failures"] == [] and report["rows"]["metrics"] == 288
            ds = market_dataset(report["venue"], "mark_klines_1m")
            assert len(lake.read(ds, "BTCUSDT", yesterday, yesterday)) == 1440
        asked = bybit.total_requests + okx.total_requests
        again = extract_venues(["bybit", "okx"], ["BTCUSDT"], yesterday, yesterday)
        assert bybit.total_requests + okx.total_requests == asked
        assert all(r["days_stored"] == 0 and r["days_skipped"] == 4 for r in again)
