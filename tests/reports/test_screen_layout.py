"""The HTML as a desk opens it in a browser (headless Debian chromium): on a wide window a
centred page-width column, not edge to edge; on a phone nothing wider than the screen. The
PDF's print layout is not touched by the screen rules (checked in test_briefing)."""

from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flows.briefing import load_briefing_inputs
from reports.briefing import build_briefing
from reports.render import render_html
from tests.conftest import demo_lake

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)",
    ),
]
DAY = date(2024, 3, 6)
A4_COLUMN_PX = 184 / 25.4 * 96  # A4 less the 13 mm side margins, in CSS pixels (~695)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("screen")
    lake = demo_lake(root / "lake", DAY, ["BTCUSDT"], history_days=35)
    path = root / "briefing.html"
    path.write_text(render_html(build_briefing(load_briefing_inputs(lake, DAY, ["BTCUSDT"]))))
    return path


def chromium(tmp_path: Path, *args: str) -> str:
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return result.stdout


def test_a_wide_window_shows_a_centred_page_width_column(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "desktop.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1440,900", page.as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"))
    inked = np.flatnonzero((pixels < 235).any(axis=0))  # columns holding anything not white
    left, right = int(inked[0]), int(inked[-1])
    assert right - left <= 1000, f"content spans {left}..{right} px of 1440"
    assert right - left >= 0.9 * A4_COLUMN_PX  # the column is the page's width, not squeezed
    assert abs(left - (1440 - 1 - right)) <= 40, (
        f"not centred: {left} px left, {1439 - right} right"
    )


def test_a_phone_width_has_no_horizontal_overflow(page: Path, tmp_path: Path) -> None:
    """The briefing in a 390 px frame (headless windows are at least 500 px wide): its
    document is no wider than the frame."""
    probe = tmp_path / "probe.html"
    probe.write_text(
        f'<iframe id="f" style="width:390px;height:844px;border:0" srcdoc="{html_lib.escape(page.read_text())}" '
        'onload="var d=this.contentDocument.documentElement;'
        "document.body.setAttribute('data-widths', d.scrollWidth + '/' + d.clientWidth)\"></iframe>"
    )
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    found = re.search(r'data-widths="(\d+)/(\d+)"', dom)
    assert found, "the probe page did not report the frame's widths"
    scroll, client = int(found.group(1)), int(found.group(2))
    assert client == 390 and scroll <= client, f"{scroll} px of content in a {client} px frame"
