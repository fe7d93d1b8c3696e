"""Per-venue and aggregated maps through the liqmap flow and `map --venue`.

Binance's inputs come through the real archive ingest; Bybit's and OKX's datasets (filled by
their own extract, issue 14's sources) are written here as that extract stores them: the same
schemas under <lake>/<venue>/, here Binance's rows with a smaller book (open interest scaled).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prefect import flow
from typer.testing import CliRunner

from flows.daily_venues import map_venues
from flows.liqmap import liqmap, okx_depth_note
from liqbrief.cli import app
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from store.datasets import map_dataset, market_dataset
from store.errors import repair_command
from store.lake import Lake, days_between
from store.verify import verify_lake
from tests.conftest import FAST_RETRY, lake_files

pytestmark = [pytest.mark.flow, pytest.mark.server]

DATASETS_IN = ["metrics", "klines_5m", "mark_klines_1m"]
DAY = date(2025, 9, 4)  # the shipped OKX tiers start 2025-07-23
SCALE = {"bybit": 0.5, "okx": 0.3}
KEYS = ["window", "bin_lo", "side", "tier"]


def copy_as_venue(lake: Lake, venue: str, scale: float, first: date, last: date) -> None:
    """Binance's stored days as another venue's datasets, its open interest scaled."""
    for name in DATASETS_IN:
        source = market_dataset("binance", name)
        for day in days_between(first, last):
            table = lake.read_table(source, "BTCUSDT", day, day)
            if name == "metrics":
                oi = table.column("sum_open_interest").to_numpy() * scale
                index = table.schema.get_field_index("sum_open_interest")
                table = table.set_column(index, "sum_open_interest", [oi])
            entry = lake.ledger_entry(source, "BTCUSDT", day)
            lake.write_day(market_dataset(venue, name), day, table, replace(entry, venue=venue))


@pytest.fixture(scope="module")
def venues_lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("liqmap-venues") / "lake"
    first, last = date(2025, 8, 5), date(2025, 9, 3)
    with ArchiveMirror(build_archive(["BTCUSDT"], DATASETS_IN, first, last, monthly=False)) as m:
        report = ingest(Lake(str(root)), m.base_url, ["BTCUSDT"], DATASETS_IN, first, last,
                        retry=FAST_RETRY, today=date(2026, 1, 1))  # fmt: skip
    assert not report.problems
    for venue, scale in SCALE.items():
        copy_as_venue(Lake(str(root)), venue, scale, first, last)
    return root


def stored_bins(lake: Lake, venue: str) -> pd.Series:
    bins = lake.read(map_dataset(venue, "liqmap_bins"), "BTCUSDT", DAY, DAY)
    return bins.groupby(KEYS)["notional_usd"].sum()


def test_the_flow_stores_each_venue_and_their_sum(
    prefect_harness, venues_lake, monkeypatch
) -> None:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(venues_lake))
    lake = Lake(str(venues_lake))
    result = liqmap(["BTCUSDT"], DAY, DAY, heatmaps="last", venue="all")
    assert result["BTCUSDT"]["dates"] == 1 and not result["BTCUSDT"]["missing"]
    parts = {v: stored_bins(lake, v) for v in ("binance", "bybit", "okx")}
    summed = pd.concat(parts.values()).groupby(level=KEYS).sum()
    stored = stored_bins(lake, "all")
    assert stored.index.equals(summed.index)
    np.testing.assert_allclose(stored.to_numpy(), summed.to_numpy(), rtol=1e-12)
    # the venues differ: their own book size and formula
    assert parts["okx"].sum() < parts["bybit"].sum() < parts["binance"].sum()
    summary = lake.read(map_dataset("all", "liqmap_summary"), "BTCUSDT", DAY, DAY)
    assert (
        set(summary["venue"]) == {"all"}
        and "bybit: bybit/BTCUSDT.csv" in summary["brackets_source"][0]
    )
    entry = lake.ledger_entry(map_dataset("okx", "liqmap_summary"), "BTCUSDT", DAY)
    assert entry.venue == "okx" and entry.rows == 3

    report = verify_lake(lake, symbols=["BTCUSDT"])  # every venue's map files and manifests
    assert not report.findings and report.checked >= 12  # 4 maps × bins, summary, heatmap
    # a corrupt map file of a venue names the command that re-makes it
    lo, hi = str(DAY), str(DAY)
    assert repair_command("okx/liqmap_bins", "BTCUSDT", DAY, DAY) == (
        f"liqbrief liqmap --venue okx --symbols BTCUSDT --start {lo} --end {hi}"
    )

    before = lake_files(venues_lake)  # a re-run replaces each unit with the same bytes
    liqmap(["BTCUSDT"], DAY, DAY, heatmaps="last", venue="all")
    assert lake_files(venues_lake) == before


def test_map_venue_prints_each_book_and_the_aggregate(venues_lake, monkeypatch) -> None:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(venues_lake))
    rows = {}
    for venue in ("binance", "bybit", "okx", "all"):
        out = CliRunner().invoke(app, ["map", "--date", str(DAY), "--venue", venue, "--json"])
        assert out.exit_code == 0, out.output
        rows[venue] = json.loads(out.stdout)
        assert rows[venue]["venue"] == venue
    for column in ("long_total_usd", "short_total_usd", "est_liquidated_usd"):
        parts = sum(rows[v][column] for v in ("binance", "bybit", "okx"))
        assert rows["all"][column] == pytest.approx(parts, rel=1e-12)
    assert rows["all"]["p0"] == rows["binance"]["p0"]
    text = CliRunner().invoke(app, ["map", "--date", str(DAY), "--venue", "all"]).output
    assert "Binance + Bybit + OKX, P0 from Binance" in text
    assert (
        "Bybit only"
        in CliRunner().invoke(app, ["map", "--date", str(DAY), "--venue", "bybit"]).output
    )


def test_a_venue_without_inputs_says_which_extract_to_run(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "empty"))
    out = CliRunner().invoke(app, ["map", "--date", str(DAY), "--venue", "okx"])
    assert out.exit_code == 1
    assert (  # from the pass start of September's maps: 30 days before 2025-09-01
        "run `liqbrief extract --venues okx --symbols BTCUSDT --start 2025-08-02 --end 2025-09-03`"
        in out.output
    )


def test_daily_leaves_out_a_venue_priced_off_the_market(
    prefect_harness, venues_lake, tmp_path, monkeypatch
) -> None:
    """OKX's prices 22 % below the others' (a wrong instrument or feed): the daily job maps
    Binance + Bybit and names OKX with both prices, instead of summing two markets."""
    root = tmp_path / "lake"
    shutil.copytree(venues_lake, root)
    lake = Lake(str(root))
    for name in ("klines_5m", "mark_klines_1m"):
        ds = market_dataset("okx", name)
        for day in days_between(date(2025, 8, 5), date(2025, 9, 3)):
            table = lake.read_table(ds, "BTCUSDT", day, day)
            for column in ("open", "high", "low", "close"):
                index = table.schema.get_field_index(column)
                table = table.set_column(index, column, [table.column(column).to_numpy() * 0.78])
            lake.write_day(ds, day, table, lake.ledger_entry(ds, "BTCUSDT", day))
    monkeypatch.setenv("LIQBRIEF_LAKE", str(root))
    as_daily = flow(map_venues)  # the daily flow calls it inside its run
    mapped = as_daily(lake, "BTCUSDT", ["binance", "bybit", "okx"], DAY, {})
    assert mapped.day == DAY and mapped.members == ["binance", "bybit"]
    assert mapped.absent["okx"].startswith("its price")  # its own part, named once
    assert "-22.0 % from Binance's" in mapped.absent["okx"]
    summary = lake.read(map_dataset("all", "liqmap_summary"), "BTCUSDT", DAY, DAY)
    assert set(summary["brackets_source"].str.contains("okx")) == {False}


def test_a_missing_okx_day_beyond_its_rest_depth_says_no_extract_fills_it() -> None:
    """OKX serves ~5 days of open interest: for an older day the advice says so (the
    extract it names still fills the other venues), for a recent one it does not."""
    old, recent = date(2026, 11, 30), date(2026, 12, 6)
    today = date(2026, 12, 7)
    note = okx_depth_note("all", old, "no Binance + Bybit + OKX map: okx: no open-interest", today)
    assert "no extract fills OKX before 2026-12-02" in note
    assert okx_depth_note("okx", old, today=today) == note
    assert okx_depth_note("okx", recent, today=today) == ""
    assert okx_depth_note("all", old, "bybit: no open-interest reading", today) == ""
