"""Ctrl-C on a backfill: SIGINT to the CLI's whole process group (as a terminal sends it,
reaching Prefect's ephemeral server and the render workers too) ends it within seconds with
exit code 130 and one line, no traceback, no process left behind; the next run finishes the
days the interrupted one had not, without redoing or duplicating the others."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.backfill import backfill
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import build_archive
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import PROJECT_ROOT, cli_env

pytestmark = [pytest.mark.flow, pytest.mark.server]
INPUTS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m", "funding_rate"]
FIRST, LAST = date(2024, 2, 3), date(2024, 2, 8)
DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
PROMPT_EXIT_SECONDS = 15


def complete_days(out: Path) -> list[date]:
    """Days whose HTML and PDF both exist: what the backfill counts as done."""
    return [
        d for d in DAYS
        if all((out / d.isoformat() / f"liqbrief-{d}.{ext}").exists() for ext in ("pdf", "html"))
    ]  # fmt: skip


def live_members(pgid: int) -> list[str]:
    """The processes of group ``pgid`` still running (zombies, done but not yet reaped by
    init, do not count): their command lines."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(command.decode(errors="replace")[:120])
    return members


def interrupt_after_first_day(run: subprocess.Popen, out: Path) -> tuple[float, str]:
    """SIGINT to the run's process group once a day is complete; seconds until it exited
    and its stderr."""
    deadline = time.monotonic() + 240
    while not complete_days(out) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, "the backfill ended before it could be interrupted"
    os.killpg(run.pid, signal.SIGINT)
    sent = time.monotonic()
    try:
        stderr = run.communicate(timeout=PROMPT_EXIT_SECONDS)[1]
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        stderr = run.communicate()[1]
        pytest.fail(f"still running {PROMPT_EXIT_SECONDS} s after SIGINT: {stderr[-2000:]!r}")
    return time.monotonic() - sent, stderr.decode(errors="replace")


def test_ctrl_c_stops_a_backfill_at_once_and_a_rerun_finishes_it(
    prefect_harness, tmp_path, monkeypatch
) -> None:
    out, lake_root = tmp_path / "reports", tmp_path / "lake"
    files = build_archive(["BTCUSDT"], INPUTS, date(2024, 1, 1), LAST, monthly=False)
    with ArchiveMirror(files) as mirror:
        env = cli_env(
            tmp_path, LIQBRIEF_BINANCE_ARCHIVE_URL=mirror.base_url, LIQBRIEF_RENDER_WORKERS="2"
        )
        run = subprocess.Popen(  # own process group, as a terminal's foreground job
            [sys.executable, "-m", "liqbrief.cli", "backfill", "--start", str(FIRST),
             "--end", str(LAST), "--force"],
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        seconds, stderr = interrupt_after_first_day(run, out)
        time.sleep(1)
        left_behind = live_members(run.pid)  # the ephemeral server, render workers
        if left_behind:
            os.killpg(run.pid, signal.SIGKILL)
        finished_before = complete_days(out)

        assert run.returncode == 130, stderr[-2000:]
        assert seconds < PROMPT_EXIT_SECONDS
        assert stderr.strip().splitlines()[-1] == "liqbrief backfill: interrupted", stderr[-2000:]
        assert stderr.count("interrupted") == 1
        assert "Traceback" not in stderr and "Error logging to API" not in stderr, stderr
        assert not left_behind, left_behind
        assert 1 <= len(finished_before) < len(DAYS), stderr[-2000:]

        monkeypatch.setenv("LIQBRIEF_LAKE", str(lake_root))
        monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(out))
        monkeypatch.setenv("LIQBRIEF_BINANCE_ARCHIVE_URL", mirror.base_url)
        monkeypatch.setenv("LIQBRIEF_FRED_CSV_URL", "http://127.0.0.1:9")
        monkeypatch.setenv("LIQBRIEF_RENDER_WORKERS", "1")
        result = backfill(FIRST, LAST, ["BTCUSDT"])

    assert set(result["skipped"]) == {d.isoformat() for d in finished_before}
    assert sorted(result["done"] + result["skipped"]) == [d.isoformat() for d in DAYS]
    for day in DAYS:
        names = sorted(p.name for p in (out / day.isoformat()).iterdir())
        assert names == [f"liqbrief-{day}.html", f"liqbrief-{day}.pdf"]
    lake = Lake(str(lake_root))
    assert len(lake.read(DATASETS["market_context"], "BTCUSDT", FIRST, LAST)) == len(DAYS)
    assert len(lake.read(DATASETS["liqmap_summary"], "BTCUSDT", FIRST, LAST)) == 3 * len(DAYS)
