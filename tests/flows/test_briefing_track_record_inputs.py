"""What the briefing step reads for the track record: the validation summary dated D (its
rows score D − 30 … D − 1), and D − 1's realised liquidations, coverage and map — nothing of
D or later, and a line naming the `liqmap` to run when D − 1 has liquidations but no map."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from flows.briefing import load_briefing_inputs
from flows.liqmap import build_liquidation_maps
from liqbrief.testing import track_record as tr
from reports.briefing import build_briefing
from reports.track_record import track_record_block
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import demo_lake

pytestmark = pytest.mark.server
DAY = date(2024, 3, 6)
SYMBOL = "BTCUSDT"


WRITTEN: dict[date, pd.DataFrame] = {}  # the liquidations the fixture stored, by day


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    """A demo lake mapped on DAY only, with summaries and liquidations around it."""
    root = tmp_path_factory.mktemp("inputs") / "lake"
    lake = demo_lake(root, DAY, [SYMBOL], history_days=35)
    p0 = float(lake.read(DATASETS["liqmap_summary"], SYMBOL, DAY, DAY)["p0"].iloc[0])
    for offset in (-1, 0, 1):
        day = DAY + timedelta(days=offset)
        tr.write_validation_summary(lake, SYMBOL, day, [tr.summary_row("exact", 30, 20 + offset)])
    for offset in (-2, -1, 0):
        day = DAY + timedelta(days=offset)
        WRITTEN[day] = tr.realised_day(day, p0, 30 + offset, 10 + offset)
        tr.write_realised(lake, SYMBOL, day, WRITTEN[day], 12.0)
    return lake


def test_only_the_dates_summary_and_yesterdays_liquidations_are_read(lake: Lake) -> None:
    inputs = load_briefing_inputs(lake, DAY, [SYMBOL])
    summary = inputs.validation[SYMBOL]
    assert summary["date"].tolist() == [DAY]
    assert summary["top_precision"].iloc[0] == tr.summary_row("exact", 30, 20)["top_precision"]
    realised = inputs.realised[SYMBOL]
    assert realised.day == DAY - timedelta(days=1) and len(realised.liquidations) == 29
    assert set(realised.liquidations["liq_id"]) == set(WRITTEN[realised.day]["liq_id"])
    assert realised.coverage["start"].min() == pd.Timestamp(realised.day, tz="UTC")
    assert realised.coverage["end"].max() == pd.Timestamp(realised.day, tz="UTC") + pd.Timedelta(
        hours=12
    )


def test_liquidations_without_yesterdays_map_name_the_liqmap_to_run(
    lake: Lake, tmp_path: Path, monkeypatch
) -> None:
    yesterday = DAY - timedelta(days=1)
    briefing = build_briefing(load_briefing_inputs(lake, DAY, [SYMBOL]), charts_on=False)
    section = briefing.sections[0]
    assert section.overlay_svg == ""
    assert section.overlay_note == (
        f"29 realised liquidations recorded for {yesterday}, but no map of that date to compare "
        f"— run `liqbrief liqmap --symbols {SYMBOL} --start {yesterday} --end {yesterday}`."
    )
    monkeypatch.setenv("LIQBRIEF_LAKE", lake.root)
    build_liquidation_maps.fn(SYMBOL, yesterday, yesterday, "none")
    realised = load_briefing_inputs(lake, DAY, [SYMBOL]).realised[SYMBOL]
    summary = lake.read(DATASETS["liqmap_summary"], SYMBOL, yesterday, yesterday)
    assert realised.p0 == float(summary.set_index("window").loc["7d", "p0"])
    assert set(realised.bins["window"]) == {"7d"} and set(realised.bins["date"]) == {yesterday}


def test_realised_data_without_the_dates_summary_mark_the_symbol_unvalidated(lake: Lake) -> None:
    """A validation that failed leaves no summary of D while liquidations of D − 30 … D − 1 are
    stored: page 1 must name the validate to run, not tell the user to start the recorder."""
    assert load_briefing_inputs(lake, DAY, [SYMBOL]).unvalidated == set()  # summary stored
    later = DAY + timedelta(days=2)  # no summary; liquidations of DAY − 2 … DAY in its window
    inputs = load_briefing_inputs(lake, later, [SYMBOL])
    assert inputs.validation[SYMBOL].empty and inputs.unvalidated == {SYMBOL}
    _, lines = track_record_block(inputs.symbols, inputs.validation, later, inputs.unvalidated)
    assert lines[0].startswith("BTC: track record not computed for this date")
    assert f"--start {later - timedelta(days=30)} --end {later - timedelta(days=1)}`" in lines[0]
    far = DAY + timedelta(days=40)  # nothing realised in its 30 days: start the recorder
    assert load_briefing_inputs(lake, far, [SYMBOL]).unvalidated == set()
