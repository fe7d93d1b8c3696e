#!/usr/bin/env python
"""Benchmark: the liquidation recorder under a 2,000-liquidations-a-second stream.

``liqbrief record --venues bybit`` runs as a real process against the loopback stand-in
(liqbrief/testing/liquidation_ws.py), which pushes Bybit allLiquidation frames of one
liquidation each (the worst case: a frame, a spool line and a parse per liquidation) at
``--rate`` a second for ``--seconds``. Then SIGTERM: the recorder closes its segment and
compacts it. Prints sent vs stored (no loss, no duplicate), the recorder's CPU share while
streaming and for the whole run, its peak memory (ru_maxrss, compaction included) and the
shutdown (compaction) time. Then the spool's write cost per frame with the shipped policy
(one write per frame, fsync each second) against an fsync per frame.

Target: every liquidation sent is stored once; the recorder keeps up with one core to spare.
Run: python bench/record.py [--rate 2000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from liqbrief.testing.liquidation_ws import LiquidationWsServer, bybit_item, bybit_push
from sources.liquidation_streams.spool import SpoolWriter, all_segments, read_segment
from store.lake import Lake
from store.realised import read_realised
from store.recorder_messages import read_messages

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM)."""
    line = next(
        x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmHWM")
    )
    return int(line.split()[1]) / 1024


def frames(count: int) -> list[str]:
    """One liquidation a frame, each distinct (time, side, price)."""
    start_ms = int(time.time() * 1000)
    return [
        bybit_push([bybit_item("BTCUSDT", "Buy" if n % 2 else "Sell", f"{60000 + n % 500}",
                               "0.01", start_ms + n)])
        for n in range(count)
    ]  # fmt: skip


def spooled(spool: Path) -> int:
    return sum(
        line.kind == "f" for path in all_segments(spool) for line in read_segment(path).lines
    )


def wait_until(ready, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            sys.exit(f"bench: no {what} within {timeout_s} s")
        time.sleep(0.05)


def run_stream(rate: int, seconds: int, work: Path) -> None:
    texts = frames(rate * seconds)
    spool = work / "spool"
    with LiquidationWsServer() as server:
        env = os.environ | {
            "LIQBRIEF_LAKE": str(work / "lake"), "LIQBRIEF_SPOOL_DIR": str(spool),
            "LIQBRIEF_BYBIT_WS_URL": server.url("bybit"), "DO_NOT_TRACK": "1",
        }  # fmt: skip
        command = [sys.executable, "-m", "liqbrief.cli", "record", "--venues", "bybit",
                   "--symbols", "BTCUSDT"]  # fmt: skip
        recorder = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
        server.wait_subscribed(1, timeout_s=60)
        wait_until(lambda: spooled(spool) >= 1, 30, "subscription acknowledgement")
        cpu_before, started = cpu_seconds(recorder.pid), time.monotonic()
        sent = server.push_many(texts, rate_per_s=rate, venue="bybit")
        pushed_s = time.monotonic() - started
        wait_until(lambda: spooled(spool) >= sent + 1, 60, "spooled frames")
        streaming_cpu = cpu_seconds(recorder.pid) - cpu_before
        streaming_s = time.monotonic() - started
        spool_bytes = sum(p.stat().st_size for p in all_segments(spool))
        streaming_peak_mb = peak_rss_mb(recorder.pid)
        stopping = time.monotonic()
        recorder.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(recorder.pid, 0)
        shutdown_s = time.monotonic() - stopping
        recorder.returncode = os.waitstatus_to_exitcode(status)
    today = datetime.now(UTC).date()
    stored = read_realised(Lake(str(work / "lake")), "bybit", "BTCUSDT", today, today)
    messages = read_messages(Lake(str(work / "lake")), "bybit", today, today)
    total_cpu = usage.ru_utime + usage.ru_stime
    counted = {k: int(messages[k].sum()) for k in ("frames", "data", "control", "malformed")}
    print(f"stream: {sent:,} liquidations sent in {pushed_s:.1f} s ({sent / pushed_s:,.0f}/s)")
    print(f"stored: {len(stored):,} rows, {stored['liq_id'].nunique():,} distinct; "
          f"lost {sent - stored['liq_id'].nunique():,}; duplicates {len(stored) - stored['liq_id'].nunique():,}")  # fmt: skip
    print(f"recorder_messages: {counted['data']:,} data frames counted for {sent:,} sent; "
          f"{counted['control']} control, {counted['malformed']} malformed, {counted['frames']:,} in all")  # fmt: skip
    print(f"recorder CPU while streaming: {streaming_cpu:.1f} s over {streaming_s:.1f} s = "
          f"{100 * streaming_cpu / streaming_s:.0f} % of one core")  # fmt: skip
    print(f"recorder CPU, whole run incl. start-up and compaction: {total_cpu:.1f} s")
    print(f"recorder peak memory: {streaming_peak_mb:.0f} MB while streaming, "
          f"{usage.ru_maxrss / 1024:.0f} MB over the whole run (compaction included)")  # fmt: skip
    print(f"spool: {spool_bytes / 1e6:.1f} MB for {sent:,} frames; SIGTERM to exit (close + "
          f"compaction): {shutdown_s:.1f} s, exit code {recorder.returncode}")  # fmt: skip


def write_cost(work: Path, count: int, fsync_every_frame: bool) -> float:
    """Microseconds per append_frame (one os.write), optionally with an fsync each frame."""
    spool = SpoolWriter(work / ("fsync" if fsync_every_frame else "flush"), {"bybit": ["BTCUSDT"]})
    spool.open()
    text = frames(1)[0]
    started = time.perf_counter()
    for n in range(count):
        spool.append_frame("bybit", n, text)
        if fsync_every_frame:
            os.fsync(spool._fd)  # the policy not shipped, measured for comparison
    elapsed = time.perf_counter() - started
    spool.close()
    spool.release()
    return elapsed / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=2000, help="liquidations a second")
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_stream(args.rate, args.seconds, Path(tmp))
        flush_us = write_cost(Path(tmp), 20_000, fsync_every_frame=False)
        fsync_us = write_cost(Path(tmp), 2_000, fsync_every_frame=True)
    print(f"spool write per frame: {flush_us:.1f} µs (to the OS, fsync each second: shipped); "
          f"{fsync_us:.0f} µs with an fsync per frame ({1e6 / fsync_us:,.0f} frames/s at most)")  # fmt: skip


if __name__ == "__main__":
    main()
