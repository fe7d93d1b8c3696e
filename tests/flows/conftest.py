"""Fixtures of the flow tests that run the daily job against loopback sources."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from flows.daily import EXTRACT_DATASETS
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.synthetic_archive import build_archive

ARCHIVE_LAST_DAY = date(2024, 2, 8)  # the mirror has every daily file up to here, none after


@pytest.fixture
def daily_sources(mirror: ArchiveMirror, tmp_path: Path, monkeypatch, request) -> Path:
    """A scratch lake (tmp_path/lake) fed by the archive mirror (2024-01-02 .. 2024-02-08,
    daily files only: from the pass start of February's maps) and a loopback FRED with one DGS2 value; returns tmp_path."""
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("LIQBRIEF_BINANCE_ARCHIVE_URL", mirror.base_url)
    fred = FredServer({"DGS2": pd.DataFrame({"date": ["2024-02-08"], "value": [4.4]})}).__enter__()
    request.addfinalizer(lambda: fred.__exit__(None, None, None))
    monkeypatch.setenv("LIQBRIEF_FRED_CSV_URL", fred.base_url)
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    mirror.add(
        build_archive(
            ["BTCUSDT"], EXTRACT_DATASETS, date(2024, 1, 2), ARCHIVE_LAST_DAY, monthly=False
        )
    )
    return tmp_path
