"""The briefing draws its price path and open-interest chart from the chart series its
context stored: the same points the raw inputs give, and a context written before chart
series existed is refused with what to run, not drawn without charts."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.briefing import load_briefing_inputs
from reports.briefing import BriefingDataError
from store.datasets import DATASETS
from tests.conftest import demo_lake
from transforms.context.chart_series import OI_HISTORY_DAYS, PRICE_PATH_DAYS, hourly_path
from transforms.context.market import daily_closing_oi

pytestmark = pytest.mark.server

DAY = date(2024, 3, 6)
SYMBOL = "BTCUSDT"


def test_the_charts_points_are_the_raw_inputs_points_and_an_old_context_is_refused(
    tmp_path: Path,
) -> None:
    lake = demo_lake(tmp_path / "lake", DAY, [SYMBOL], history_days=35)
    inputs = load_briefing_inputs(lake, DAY, [SYMBOL])
    yesterday = DAY - timedelta(days=1)
    metrics = lake.read(DATASETS["metrics"], SYMBOL, DAY - timedelta(days=OI_HISTORY_DAYS), yesterday)  # fmt: skip
    klines = lake.read(DATASETS["klines_5m"], SYMBOL, DAY - timedelta(days=PRICE_PATH_DAYS), yesterday)  # fmt: skip
    expected_oi, expected_path = daily_closing_oi(metrics), hourly_path(klines)
    assert len(expected_oi) >= 30 and len(expected_path) == 24 * PRICE_PATH_DAYS
    drawn_oi, drawn_path = inputs.oi_history[SYMBOL], inputs.price_paths[SYMBOL]
    assert list(drawn_oi["day"]) == list(expected_oi["day"])
    np.testing.assert_array_equal(drawn_oi["oi_usd"].to_numpy(), expected_oi["oi_usd"].to_numpy())
    assert list(pd.to_datetime(drawn_path["time"], utc=True)) == list(expected_path["time"])
    np.testing.assert_array_equal(drawn_path["close"].to_numpy(), expected_path["close"].to_numpy())

    lake.delete_day(DATASETS["chart_series"], SYMBOL, DAY)  # a context of an older liqbrief
    with pytest.raises(
        BriefingDataError, match=r"no chart series .* run `liqbrief context --date 2024-03-06"
    ):
        load_briefing_inputs(lake, DAY, [SYMBOL])
