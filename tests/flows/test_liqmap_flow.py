"""The liqmap flow and the map command on a lake filled through the real ingest path."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.liqmap import liqmap
from liqbrief.cli import app
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import FAST_RETRY, lake_files

pytestmark = [pytest.mark.flow, pytest.mark.server]

DATASETS_IN = ["metrics", "klines_5m", "mark_klines_1m"]
FIRST, LAST = date(2024, 2, 4), date(2024, 2, 6)


@pytest.fixture(scope="module")
def filled_lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("liqmap") / "lake"
    files = build_archive(
        ["BTCUSDT"], DATASETS_IN, date(2024, 1, 5), date(2024, 2, 4), monthly=False
    )
    with ArchiveMirror(files) as mirror:
        report = ingest(
            Lake(str(root)),
            mirror.base_url,
            ["BTCUSDT"],
            DATASETS_IN,
            date(2024, 1, 5),
            date(2024, 2, 4),
            retry=FAST_RETRY,
            today=date(2024, 6, 1),
        )
    assert not report.problems
    return root


def test_the_flow_writes_every_date_and_a_rerun_replaces_it(
    prefect_harness, filled_lake: Path, monkeypatch
) -> None:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(filled_lake))
    lake = Lake(str(filled_lake))
    result = liqmap(["BTCUSDT"], FIRST, LAST, heatmaps="last")
    # the last date lacks the day before it (2024-02-05 was not ingested): no fresh price or
    # open interest at its snapshot, so it gets no map, only the reason
    assert result["BTCUSDT"]["dates"] == 2
    assert set(result["BTCUSDT"]["missing"]) == {LAST}
    summary = lake.read(DATASETS["liqmap_summary"], "BTCUSDT", FIRST, LAST)
    assert sorted(zip(summary["date"].astype(str), summary["window"], strict=True)) == [
        (str(d), w) for d in (FIRST, date(2024, 2, 5)) for w in ("1d", "30d", "7d")
    ]
    assert (summary["long_total_usd"] > 0).all() and (summary["short_total_usd"] > 0).all()
    assert (summary["oi_missing_bars"] == 0).all()  # the ingested month covers both windows
    bins = lake.read(DATASETS["liqmap_bins"], "BTCUSDT", FIRST, LAST)
    heat = lake.read(DATASETS["liqmap_heatmap"], "BTCUSDT", FIRST, LAST)
    assert len(bins) > 1000 and set(heat["date"].astype(str)) == {"2024-02-05"}  # last mapped
    entry = lake.ledger_entry(DATASETS["liqmap_summary"], "BTCUSDT", FIRST)
    assert (
        entry.rows == 3
        and entry.source_url == "liqbrief:liqmap-engine"
        and len(entry.config_fingerprint) == 64
    )

    before = lake_files(filled_lake)
    liqmap(["BTCUSDT"], FIRST, LAST, heatmaps="last")
    assert lake_files(filled_lake) == before
    again = lake.read(DATASETS["liqmap_bins"], "BTCUSDT", FIRST, LAST)
    assert len(again) == len(bins)


def test_map_command_prints_the_documented_json_keys(filled_lake: Path, monkeypatch) -> None:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(filled_lake))
    result = CliRunner().invoke(
        app, ["map", "--symbol", "BTCUSDT", "--date", "2024-02-04", "--window", "7d", "--json"]
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    assert row["window"] == "7d" and row["date"] == "2024-02-04"
    for key in (
        "p0",
        "cum_long_2pct",
        "cum_short_5pct",
        "round_below_1",
        "cum_long_round_below_1",
        "imbalance_5pct",
        "long_cluster_price",
        "est_liquidated_usd",
        "oi_missing_bars",
        "brackets_source",
    ):
        assert key in row
    text = CliRunner().invoke(app, ["map", "--date", "2024-02-04"])
    assert "imbalance" in text.output and "below" in text.output
    assert "warning" not in text.output  # the lake covers the whole 7d window


def test_map_warns_when_its_window_lacks_inputs(filled_lake: Path, monkeypatch) -> None:
    """2024-01-08's 7-day window reaches back before the first ingested day (01-05)."""
    monkeypatch.setenv("LIQBRIEF_LAKE", str(filled_lake))
    text = CliRunner().invoke(app, ["map", "--date", "2024-01-08", "--window", "7d"])
    assert text.exit_code == 0, text.output
    assert (
        "warning: 1,152 of 2,016 open-interest readings missing; 5,760 of 10,080 price minutes "
        "missing in the 7d window — the map undercounts"
    ) in text.output


def test_map_command_on_an_empty_lake_says_what_to_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "empty"))
    result = CliRunner().invoke(app, ["map", "--date", "2024-02-04"])
    assert result.exit_code == 1 and "liqbrief extract" in result.output


def test_liqprice_command_prints_the_exact_price() -> None:
    result = CliRunner().invoke(
        app,
        [
            "liqprice",
            "--side",
            "long",
            "--entry",
            "100000",
            "--leverage",
            "20",
            "--notional",
            "5000000",
            "--date",
            "2021-06-01",
        ],
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "97101.54"
    assert "bracket 4" in result.output and "cum 16,300" in result.output
