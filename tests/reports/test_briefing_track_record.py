"""The track record in the rendered briefing, read back from the PDF: page 1's line states the
validation summary's figures, the detail page overlays yesterday's realised liquidations on
yesterday's map, one line says how to start recording when there is nothing, and nothing
dated after the briefing changes it."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.briefing import write_briefing
from liqbrief.testing import track_record as tr
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import demo_lake

pytestmark = pytest.mark.server
DAY = date(2024, 3, 6)
YESTERDAY = DAY - timedelta(days=1)
SYMBOL = "BTCUSDT"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("track") / "lake"
    demo_lake(root, DAY, [SYMBOL], history_days=35, map_days=2)
    return root


@pytest.fixture
def lake(demo: Path, tmp_path: Path) -> Lake:
    shutil.copytree(demo, tmp_path / "lake")
    return Lake(str(tmp_path / "lake"))


def render(lake: Lake, out: Path) -> tuple[str, str]:
    """The briefing's HTML and its PDF's text (whitespace collapsed)."""
    html, pdf = (Path(p) for p in write_briefing(lake, DAY, [SYMBOL], out))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return html.read_text(), re.sub(r"\s+", " ", text)


def pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def yesterdays_p0(lake: Lake) -> float:
    summary = lake.read(DATASETS["liqmap_summary"], SYMBOL, YESTERDAY, YESTERDAY)
    return float(summary.set_index("window").loc["7d", "p0"])


def test_page_one_states_the_written_scores(lake: Lake, tmp_path: Path) -> None:
    exact, naive = tr.summary_row("exact", 30, 11), tr.summary_row("naive", 30, 12)
    longer = tr.summary_row("exact", 90, 13) | {"top_precision": 0.333, "days_scored": 77}
    tr.write_validation_summary(lake, SYMBOL, DAY, [exact, naive, longer])
    _, text = render(lake, tmp_path / "out")
    page_one = text.split("page 1 of")[0]
    assert "Track record, last 30 days" in page_one
    line = (
        f"BTC: {pct(exact['top_precision'])} of top-decile bins hit (95 % lower bound "
        f"{pct(exact['top_precision_lower_95'])}) vs {pct(exact['baseline_hit_share'])} of all "
        f"bins and {pct(exact['nearest_hit_share'])} of the bins nearest the price; naive formula "
        f"{pct(naive['top_precision'])}."
    )
    assert line in page_one
    assert f"Daily ρ estimated vs realised {exact['time_spearman_1d']:.2f}" in page_one
    assert f"{exact['time_days']} days vs Coinglass" in page_one
    assert (
        f"{exact['days_scored']} of 30 days scored, {exact['events']:,} liquidations, "
        f"{exact['coverage_pct']:.0f} % of hours recorded" in page_one
    )
    # the 90-day row is not the 30-day one
    assert "33 % of top-decile" not in text and "77 of 30" not in text
    assert "If price drops below" in page_one  # the key levels stay on page 1
    assert not re.search(r"\bnan\b", text, re.I)


def test_yesterdays_realised_liquidations_are_drawn_on_yesterdays_map(
    lake: Lake, tmp_path: Path
) -> None:
    realised = tr.realised_day(YESTERDAY, yesterdays_p0(lake), 120, 3)
    tr.write_realised(lake, SYMBOL, YESTERDAY, realised, covered_hours=18.5)
    html, text = render(lake, tmp_path / "out")
    longs = realised[realised["side"] == "long"]
    assert (
        f"the 120 liquidations Binance reported on 05 Mar 2024 (longs {len(longs)}," in text
        and "18 of 24 hours covered (stream recorder)" in text  # whole hours, as validation
    )
    assert "BTC: yesterday's map (05 Mar, 00:00 UTC, 7d cohorts)" in text
    assert html.count('src="data:image/svg+xml;base64,') == 4  # map, heatmap, OI, overlay


def test_without_realised_data_one_line_says_how_to_start(lake: Lake, tmp_path: Path) -> None:
    html, text = render(lake, tmp_path / "out")
    assert (
        "No track record yet: no day of BTC scored against realised liquidations in the last "
        "30 days — start the recorder with `liqbrief record` (see README)" in text
    )
    assert "Realised liquidations. No realised liquidations recorded for 05 Mar 2024" in text
    assert html.count('src="data:image/svg+xml;base64,') == 3
    assert not re.search(r"\bnan\b", text, re.I)
    assert "yesterday's map (05 Mar" not in text


def test_nothing_dated_after_the_briefing_changes_it(lake: Lake, tmp_path: Path) -> None:
    p0 = yesterdays_p0(lake)
    tr.write_validation_summary(
        lake, SYMBOL, DAY, [tr.summary_row("exact", 30, 1), tr.summary_row("naive", 30, 2)]
    )
    tr.write_realised(lake, SYMBOL, YESTERDAY, tr.realised_day(YESTERDAY, p0, 80, 4), 20.0)
    before, _ = render(lake, tmp_path / "before")
    for later in (DAY + timedelta(days=1), DAY + timedelta(days=30)):
        tr.write_validation_summary(lake, SYMBOL, later, [tr.summary_row("exact", 30, 9)])
    # the briefing day's own liquidations (after its 00:00 UTC snapshot) and recording hours
    tr.write_realised(lake, SYMBOL, DAY, tr.realised_day(DAY, p0, 50, 5), 24.0)
    after, _ = render(lake, tmp_path / "after")
    assert after == before
