"""`liqbrief record` as a real process against the loopback stand-in: SIGKILLed mid-stream
then restarted, nothing spooled is lost or duplicated; SIGTERM exits 0 with the spool
compacted; a second recorder on the same spool is refused; `--status --json` reports it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from liqbrief.testing.liquidation_ws import (
    LiquidationWsServer,
    binance_event,
    bybit_item,
    bybit_push,
)
from sources.liquidation_streams import parse_frame
from sources.liquidation_streams.model import liquidations_frame
from sources.liquidation_streams.spool import all_segments, read_segment
from store.datasets import realised_dataset
from store.lake import Lake
from store.realised import merge_realised, read_coverage, read_realised
from store.recorder_messages import read_messages
from tests.conftest import PROJECT_ROOT, cli_env

pytestmark = pytest.mark.server
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def batches(first: int, count: int) -> list[str]:
    """Bybit pushes of two liquidations each, timed now (so --status counts them as today)."""
    now_ms = int(time.time() * 1000)
    return [
        bybit_push([bybit_item("BTCUSDT", "Buy", "60000", "0.1", now_ms + 2 * n),
                    bybit_item("BTCUSDT", "Sell", "60100", "0.2", now_ms + 2 * n + 1)])
        for n in range(first, first + count)
    ]  # fmt: skip


def start_recorder(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "liqbrief.cli", "record", "--venues", "bybit", "--symbols", ",".join(SYMBOLS)],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def spooled_frames(spool: Path) -> list[str]:
    return [line.text for p in all_segments(spool) for line in read_segment(p).lines if line.kind == "f"]  # fmt: skip


def wait_for(ready, what: str, process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"recorder exited ({process.returncode}): {process.stderr.read()}")
        assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
        time.sleep(0.05)


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "liqbrief.cli", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_sigkill_then_restart_loses_and_duplicates_nothing_and_sigterm_exits_cleanly(tmp_path):
    spool = tmp_path / "spool"
    first_batch, second_batch = batches(0, 400), batches(400, 30)
    with LiquidationWsServer() as server:
        env = cli_env(tmp_path, LIQBRIEF_BYBIT_WS_URL=server.url("bybit"),
                      LIQBRIEF_SPOOL_DIR=str(spool))  # fmt: skip
        killed = start_recorder(env, tmp_path)
        with ThreadPoolExecutor(1) as pusher:
            try:
                server.wait_subscribed(1, timeout_s=30)
                wait_for(lambda: spooled_frames(spool), "the subscription's ack", killed)
                pushing = pusher.submit(server.push_many, first_batch, 200, "bybit")
                wait_for(lambda: len(spooled_frames(spool)) >= 50, "spooled frames", killed)
            finally:
                os.kill(killed.pid, signal.SIGKILL)  # mid-stream: the push goes on
                killed.wait(10)
            assert 50 <= pushing.result(timeout=10) < 400
        assert killed.returncode == -signal.SIGKILL
        assert list(spool.glob("*.open"))  # the killed recorder's segment, never closed
        spooled_before_kill = [f for f in spooled_frames(spool) if f in first_batch]
        assert 49 <= len(spooled_before_kill) < 400

        restarted = start_recorder(env, tmp_path)
        try:
            server.wait_subscribed(2, timeout_s=30)
            busy = run_cli(["record", "--venues", "bybit"], env, tmp_path)
            assert busy.returncode == 1 and "another recorder" in busy.stderr
            assert "Traceback" not in busy.stderr and len(busy.stderr.strip().splitlines()) == 1
            wait_for(lambda: not list(spool.glob("*.seg")), "recovery compaction", restarted)
            assert server.push_many(second_batch, rate_per_s=400, venue="bybit") == 30
            wait_for(lambda: sum(f in second_batch for f in spooled_frames(spool)) == 30,
                     "spooled frames", restarted)  # fmt: skip
            status = run_cli(["record", "--status", "--json", "--venues", "bybit"], env, tmp_path)
        finally:
            restarted.send_signal(signal.SIGTERM)
            _, stderr = restarted.communicate(timeout=30)
    assert restarted.returncode == 0, stderr
    assert "Traceback" not in stderr and "record: stopped" in stderr
    assert all_segments(spool) == []  # everything compacted on SIGTERM

    lake = Lake(str(tmp_path / "lake"))
    today = datetime.now(UTC).date()
    stored = read_realised(lake, "bybit", "BTCUSDT", today, today)
    expected = [liq.liq_id for f in spooled_before_kill + second_batch
                for liq in parse_frame("bybit", f, set(SYMBOLS)).liquidations]  # fmt: skip
    assert len(stored) == len(expected) == 2 * (len(spooled_before_kill) + 30)
    assert sorted(stored["liq_id"]) == sorted(expected)  # every one, once
    coverage = read_coverage(lake, "bybit", "ETHUSDT", today, today)
    assert len(coverage) == 2 and (coverage["source"] == "stream").all()  # the kill is a gap

    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["running"] is True and report["recorder_pid"] == restarted.pid
    (bybit,) = report["venues"]
    assert bybit["venue"] == "bybit" and bybit["connected"] is True
    assert bybit["liquidations_today"] == len(expected)  # in the lake, and still in the spool
    # the killed segment's frames are in the lake (compacted at the restart), the second
    # batch's still in the spool: each counted once, acks as control frames
    kinds = bybit["messages_today_by_kind"]
    assert kinds["data"] == len(spooled_before_kill) + 30 and kinds["malformed"] == 0
    assert kinds["control"] >= 2 and bybit["malformed_today"] == 0  # one ack per subscription
    assert bybit["messages_today"] == sum(kinds.values())
    stored = read_messages(lake, "bybit", today, today)
    assert stored["data"].sum() == kinds["data"]  # all compacted at the stop: the same count
    assert stored["frames"].sum() >= bybit["messages_today"]  # + pongs after the status
    assert bybit["last_message_at"] >= today.isoformat()
    assert len(bybit["gaps_today"]) >= 2  # before the first start, and the kill


def test_status_of_a_lake_never_recorded_says_so(tmp_path):
    env = cli_env(tmp_path, LIQBRIEF_SPOOL_DIR=str(tmp_path / "spool"))
    result = run_cli(["record", "--status", "--venues", "okx,binance"], env, PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("recorder not running")
    assert [line.split()[0] for line in lines[1:]] == ["okx", "binance"]
    expected = "last message never; 0 message(s) today (0 malformed), 0 liquidation(s)"
    assert all(expected in line for line in lines[1:])
    assert not (tmp_path / "spool").exists() and not (tmp_path / "lake").exists()


def test_a_corrupt_partition_blocks_only_itself_and_the_stop_says_which_file(tmp_path):
    spool, lake = tmp_path / "spool", Lake(str(tmp_path / "lake"))
    now_ms = int(time.time() * 1000)
    today = datetime.now(UTC).date()
    earlier = binance_event("BTCUSDT", "SELL", "60000", "0.5", now_ms - 1000)
    frame = parse_frame("binance", earlier, {"BTCUSDT"}).liquidations
    merge_realised(lake, "binance", "BTCUSDT", liquidations_frame(frame, None, "stream"), "t")
    corrupt = Path(lake.data_path(realised_dataset("binance"), "BTCUSDT", today))
    os.truncate(corrupt, 50)
    binance_frame = binance_event("BTCUSDT", "BUY", "61000", "0.2", now_ms)
    bybit_frames = batches(0, 3)
    with LiquidationWsServer() as server:
        env = cli_env(tmp_path, LIQBRIEF_BYBIT_WS_URL=server.url("bybit"),
                      LIQBRIEF_BINANCE_WS_URL=server.url("binance"),
                      LIQBRIEF_SPOOL_DIR=str(spool))  # fmt: skip
        recorder = subprocess.Popen(
            [sys.executable, "-m", "liqbrief.cli", "record", "--venues", "binance,bybit",
             "--symbols", "BTCUSDT"],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            server.wait_subscribed(2, timeout_s=30)
            wait_for(lambda: len(spooled_frames(spool)) >= 1, "bybit's ack", recorder)
            assert server.push(binance_frame, "binance") == 1
            assert server.push_many(bybit_frames, venue="bybit") == 3
            wanted = {binance_frame, *bybit_frames}
            wait_for(lambda: wanted <= set(spooled_frames(spool)), "spooled frames", recorder)
        finally:
            recorder.send_signal(signal.SIGTERM)
            _, stderr = recorder.communicate(timeout=30)
    assert recorder.returncode == 1, stderr
    assert "Traceback" not in stderr
    [error] = [line for line in stderr.splitlines() if " ERROR " in line]
    assert str(corrupt) in error and "kept in the spool" in error
    [last] = [line for line in stderr.splitlines() if line.startswith("record: stopped")]
    assert "1 segment(s) kept" in last and str(corrupt) in last and f"mv {corrupt}" in last
    stored = read_realised(lake, "bybit", "BTCUSDT", today, today)  # the others went on
    assert len(stored) == 6
    assert any(f == binance_frame for f in spooled_frames(spool))  # kept: nothing lost


def test_a_foreign_error_of_record_does_not_send_the_user_to_a_prefect_run():
    from liqbrief.terminal import failure_line

    line = failure_line(IsADirectoryError(21, "Is a directory"), "record")
    assert "Prefect" not in line and "LIQBRIEF_DEBUG=1" in line
    assert "Prefect run" in failure_line(IsADirectoryError(21, "Is a directory"), "extract")
