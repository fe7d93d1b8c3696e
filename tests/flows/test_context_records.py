"""Records have one code path: D's records are the same whether D − 1's records are stored
(chained) or missing (folded over the lake with the same per-day values)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from flows.context import symbol_context
from flows.liqmap import build_liquidation_maps
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import demo_lake

pytestmark = pytest.mark.server

SYMBOL = "BTCUSDT"
DAY = date(2024, 1, 6)


def records_bytes(lake: Lake, day: date) -> bytes:
    return Path(lake.data_path(DATASETS["records"], SYMBOL, day)).read_bytes()


def forget_records(lake: Lake, days: list[date]) -> None:
    for day in days:
        path = Path(lake.ledger_path(DATASETS["records"], SYMBOL, day))
        path.unlink(missing_ok=True)


def test_records_chained_and_folded_are_identical(tmp_path: Path, monkeypatch) -> None:
    lake = demo_lake(tmp_path / "lake", DAY, [SYMBOL], history_days=12)
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    days = [DAY - timedelta(days=k) for k in (3, 2, 1, 0)]
    build_liquidation_maps.fn(SYMBOL, days[0], DAY, "none")
    forget_records(lake, days)
    for day in days:  # the first folds, the others chain from the day before
        symbol_context.fn(SYMBOL, day)
    chained = records_bytes(lake, DAY)

    forget_records(lake, days)  # D − 1 missing: D folds over the whole lake
    symbol_context.fn(SYMBOL, DAY)
    assert records_bytes(lake, DAY) == chained
    records = lake.read(DATASETS["records"], SYMBOL, DAY, DAY).set_index("metric")
    assert records.loc["quote_volume_24h", "days"] == 12  # every day with a 24 h volume
    assert pd.notna(records.loc["quote_volume_24h", "value"])
