"""A backfill process killed (SIGKILL) in the middle, then run again with --send: every day
ends up with exactly one complete HTML and PDF and its tables once, and every day is e-mailed
once, including the days the killed run had finished (they are skipped, not forgotten)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from flows.backfill import backfill
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.smtp_inbox import Inbox, free_port
from liqbrief.testing.synthetic_archive import build_archive
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.flow, pytest.mark.server]
INPUTS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m", "funding_rate"]
FIRST, LAST = date(2024, 2, 3), date(2024, 2, 10)
DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def complete_days(out: Path) -> list[date]:
    """Days whose HTML and PDF both exist: what the backfill counts as done (the PDF is
    written first and the HTML last, so a kill between the two leaves a day to redo)."""
    return [
        d for d in DAYS
        if all((out / d.isoformat() / f"liqbrief-{d}.{ext}").exists() for ext in ("pdf", "html"))
    ]  # fmt: skip


def test_a_killed_backfill_is_finished_by_the_next_run(
    prefect_harness, tmp_path, monkeypatch
) -> None:
    out, lake_root = tmp_path / "out", tmp_path / "lake"
    files = build_archive(["BTCUSDT"], INPUTS, date(2024, 1, 1), LAST, monthly=False)
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    fred_data = {"DGS2": pd.DataFrame({"date": ["2024-02-01"], "value": [4.3]})}
    try:
        with ArchiveMirror(files) as mirror, FredServer(fred_data) as fred:
            env = {
                "LIQBRIEF_LAKE": str(lake_root), "LIQBRIEF_REPORTS_DIR": str(out),
                "LIQBRIEF_BINANCE_ARCHIVE_URL": mirror.base_url, "LIQBRIEF_FRED_CSV_URL": fred.base_url,
                "LIQBRIEF_SMTP_HOST": "127.0.0.1", "LIQBRIEF_SMTP_PORT": str(smtp.port),
                "LIQBRIEF_SMTP_SECURITY": "none", "LIQBRIEF_DESK_TO": "desk@example.com",
                "LIQBRIEF_RENDER_WORKERS": "1",
            }  # fmt: skip
            child_env = os.environ | env | {"PREFECT_HOME": str(tmp_path / "prefect")}
            child_env.pop("FRED_API_KEY", None)
            run = subprocess.Popen(  # the CLI in its own process group, with its own Prefect
                [sys.executable, "-m", "liqbrief.cli", "backfill", "--start", str(FIRST),
                 "--end", str(LAST)],
                cwd=PROJECT_ROOT, env=child_env, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            deadline = time.monotonic() + 240
            while (
                len(complete_days(out)) < 2 and run.poll() is None and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            os.killpg(run.pid, signal.SIGKILL)  # no clean-up of any kind
            stderr = run.communicate()[1].decode(errors="replace")
            finished_before_kill = complete_days(out)
            assert 2 <= len(finished_before_kill) < len(DAYS), stderr[-2000:]

            for name, value in env.items():
                monkeypatch.setenv(name, value)
            monkeypatch.delenv("FRED_API_KEY", raising=False)
            result = backfill(FIRST, LAST, ["BTCUSDT"], send=True)
    finally:
        smtp.stop()

    assert set(result["skipped"]) >= {d.isoformat() for d in finished_before_kill}
    assert sorted(result["done"] + result["skipped"]) == [d.isoformat() for d in DAYS]
    for day in DAYS:
        folder = out / day.isoformat()
        assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
            f"liqbrief-{day}.html",
            f"liqbrief-{day}.pdf",
            "sent.json",
        ]
        pages = subprocess.run(
            ["pdfinfo", str(folder / f"liqbrief-{day}.pdf")], capture_output=True, text=True
        )
        assert pages.returncode == 0 and "Pages:" in pages.stdout  # a whole PDF, not a torn one
    lake = Lake(str(lake_root))
    assert len(lake.read(DATASETS["market_context"], "BTCUSDT", FIRST, LAST)) == len(DAYS)
    assert len(lake.read(DATASETS["records"], "BTCUSDT", FIRST, LAST)) == 5 * len(DAYS)
    summary = lake.read(DATASETS["liqmap_summary"], "BTCUSDT", FIRST, LAST)
    assert len(summary) == 3 * len(DAYS)  # one row per date and window, none twice
    subjects = sorted(m["Subject"][:19] for m in inbox.messages)
    assert subjects == sorted(f"liqbrief {d}" for d in DAYS)  # every day once, none twice
