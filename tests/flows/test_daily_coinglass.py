"""The daily flow end to end with Coinglass: a key brings the market-wide figures into the
lake, the context and the briefing; a refused key still gives a Binance-only briefing that
says why, and the key's value is nowhere in what the run leaves."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from flows.daily import daily_briefing
from liqbrief.settings import DEFAULT_COINGLASS_EXCHANGES
from liqbrief.testing.coinglass_standin import STANDIN_KEY, CoinglassStandin, synthetic_btc
from store.datasets import DATASETS
from store.lake import Lake

pytestmark = [pytest.mark.flow, pytest.mark.server]

RUN_DAY, MAPPED = date(2024, 2, 10), date(2024, 2, 9)


@pytest.fixture
def daily_env(daily_sources: Path, monkeypatch, request) -> Path:
    """The daily job's loopback sources (archive to 2024-02-08, FRED) and Coinglass."""
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(daily_sources / "out"))
    monkeypatch.setenv("LIQBRIEF_HTTP_ATTEMPTS", "2")
    now = datetime.now(UTC)
    standin = CoinglassStandin(synthetic_btc(DEFAULT_COINGLASS_EXCHANGES, now, 3, 1), now)
    standin.__enter__()
    request.addfinalizer(lambda: standin.__exit__(None, None, None))
    monkeypatch.setenv("LIQBRIEF_COINGLASS_URL", standin.url)
    return daily_sources


def pdf_text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def bar(lake: Lake, name: str, day: date) -> pd.Series:
    frame = lake.read(DATASETS[name], "BTC", day.replace(day=1), day)
    return frame[frame["time"] == pd.Timestamp(day, tz="UTC")].iloc[0]


def test_with_a_key_the_briefing_carries_the_market_wide_figures(
    prefect_harness, daily_env: Path, monkeypatch
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", STANDIN_KEY)
    result = daily_briefing(RUN_DAY, ["BTCUSDT"])
    assert result["mapped"] == {"BTCUSDT": MAPPED}
    lake = Lake(str(daily_env / "lake"))
    market = lake.read(DATASETS["market_context"], "BTCUSDT", MAPPED, MAPPED).iloc[0]
    yesterday = date(2024, 2, 8)  # the bars known at 00:00 UTC of the mapped date
    oi = bar(lake, "oi_aggregated_1d", yesterday)
    liq = bar(lake, "liquidations_binance_1d", yesterday)
    assert market["all_market_oi_usd"] == oi["close"]
    assert market["realised_liq_usd"] == liq["long_usd"] + liq["short_usd"]
    assert market["binance_oi_share_pct"] == pytest.approx(
        market["oi_usd"] / oi["close"] * 100, rel=1e-12
    )
    text = pdf_text(Path(result["briefings"][1]))
    assert "All-market BTC open interest" in text
    assert "Realised liquidations yesterday" in text
    assert "set COINGLASS_API_KEY" not in text


def test_a_refused_key_still_renders_a_binance_only_briefing_that_says_why(
    prefect_harness, daily_env: Path, monkeypatch, caplog
) -> None:
    wrong = "cg-wrong-key-0000-secret"
    monkeypatch.setenv("COINGLASS_API_KEY", wrong)
    result = daily_briefing(RUN_DAY, ["BTCUSDT"])
    html, pdf = (Path(p) for p in result["briefings"])
    text = pdf_text(pdf)
    assert "Binance only" in text and "the API key was refused" in text
    assert "All-market BTC open interest" not in text
    lake_root = daily_env / "lake"
    leftovers = [html, pdf, *(p for p in lake_root.rglob("*") if p.is_file())]
    assert not [p for p in leftovers if wrong.encode() in p.read_bytes()]
    assert wrong not in caplog.text
    refused = [r for r in caplog.records if "refused COINGLASS_API_KEY" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelname == "WARNING"  # said once, not per series
    market = Lake(str(lake_root)).read(DATASETS["market_context"], "BTCUSDT", MAPPED, MAPPED)
    assert market["all_market_oi_usd"].isna().all()
