"""The context flow on a lake filled through the real ingest path, FRED replayed on loopback."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.context import MACRO_SYMBOL, context
from flows.liqmap import liqmap
from liqbrief.cli import app
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import FAST_RETRY, lake_files

pytestmark = [pytest.mark.flow, pytest.mark.server]

DAY = date(2024, 3, 6)
INPUTS = ["metrics", "klines_5m", "mark_klines_1m", "funding_rate"]


def fred_series(end: date) -> dict[str, pd.DataFrame]:
    """Test series whose past does not depend on ``end``: only the future grows."""
    days = pd.date_range("2023-01-01", end, freq="D")
    out = {}
    for k, series in enumerate(("DFF", "DGS2", "DGS10", "VIXCLS")):
        steps = np.random.default_rng(k).normal(0, 0.02, len(days))
        out[series] = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "value": 4 + steps.cumsum()})
    months = pd.date_range("2023-01-01", end, freq="MS")
    out["UNRATE"] = pd.DataFrame(
        {"date": months.strftime("%Y-%m-%d"), "value": 3.5 + 0.05 * np.arange(len(months))}
    )
    return out


def fill(lake: Lake, start: date, end: date) -> None:
    with ArchiveMirror(build_archive(["BTCUSDT"], INPUTS, start, end, monthly=False)) as mirror:
        report = ingest(
            lake,
            mirror.base_url,
            ["BTCUSDT"],
            INPUTS,
            start,
            end,
            retry=FAST_RETRY,
            today=date(2025, 1, 1),
        )
    assert not report.problems


def tables(lake: Lake) -> dict[str, pd.DataFrame]:
    return {
        "market": lake.read(DATASETS["market_context"], "BTCUSDT", DAY, DAY),
        "records": lake.read(DATASETS["records"], "BTCUSDT", DAY, DAY),
        "macro": lake.read(DATASETS["macro_context"], MACRO_SYMBOL, DAY, DAY),
        "events": lake.read(DATASETS["macro_events"], MACRO_SYMBOL, DAY, DAY),
    }


def table_bytes(lake: Lake) -> dict[str, bytes]:
    """DAY's four context tables as stored, byte for byte."""
    outputs = {"market_context": "BTCUSDT", "records": "BTCUSDT",
               "macro_context": MACRO_SYMBOL, "macro_events": MACRO_SYMBOL}  # fmt: skip
    return {
        name: Path(lake.data_path(DATASETS[name], symbol, DAY)).read_bytes()
        for name, symbol in outputs.items()
    }


def revised_after(series: dict[str, pd.DataFrame], when: date) -> dict[str, pd.DataFrame]:
    """Every value revised (+1) from ``when`` on, as ALFRED real-time periods."""
    end, start = (when - timedelta(days=1)).isoformat(), when.isoformat()
    out = {}
    for name, frame in series.items():
        first = frame.assign(realtime_start=frame["date"], realtime_end=end)
        revised = frame.assign(
            value=frame["value"] + 1, realtime_start=start, realtime_end="9999-12-31"
        )
        out[name] = pd.concat([first, revised], ignore_index=True)
    return out


def serve_fred(monkeypatch, fred: FredServer, key: str | None) -> None:
    monkeypatch.setenv("LIQBRIEF_FRED_CSV_URL", fred.base_url)
    monkeypatch.setenv("LIQBRIEF_FRED_URL", fred.base_url)
    if key:
        monkeypatch.setenv("FRED_API_KEY", key)
    else:
        monkeypatch.delenv("FRED_API_KEY", raising=False)


@pytest.mark.parametrize("key", [None, "abcdef0123456789abcdef0123456789"], ids=["csv", "api"])
def test_context_tables_and_no_look_ahead(
    prefect_harness, tmp_path: Path, monkeypatch, key: str | None
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    fill(lake, date(2024, 1, 1), DAY - timedelta(days=1))
    liqmap(["BTCUSDT"], DAY - timedelta(days=3), DAY, heatmaps="none")
    with FredServer(fred_series(DAY - timedelta(days=1))) as fred:
        serve_fred(monkeypatch, fred, key)
        result = context(DAY, ["BTCUSDT"])
    first = tables(lake)
    market = first["market"].iloc[0]
    assert (
        market["oi_usd"] > 1e9
        and np.isfinite(market["realised_vol_7d_pct"])
        and market["volume_vs_year_start"] > 0
    )
    records = first["records"].set_index("metric")
    assert records.loc["oi_usd", "days"] == 65  # one value per day from 2024-01-02 to 2024-03-06
    assert records.loc["est_liquidated_usd", "days"] == 4  # the maps of the last four dates
    macro = first["macro"].set_index("series")
    assert macro.loc["DGS2", "obs_date"] == DAY - timedelta(days=1)  # yesterday's close
    # January's rate came out 2024-02-02; February's comes out 2024-03-08, after DAY
    assert macro.loc["UNRATE", "obs_date"] == date(2024, 1, 1)
    assert bool(macro.loc["SP500", "stale"]) and np.isnan(macro.loc["SP500", "value"])
    assert "US jobs report (Employment Situation) in 2 days" in first["events"]["text"].tolist()
    assert any("SP500" in w for w in result["macro_warnings"])
    # the CSV has no vintages: its values are flagged, the API's are what was known then
    assert macro["latest_revision"].any() == (key is None)
    assert any("latest-revision" in w for w in result["macro_warnings"]) == (key is None)
    before = table_bytes(lake)

    # the future arrives: ten more days of market data and FRED values (through the API also
    # revisions of the past, published after DAY); DAY's tables keep every byte
    fill(lake, DAY, DAY + timedelta(days=10))
    lake.fs.delete_file(lake.ledger_path(DATASETS["records"], "BTCUSDT", DAY))
    later = fred_series(DAY + timedelta(days=40))
    with FredServer(revised_after(later, DAY + timedelta(days=3)) if key else later) as fred:
        serve_fred(monkeypatch, fred, key)
        context(DAY, ["BTCUSDT"])
    assert table_bytes(lake) == before


def test_context_command_prints_json(prefect_harness, tmp_path: Path, monkeypatch) -> None:
    lake = Lake(str(tmp_path / "lake"))
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    fill(lake, DAY - timedelta(days=9), DAY - timedelta(days=1))
    result = CliRunner().invoke(
        app, ["context", "--date", DAY.isoformat(), "--no-fetch-macro", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["market_context"][0]["symbol"] == "BTCUSDT"
    assert {r["metric"] for r in payload["records"]} >= {"oi_usd", "quote_volume_24h"}
    assert len(payload["macro_context"]) == 10 and all(r["stale"] for r in payload["macro_context"])


@pytest.mark.parametrize(
    "when",
    [DAY + timedelta(days=3), date.today() + timedelta(days=400), DAY - timedelta(days=20)],
    ids=["after-data", "future", "before-data"],
)
def test_context_for_a_date_without_data_is_refused_and_writes_nothing(
    prefect_harness, tmp_path: Path, monkeypatch, when: date
) -> None:
    from flows.context import ContextDateError

    lake = Lake(str(tmp_path / "lake"))
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    fill(lake, DAY - timedelta(days=9), DAY - timedelta(days=1))
    before = lake_files(tmp_path / "lake")
    with pytest.raises(ContextDateError, match=f"context for {when}"):
        context(when, ["BTCUSDT"], fetch_macro=False)
    assert lake_files(tmp_path / "lake") == before
