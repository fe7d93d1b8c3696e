"""The briefing with and without Coinglass, read back from the PDF: the all-market records
line and the measured share with a key, "Binance only" without one, the reason when
Coinglass refused the key or the plan lacks the map, and the map comparison table."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from flows.briefing import coinglass_snapshots, load_briefing_inputs, write_briefing
from reports.briefing import build_briefing
from reports.email_summary import summary_html, summary_text
from reports.formatting import usd
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import demo_lake
from tests.reports import coinglass_lake as cg

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not cg.REPORT_DATA.exists(), reason=f"{cg.REPORT_DATA} not found"),
]
DAY = date(2025, 11, 14)  # the day of the real Coinglass snapshots
BINANCE_ONLY = "Binance only; set COINGLASS_API_KEY for all-market figures"
MAP_STEPS = (5, 15, 25, 35, 45, 55)  # Coinglass levels at ±0.5, 1.5, … 5.5 % of p0
BAD_KEY = "Coinglass refused COINGLASS_API_KEY (HTTP 401 Invalid API key): check the key"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cg") / "lake"
    demo_lake(root, DAY, ["BTCUSDT"], history_days=35)
    return root


def lake_copy(demo: Path, tmp_path: Path) -> Lake:
    shutil.copytree(demo, tmp_path / "lake")
    return Lake(str(tmp_path / "lake"))


def summary(lake: Lake) -> dict:
    frame = lake.read(DATASETS["liqmap_summary"], "BTCUSDT", DAY, DAY)
    return frame.set_index("window").loc["7d"].to_dict()


def render(lake: Lake, tmp_path: Path) -> str:
    _, pdf = write_briefing(lake, DAY, ["BTCUSDT"], tmp_path / "out")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return re.sub(r"\s+", " ", text)


def test_with_coinglass_the_records_line_is_all_market_and_the_share_measured(
    demo: Path, tmp_path: Path
) -> None:
    lake = lake_copy(demo, tmp_path)
    cg.add_market_wide(lake, DAY)
    cg.add_history_bars(lake, DAY)
    cg.add_exchange_list(lake, DAY)
    cg.add_fetch_status(lake, DAY, cg.all_ok())
    text = render(lake, tmp_path)
    binance_oi = lake.read(DATASETS["market_context"], "BTCUSDT", DAY, DAY)["oi_usd"].iloc[0]
    # by hand from the real files: 13 Nov 2025's daily close $68.2B, record close $94.1B of
    # 6 Oct 2025 (27.5 % below); Binance's realised 13 Nov $46.1M, record $404M of 10 Oct 2025
    share = binance_oi / 68_217_410_258 * 100
    assert (
        f"All-market BTC open interest $68.2B (Binance BTCUSDT {share:.1f} % — the book mapped "
        "here), 28 % below its record since 19 May 2025 (Coinglass history) $94.1B of 6 Oct 2025."
        in text
    )  # the real files' first complete day: the plan's history, not all time
    assert (
        "Realised Binance liquidations yesterday $46.1M; the largest day since 19 May 2025 "
        "(Coinglass history) $404M on 10 Oct 2025." in text
    )
    assert "Market-wide records start with Coinglass history on 19 May 2025." in text
    assert BINANCE_ONLY not in text
    # the live exchange list, with its time: Binance's whole BTC book 18.6 % of $67.1B
    assert (
        "BTC: Coinglass exchange list at 14 Nov 2025 16:10 UTC ($67.1B in all): CME 20.7 %, "
        "Binance (all BTC futures) 18.6 %, Bybit 10.6 %" in text
    )
    assert f"held {share:.1f} % of all-market BTC open interest at 00:00 UTC 14 Nov 2025" in text
    # realised marked realised, estimates estimated, in the records table too
    assert "Open interest, all market $68.2B $94.1B (06 Oct 2025)" in text
    assert "Liquidated in the day, Binance (realised) $46.1M $404M (10 Oct 2025)" in text
    assert "Liquidated, 24 h, Binance (estimated)" in text
    assert "Binance $12.5B of $67.1B" not in text  # the old constant share is gone
    assert "All-market open interest $68.2B" in text  # the market-context row


def test_the_coinglass_map_sits_beside_ours_with_the_ratio(demo: Path, tmp_path: Path) -> None:
    lake = lake_copy(demo, tmp_path)
    ours = summary(lake)
    p0 = ours["p0"]
    levels = [(p0 * (1 + s * k / 1000), k * 1e6) for k in MAP_STEPS for s in (-1, 1)]
    cg.add_market_wide(lake, DAY)
    cg.add_liquidation_map(lake, DAY, levels)
    cg.add_fetch_status(lake, DAY, cg.all_ok())
    text = render(lake, tmp_path)
    theirs = {2: 5 + 15, 3: 5 + 15 + 25, 5: 5 + 15 + 25 + 35 + 45}  # $M within ±x %
    row = " ".join(
        [usd(theirs[x] * 1e6) for x in (2, 3, 5)] + [usd(theirs[x] * 1e6) for x in (2, 3, 5)]
    )
    assert f"Coinglass (Binance pair, 7d) {row}" in text
    ours_row = " ".join(usd(ours[f"cum_{s}_{x}pct"]) for s in ("long", "short") for x in (2, 3, 5))
    assert f"liqbrief (7d cohorts) {ours_row}" in text
    ratios = " ".join(
        f"{ours[f'cum_{s}_{x}pct'] / (theirs[x] * 1e6):.2f}×"
        for s in ("long", "short")
        for x in (2, 3, 5)
    )
    assert f"Ratio liqbrief / Coinglass {ratios}" in text


def test_without_a_key_the_briefing_says_binance_only(demo: Path, tmp_path: Path) -> None:
    text = render(lake_copy(demo, tmp_path), tmp_path)
    assert f"Records. {BINANCE_ONLY}. BTC open interest is" in text
    assert f"BTC: {BINANCE_ONLY}." in text  # the methods box
    assert "the book mapped here" not in text and "Coinglass exchange list" not in text
    assert "beside Coinglass" not in text and "all market $" not in text
    assert not re.search(r"Binance \$[\d.]+B of \$[\d.]+B", text)  # no constant share


def test_a_refused_key_renders_binance_only_and_says_why(
    demo: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", "cg-test-secret-value")
    lake = lake_copy(demo, tmp_path)
    outcomes = {s: ("bad-key", "skipped: Coinglass refused COINGLASS_API_KEY") for s in cg.all_ok()}
    outcomes["oi_aggregated_1d"] = ("bad-key", BAD_KEY)
    cg.add_fetch_status(lake, DAY, outcomes)
    text = render(lake, tmp_path)
    assert (
        "Records. Binance only — no Coinglass all-market figures: the API key was refused "
        "(see Methods). BTC open interest is" in text
    )
    assert (
        "BTC: Coinglass refused the API key on 14 Nov 2025; no market-wide figures are stored "
        "for this date." in text
    )
    assert "check the key" not in text  # the operator's instructions belong to the logs
    assert BINANCE_ONLY not in text  # a key is set: the fix is the key, not setting one
    html = (tmp_path / "out" / str(DAY) / f"liqbrief-{DAY}.html").read_text()
    assert "cg-test-secret-value" not in text + html


def test_a_plan_without_the_map_says_so_and_shows_no_table(demo: Path, tmp_path: Path) -> None:
    lake = lake_copy(demo, tmp_path)
    cg.add_market_wide(lake, DAY)
    cg.add_fetch_status(lake, DAY, cg.all_ok(("unavailable", "Upgrade plan")))
    text = render(lake, tmp_path)
    assert (
        "BTC: no Coinglass liquidation map (all exchanges, Binance pair): not in the API plan."
        in text
    )
    assert "beside Coinglass" not in text and "All-market BTC open interest $68.2B" in text


def test_the_email_carries_the_measured_share_or_says_binance_only(
    demo: Path, tmp_path: Path
) -> None:
    without = build_briefing(
        load_briefing_inputs(lake_copy(demo, tmp_path), DAY, ["BTCUSDT"]), False
    )
    assert f"Records: {BINANCE_ONLY}." in summary_text(without)
    assert "%" not in summary_text(without).split("Records:")[1].split("\n")[0].split(".")[0]
    lake = Lake(str(tmp_path / "lake"))
    cg.add_market_wide(lake, DAY)
    with_key = build_briefing(load_briefing_inputs(lake, DAY, ["BTCUSDT"]), False)
    share = lake.read(DATASETS["market_context"], "BTCUSDT", DAY, DAY)["binance_oi_share_pct"].iloc[
        0
    ]
    for body in (summary_text(with_key), summary_html(with_key)):
        assert f"(Binance BTCUSDT {share:.1f} % — the book mapped here)" in body
        assert BINANCE_ONLY not in body and "$12.5B of $67.1B" not in body


def test_the_snapshots_carry_the_history_start_and_the_bars_exchange_list(tmp_path: Path) -> None:
    """P1-2/P1-3: the first stored bar's day (first monthly partition's first row) and the
    exchanges of the stored all-market bar of D-1, not a setting's current list."""
    lake = Lake(str(tmp_path / "lake"))
    days = [date(2025, 9, 29), date(2025, 10, 30), date(2025, 11, 12), date(2025, 11, 13)]
    lists = ["Binance,OKX"] * 3 + ["Binance,OKX,Bybit"]  # the setting changed on 13 Nov
    bars = pd.DataFrame({"exchange_list": lists, "long_usd": 1.0, "short_usd": 2.0}, index=days)
    cg.add_bars(lake, "liquidations_all_1d", bars)
    snaps = coinglass_snapshots(lake, DAY, "BTCUSDT")
    assert snaps.history_start == {"liquidations_all_1d": date(2025, 9, 29)}
    assert snaps.liquidation_exchanges == ["Binance", "OKX", "Bybit"]
    earlier = coinglass_snapshots(lake, date(2025, 11, 13), "BTCUSDT")
    assert earlier.liquidation_exchanges == ["Binance", "OKX"]
    assert coinglass_snapshots(lake, date(2025, 11, 12), "BTCUSDT").liquidation_exchanges == []


def test_rank_and_figures_never_wrap_and_a_keyed_page_break_is_sensible(
    demo: Path, tmp_path: Path
) -> None:
    """P2-8: "1004 of 1094" stays on one line of the records table (it wrapped to "1004 of" /
    "1094"), and the methods box never sits alone after a mostly empty page."""
    lake = lake_copy(demo, tmp_path)
    cg.add_market_wide(lake, DAY)
    cg.add_history_bars(lake, DAY)
    cg.add_fetch_status(lake, DAY, cg.all_ok())
    records = lake.read(DATASETS["records"], "BTCUSDT", DAY, DAY)
    wide = records["venue"] == "all-market"
    records.loc[wide, ["rank", "days"]] = [1004, 1094]
    cg._write(lake, "records", "BTCUSDT", DAY, records)
    _, pdf = write_briefing(lake, DAY, ["BTCUSDT"], tmp_path / "out")
    pages = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout.split("\f")
    assert any(re.search(r"\$94\.1B.*1004 of 1094", page) for page in pages)
    bottoms = content_bottoms(pdf)
    for number, page in enumerate(pages[1 : len(bottoms)], start=1):
        if page.strip().startswith("Methods."):  # the box alone: the page before it is full
            assert bottoms[number - 1] > 0.8, f"page {number} is {bottoms[number - 1]:.0%} full"


def content_bottoms(pdf: Path) -> list[float]:
    """How far down each page its text reaches (0–1), the footer left out."""
    xml = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    out = []
    for page in re.findall(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', xml, re.S):
        height = float(page[0])
        ys = [float(y) for y in re.findall(r'yMax="([\d.]+)"', page[1])]
        body = [y for y in ys if y < height - 50]  # the footer sits in the bottom margin
        out.append(max(body, default=0.0) / height)
    return out
