"""The recorder through its real code path: websockets against the loopback stand-in of each
venue, the spool on disk, compaction into a real lake. The lake must end with exactly the
liquidations sent, once each, and the coverage must show the disconnected stretch."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from liqbrief.testing.liquidation_ws import (
    LiquidationWsServer,
    binance_event,
    bybit_item,
    bybit_push,
    okx_detail,
    okx_push,
)
from sources.liquidation_streams import Backoff, parse_frame
from sources.liquidation_streams.compact import compact_closed, compact_segment, connected_intervals
from sources.liquidation_streams.recorder import RecorderConfig, record
from sources.liquidation_streams.spool import (
    SpoolBusyError,
    SpoolLine,
    SpoolWriter,
    closed_segments,
    read_segment,
)
from store.lake import Lake
from store.realised import read_coverage, read_realised
from store.recorder_messages import read_messages

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
VENUES = ("binance", "bybit", "okx")
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z, epoch ms
DAY = date(2023, 11, 14)


@dataclass(frozen=True)
class FixedBackoff(Backoff):
    """Reconnects after exactly ``wait_s``: the disconnected stretch has a known length."""

    wait_s: float = 0.4

    def delay(self, attempt: int) -> float:
        return self.wait_s


def frames_of(venue: str, n: int) -> list[str]:
    """Documented data frames of ``venue`` (Bybit batched, OKX several instruments), each
    with liquidations of SYMBOLS at distinct times from ``n``."""
    base = T0 + n * 10
    if venue == "binance":
        return [binance_event("BTCUSDT", "SELL", "60000", "0.5", base),
                binance_event("ETHUSDT", "BUY", "3000", "2", base + 1)]  # fmt: skip
    if venue == "bybit":
        batch = [bybit_item("BTCUSDT", side, "60000", "0.1", base + k)
                 for k, side in enumerate(["Buy", "Sell", "Buy"])]  # fmt: skip
        return [bybit_push(batch), bybit_push([bybit_item("ETHUSDT", time_ms=base)], "ETHUSDT")]
    details = [okx_detail("long", "sell", "60000", str(k + 1), base + k) for k in range(2)]
    return [okx_push(("BTC-USDT-SWAP", details), ("ETH-USDT-SWAP", [okx_detail(time_ms=base)]))]


UNKNOWN_SYMBOL = {
    "binance": binance_event("DOGEUSDT", time_ms=T0),
    "bybit": bybit_push([bybit_item("DOGEUSDT", time_ms=T0)], "DOGEUSDT"),
    "okx": okx_push(("SOL-USDT-SWAP", [okx_detail(time_ms=T0)])),
}
MALFORMED = '{"e":"forceOrder","o":{"s":'


def ids_of(venue: str, frames: list[str]) -> list[str]:
    return [liq.liq_id for f in frames for liq in parse_frame(venue, f, set(SYMBOLS)).liquidations]


def stored_ids(lake: Lake, venue: str) -> list[str]:
    return [i for s in SYMBOLS for i in read_realised(lake, venue, s, DAY, DAY)["liq_id"]]


def config_for(server: LiquidationWsServer, tmp: Path, **timings: float) -> RecorderConfig:
    return RecorderConfig(
        lake_root=str(tmp / "lake"), spool_dir=tmp / "spool",
        urls={venue: server.url(venue) for venue in VENUES}, symbols=SYMBOLS,
        backoff=FixedBackoff(initial_s=0.05, ack_timeout_s=2.0),
        **({"rotate_s": 3600.0, "alive_every_s": 0.05, "tick_s": 0.05} | timings),
    )  # fmt: skip


async def spooled(spool_dir: Path, text: str, count: int = 1, timeout_s: float = 5.0) -> None:
    """Wait until ``text`` has been spooled ``count`` times (it counts as received)."""
    deadline = time.monotonic() + timeout_s
    needle = SpoolLine("f", "", 0, text)
    while True:
        found = 0
        for path in spool_dir.glob("*.*"):
            if path.suffix in (".open", ".seg"):
                found += sum(line.text == needle.text for line in read_segment(path).lines)
        if found >= count:
            return
        assert time.monotonic() < deadline, f"never spooled: {text[:60]}"
        await asyncio.sleep(0.02)


@pytest.mark.server
def test_the_lake_ends_with_exactly_the_liquidations_sent_once_each(tmp_path):
    with LiquidationWsServer() as server:
        config = config_for(server, tmp_path, rotate_s=0.3)  # several segments mid-run
        sent = {venue: frames_of(venue, 0) + frames_of(venue, 1) for venue in VENUES}

        async def scenario() -> tuple:
            stop = asyncio.Event()
            run = asyncio.create_task(record(config, stop))
            await asyncio.to_thread(server.wait_subscribed, 3)
            await asyncio.sleep(0.2)  # the subscriptions are acknowledged
            for venue in VENUES:
                for text in [*sent[venue][:1], MALFORMED, UNKNOWN_SYMBOL[venue]]:
                    assert await asyncio.to_thread(server.push, text, venue) == 1
                await spooled(config.spool_dir, sent[venue][0])
            assert await asyncio.to_thread(server.send_ping) == 3  # answered by websockets
            dropped_at = pd.Timestamp.now(tz="UTC")
            torn = sent["bybit"][1]
            assert await asyncio.to_thread(server.push_bytes_then_drop, torn, 30, "bybit") == 1
            await asyncio.to_thread(server.wait_subscribed, 4)  # Bybit resubscribed
            await asyncio.sleep(0.2)
            for venue in VENUES:
                for text in sent[venue][1:]:
                    assert await asyncio.to_thread(server.push, text, venue) == 1
                await spooled(config.spool_dir, sent[venue][-1])
            await asyncio.sleep(0.4)  # a rotation and a compaction mid-run
            stop.set()
            return await asyncio.wait_for(run, 10), dropped_at

        summary, dropped_at = asyncio.run(scenario())
    lake = Lake(config.lake_root)
    for venue in VENUES:
        stored = stored_ids(lake, venue)
        assert sorted(stored) == sorted(ids_of(venue, sent[venue]))
        assert len(stored) == len(set(stored)) == {"binance": 4, "bybit": 8, "okx": 6}[venue]
    assert summary.compaction.segments >= 3 and summary.compaction.malformed == 3
    assert summary.compaction.skipped_symbols == 3
    assert closed_segments(config.spool_dir) == [] and not list(config.spool_dir.glob("*.open"))
    today = pd.Timestamp.now(tz="UTC").date()
    coverage = read_coverage(lake, "bybit", "BTCUSDT", today, today)
    assert set(coverage["source"]) == {"stream"} and len(coverage) == 2
    gap_start, gap_end = coverage["end"].iloc[0], coverage["start"].iloc[1]
    assert gap_start <= dropped_at + pd.Timedelta("50ms")  # nothing covered after the drop
    assert gap_end - gap_start >= pd.Timedelta("0.35s")  # the 0.4 s back-off is a gap
    for venue in ("binance", "okx"):  # never dropped: one interval, the gap-free run
        assert len(read_coverage(lake, venue, "ETHUSDT", today, today)) == 1


def test_connected_intervals_end_at_the_last_time_known_connected():
    lines = [
        SpoolLine("f", "okx", 5, "pong"),  # before any `up`: not coverage
        SpoolLine("up", "okx", 10), SpoolLine("f", "okx", 20, "x"), SpoolLine("alive", "okx", 30),
        SpoolLine("down", "okx", 45, "connection closed"),  # 30..45 unknown: not covered
        SpoolLine("up", "bybit", 12), SpoolLine("up", "okx", 50), SpoolLine("f", "okx", 70, "y"),
        SpoolLine("alive", "bybit", 90),  # the segment ends: bybit and okx still up
    ]  # fmt: skip
    assert connected_intervals(lines) == {"okx": [(10, 30), (50, 70)], "bybit": [(12, 90)]}
    assert connected_intervals([SpoolLine("up", "okx", 1), SpoolLine("down", "okx", 9)]) == {
        "okx": []
    }


def _segment_with(tmp_path: Path, frames: list[str]) -> Path:
    spool = SpoolWriter(tmp_path / "spool", {"bybit": SYMBOLS})
    spool.open()
    spool.append_event("up", "bybit", 1_700_000_000_000_000)
    for n, text in enumerate(frames):
        spool.append_frame("bybit", 1_700_000_000_100_000 + n, text)
    spool.append_event("down", "bybit", 1_700_000_000_200_000, "stopped")
    path = spool.close()
    spool.release()
    assert path is not None
    return path


def test_a_segment_compacted_twice_or_after_a_crash_adds_nothing_and_loses_nothing(tmp_path):
    frames = frames_of("bybit", 0) + frames_of("bybit", 1)
    path = _segment_with(tmp_path, frames)
    copy = tmp_path / "copy.seg"
    shutil.copy(path, copy)
    lake = Lake(str(tmp_path / "lake"))
    first = compact_segment(lake, path, chunk_frames=3)  # in chunks: the same rows
    assert first.added == 8 and not path.exists()
    before = sorted(p.read_bytes() for p in (tmp_path / "lake").rglob("*.parquet"))
    shutil.copy(copy, path)  # a crash after the lake writes, before the segment was removed
    again = compact_segment(lake, path)
    assert again.liquidations == 8 and again.added == 0
    assert sorted(p.read_bytes() for p in (tmp_path / "lake").rglob("*.parquet")) == before
    assert sorted(stored_ids(lake, "bybit")) == sorted(ids_of("bybit", frames))


def test_a_torn_last_line_is_skipped_and_the_rest_is_kept(tmp_path):
    frames = frames_of("bybit", 0)
    path = _segment_with(tmp_path, frames)
    with path.open("ab") as handle:
        handle.write(b'{"k":"f","v":"bybit","t":1700000000200000,"x":"{\\"topic')  # SIGKILL here
    lake = Lake(str(tmp_path / "lake"))
    report = compact_closed(lake, tmp_path / "spool")
    assert report.torn_lines == 1 and report.added == 4
    assert sorted(stored_ids(lake, "bybit")) == sorted(ids_of("bybit", frames))


def test_segments_rotate_when_their_period_ends_and_carry_the_connection_over(tmp_path):
    spool = SpoolWriter(tmp_path, {"okx": SYMBOLS}, rotate_s=3600)
    hour = 1_700_002_800_000_000  # 23:00:00 UTC
    spool.open(at_us=hour - 6_000_000)
    spool.append_event("up", "okx", hour - 5_000_000)
    spool.note_alive("okx", hour - 1_000_000)  # a ping answered: connected until then
    assert spool.tick(hour - 1) is None
    closed = spool.tick(hour + 1)  # the next hour: rotate
    assert closed is not None and closed.suffix == ".seg"
    first = read_segment(closed)
    spool.note_alive("okx", hour + 1_000_000)
    spool.append_event("down", "okx", hour + 2_000_000, "stopped")
    spool.close()
    second = read_segment(closed_segments(tmp_path)[-1])
    spool.release()
    assert first.symbols == second.symbols == {"okx": SYMBOLS}
    # never covered on trust past the last proof of life; the next segment takes over there
    assert connected_intervals(first.lines) == {"okx": [(hour - 5_000_000, hour - 1_000_000)]}
    assert connected_intervals(second.lines) == {"okx": [(hour - 1_000_000, hour + 1_000_000)]}
    assert [line.kind for line in second.lines] == ["up", "alive", "down"]


def test_a_second_recorder_on_the_same_spool_is_refused(tmp_path):
    first = SpoolWriter(tmp_path, {"okx": SYMBOLS})
    first.open()
    try:
        with pytest.raises(SpoolBusyError, match="another recorder"):
            SpoolWriter(tmp_path, {"okx": SYMBOLS}).open()
    finally:
        first.close()
        first.release()
    second = SpoolWriter(tmp_path, {"okx": SYMBOLS})
    assert len(second.open()) == 0  # released: the next one may take it
    second.close()
    second.release()


def test_gaps_are_what_no_covered_span_reaches():
    from datetime import UTC, datetime

    from sources.liquidation_streams.status import gaps

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 12, 6, hour, minute, tzinfo=UTC)

    covered = [(at(1), at(2)), (at(1, 30), at(3)), (at(3), at(4)), (at(6), at(7))]
    assert gaps(covered, at(0), at(8)) == [(at(0), at(1)), (at(4), at(6)), (at(7), at(8))]
    assert gaps([(at(0), at(9))], at(0), at(8)) == []
    assert gaps([], at(0), at(8)) == [(at(0), at(8))]


def _bybit_segment(spool_dir: Path, first: int, count: int, at_us: int) -> list[str]:
    """A closed segment of ``count`` one-liquidation Bybit frames, connected from ``at_us``."""
    frames = [bybit_push([bybit_item("BTCUSDT", "Buy", "60000", "0.1", T0 + n)]) for n in range(first, first + count)]  # fmt: skip
    spool = SpoolWriter(spool_dir, {"bybit": ["BTCUSDT"]})
    spool.open(at_us=at_us)
    spool.append_event("up", "bybit", at_us)
    for n, text in enumerate(frames):
        spool.append_frame("bybit", at_us + 1 + n, text)
    spool.note_alive("bybit", at_us + 1_000_000)
    spool.append_event("down", "bybit", at_us + 1_000_000, "stopped")
    spool.close()
    spool.release()
    return frames


KILLED_INSIDE_WRITE_DAY = """
import os, signal, sys
from pathlib import Path
from sources.liquidation_streams.compact import compact_closed
from store.lake import Lake
real = Lake.write_bytes
def write_bytes(self, path, raw):
    if path.endswith(".parquet") and sys.argv[3] in path:
        os.kill(os.getpid(), signal.SIGKILL)  # the ledger record is gone, the data not renamed
    return real(self, path, raw)
Lake.write_bytes = write_bytes
compact_closed(Lake(sys.argv[1]), Path(sys.argv[2]))
"""


@pytest.mark.parametrize(
    "dataset", ["realised_liquidations", "recorder_coverage", "recorder_messages"]
)
def test_a_kill_inside_a_day_write_loses_no_stored_row_after_the_restart(tmp_path, dataset):
    import signal
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    lake, spool_dir = Lake(str(tmp_path / "lake")), tmp_path / "spool"
    start_us = T0 * 1000
    first = _bybit_segment(spool_dir, 0, 300, start_us)
    assert compact_closed(lake, spool_dir).added == 300
    second = _bybit_segment(spool_dir, 300, 10, start_us + 5_000_000)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_INSIDE_WRITE_DAY, lake.root, str(spool_dir), dataset],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(closed_segments(spool_dir)) == 1  # not compacted: the restart does it again
    report = compact_closed(lake, spool_dir)  # the restarted recorder's recovery compaction
    assert report.segments == 1 and closed_segments(spool_dir) == []
    stored = read_realised(lake, "bybit", "BTCUSDT", DAY, DAY)
    assert sorted(stored["liq_id"]) == sorted(ids_of("bybit", first + second))
    coverage = read_coverage(lake, "bybit", "BTCUSDT", DAY, DAY)
    assert list(coverage["start"]) == [pd.Timestamp(start_us + d, unit="us", tz="UTC") for d in (0, 5_000_000)]  # fmt: skip
    messages = read_messages(lake, "bybit", DAY, DAY)  # one row per segment, none twice
    assert list(messages["data"]) == list(messages["frames"]) == [300, 10]


@pytest.mark.server
def test_a_symbol_the_venue_refuses_is_dropped_with_a_warning_and_the_others_go_on(
    tmp_path, caplog
):
    from sources.liquidation_streams.status import recorder_status

    symbols = ["BTCUSDT", "FOOUSDT", "ETHUSDT"]
    with LiquidationWsServer(refuse_topics=frozenset({"allLiquidation.FOOUSDT"})) as server:
        config = RecorderConfig(
            lake_root=str(tmp_path / "lake"), spool_dir=tmp_path / "spool",
            urls={"bybit": server.url("bybit")}, symbols=symbols,
            backoff=FixedBackoff(initial_s=0.05, ack_timeout_s=2.0),
            alive_every_s=0.05, tick_s=0.05,
        )  # fmt: skip
        sent = frames_of("bybit", 0)

        async def scenario() -> dict:
            stop = asyncio.Event()
            run = asyncio.create_task(record(config, stop))
            subscribed = await asyncio.to_thread(server.wait_subscribed, 2)
            assert subscribed[1].args == ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT"]
            await asyncio.sleep(0.2)  # acknowledged
            for text in sent:
                assert await asyncio.to_thread(server.push, text, "bybit") == 1
            await spooled(config.spool_dir, sent[-1])
            status = recorder_status(Lake(config.lake_root), config.spool_dir, ["bybit"])
            stop.set()
            await asyncio.wait_for(run, 10)
            return status

        with caplog.at_level("WARNING", logger="sources.liquidation_streams"):
            status = asyncio.run(scenario())
    assert status["venues"][0]["refused_symbols"] == ["FOOUSDT"]
    assert any(
        r.levelname == "WARNING" and "FOOUSDT not recorded on bybit" in r.getMessage()
        for r in caplog.records
    )
    lake = Lake(config.lake_root)
    assert sorted(stored_ids(lake, "bybit")) == sorted(ids_of("bybit", sent))
    today = pd.Timestamp.now(tz="UTC").date()
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert len(read_coverage(lake, "bybit", symbol, today, today)) == 1
    assert read_coverage(lake, "bybit", "FOOUSDT", today, today).empty  # never recorded


@pytest.mark.server
def test_okx_symbols_without_a_contract_value_get_no_coverage(tmp_path):
    with LiquidationWsServer() as server:
        config = RecorderConfig(
            lake_root=str(tmp_path / "lake"), spool_dir=tmp_path / "spool",
            urls={"okx": server.url("okx")}, symbols=["BTCUSDT", "FOOUSDT"],
            backoff=FixedBackoff(initial_s=0.05, ack_timeout_s=2.0),
            alive_every_s=0.05, tick_s=0.05,
        )  # fmt: skip
        sent = okx_push(
            ("BTC-USDT-SWAP", [okx_detail(time_ms=T0)]), ("FOO-USDT-SWAP", [okx_detail(time_ms=T0)])
        )

        async def scenario() -> None:
            stop = asyncio.Event()
            run = asyncio.create_task(record(config, stop))
            await asyncio.to_thread(server.wait_subscribed, 1)
            await asyncio.sleep(0.2)  # acknowledged
            assert await asyncio.to_thread(server.push, sent, "okx") == 1
            await spooled(config.spool_dir, sent)
            await asyncio.sleep(0.1)
            stop.set()
            await asyncio.wait_for(run, 10)

        asyncio.run(scenario())
    lake = Lake(config.lake_root)
    today = pd.Timestamp.now(tz="UTC").date()
    assert len(read_realised(lake, "okx", "BTCUSDT", DAY, DAY)) == 1
    assert len(read_coverage(lake, "okx", "BTCUSDT", today, today)) == 1
    assert read_realised(lake, "okx", "FOOUSDT", DAY, DAY).empty  # its sizes cannot be read
    assert read_coverage(lake, "okx", "FOOUSDT", today, today).empty  # so never "covered"


def test_identical_items_of_one_frame_are_distinct_rows_and_a_replay_adds_none(tmp_path):
    import json

    same_bybit = bybit_item("BTCUSDT", "Buy", "97000", "0.01", T0)
    same_okx = okx_detail("long", "sell", "60000", "1", T0)
    same_binance = json.loads(binance_event("BTCUSDT", "SELL", "60000", "0.5", T0))
    frames = {
        "bybit": bybit_push([same_bybit, dict(same_bybit), bybit_item(time_ms=T0 + 1)]),
        "okx": okx_push(("BTC-USDT-SWAP", [same_okx, dict(same_okx), okx_detail(time_ms=T0 + 1)])),
        "binance": json.dumps([same_binance, same_binance, json.loads(binance_event(time_ms=T0 + 1))]),
    }  # fmt: skip
    spool = SpoolWriter(tmp_path / "spool", {venue: ["BTCUSDT"] for venue in VENUES})
    spool.open()
    for n, (venue, text) in enumerate(frames.items()):
        spool.append_frame(venue, T0 * 1000 + n, text)
    path = spool.close()
    spool.release()
    assert path is not None
    copy = tmp_path / "copy.seg"
    shutil.copy(path, copy)
    lake = Lake(str(tmp_path / "lake"))
    assert compact_segment(lake, path).added == 9  # three rows a venue, the twins included
    shutil.copy(copy, path)
    assert compact_segment(lake, path).added == 0  # the same frames again: nothing new
    for venue in VENUES:
        stored = read_realised(lake, venue, "BTCUSDT", DAY, DAY)
        assert len(stored) == stored["liq_id"].nunique() == 3, venue
        assert stored["raw"].value_counts().max() == 2  # the twins, kept as received


def _write_segment(path: Path, lines: list[dict]) -> None:
    import json

    header = {"k": "hdr", "t": lines[0]["t"], "pid": 1, "symbols": {"okx": SYMBOLS}}
    path.write_text("".join(json.dumps(x) + "\n" for x in [header, *lines]))


def test_status_counts_the_time_between_a_kill_and_the_restart_as_a_gap(tmp_path):
    from datetime import UTC, datetime

    from sources.liquidation_streams.status import recorder_status

    def at(hour: int) -> int:
        return int(datetime(2026, 12, 6, hour, tzinfo=UTC).timestamp() * 1_000_000)

    spool = tmp_path / "spool"
    spool.mkdir()
    killed = [{"k": "up", "v": "okx", "t": at(1)}, {"k": "alive", "v": "okx", "t": at(2)}]
    _write_segment(spool / f"{at(1):017d}-1.seg", killed)  # SIGKILLed: no "down"
    restarted = [{"k": "up", "v": "okx", "t": at(5)}, {"k": "alive", "v": "okx", "t": at(6)},
                 {"k": "down", "v": "okx", "t": at(6), "r": "stopped"}]  # fmt: skip
    _write_segment(spool / f"{at(5):017d}-2.seg", restarted)
    now = datetime(2026, 12, 6, 8, tzinfo=UTC)
    report = recorder_status(Lake(str(tmp_path / "lake")), spool, ["okx"], now=now)
    gaps = [(g["start"].hour, g["end"].hour) for g in report["venues"][0]["gaps_today"]]
    assert gaps == [(0, 1), (2, 5), (6, 8)]  # 02:00-05:00: killed, not covered
    assert report["venues"][0]["covered_today_pct"] == 25.0


def test_status_reads_the_spool_in_bounded_memory_and_opens_nothing_for_writing(tmp_path):
    import os
    import sys
    import tracemalloc
    from datetime import UTC, datetime

    from sources.liquidation_streams.status import recorder_status

    spool = tmp_path / "spool"
    writer = SpoolWriter(spool, {"bybit": SYMBOLS})
    writer.open(at_us=T0 * 1000)
    writer.append_event("up", "bybit", T0 * 1000)
    for n in range(20_000):
        text = bybit_push([bybit_item("BTCUSDT", "Buy", "60000", "0.1", T0 + n)])
        writer.append_frame("bybit", T0 * 1000 + n, text)
    writer.close()  # the lock file stays, like a stopped recorder's
    writer.release()
    size = sum(p.stat().st_size for p in spool.glob("*.seg"))
    writes: list[str] = []
    watching = [str(spool)]

    def audit(event: str, args: tuple) -> None:
        if event == "open" and watching and str(args[0]).startswith(watching[0]):
            mode, flags = args[1] or "", args[2] or 0
            if any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                writes.append(f"{args[0]} {mode or flags}")

    sys.addaudithook(audit)  # cannot be removed: ``watching`` switches it off below
    tracemalloc.start()
    try:
        now = datetime(2023, 11, 15, 1, tzinfo=UTC)
        report = recorder_status(Lake(str(tmp_path / "lake")), spool, ["bybit"], now=now)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        watching.clear()
    assert report["segments_pending"] == 1 and report["running"] is False
    assert report["venues"][0]["last_message_at"] is not None
    assert writes == []  # the lock file probed read-only: status changes nothing
    assert peak < size / 4, (peak, size)  # line by line, never the whole segment


@pytest.mark.server
def test_a_quiet_session_is_covered_up_to_its_last_answered_ping(tmp_path):
    with LiquidationWsServer() as server:
        config = config_for(server, tmp_path, alive_every_s=0.1)  # no frame: pings prove it

        async def scenario() -> None:
            stop = asyncio.Event()
            run = asyncio.create_task(record(config, stop))
            await asyncio.to_thread(server.wait_subscribed, 3)
            await asyncio.sleep(0.6)  # subscribed and quiet
            stop.set()
            await asyncio.wait_for(run, 10)

        asyncio.run(scenario())
    lake = Lake(config.lake_root)
    today = pd.Timestamp.now(tz="UTC").date()
    for venue in VENUES:
        coverage = read_coverage(lake, venue, "BTCUSDT", today, today)
        assert len(coverage) == 1, venue  # up to the last ping answered before the stop
        assert coverage["end"].iloc[0] - coverage["start"].iloc[0] >= pd.Timedelta("0.3s")


@pytest.mark.server
def test_a_slow_disk_never_stalls_the_event_loop_that_reads_the_streams(tmp_path, monkeypatch):
    import os

    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:  # a disk that takes 0.7 s to sync
        time.sleep(0.7)
        real_fsync(fd)

    with LiquidationWsServer() as server:
        config = config_for(server, tmp_path, rotate_s=0.5, fsync_every_s=0.1)

        async def scenario() -> float:
            stop = asyncio.Event()
            run = asyncio.create_task(record(config, stop))
            await asyncio.to_thread(server.wait_subscribed, 3)
            monkeypatch.setattr(os, "fsync", slow_fsync)
            worst, last = 0.0, time.monotonic()
            for _ in range(150):  # 1.5 s: several fsyncs and rotations
                await asyncio.sleep(0.01)
                now = time.monotonic()
                worst, last = max(worst, now - last), now
            monkeypatch.setattr(os, "fsync", real_fsync)
            stop.set()
            await asyncio.wait_for(run, 20)
            return worst

        worst = asyncio.run(scenario())
    assert worst < 0.4, f"the event loop stalled {worst:.2f} s"  # blocked: >= 0.7 s


@pytest.mark.server
def test_a_silently_dead_connection_is_not_covered_past_its_last_answered_ping(tmp_path):
    with LiquidationWsServer() as server:
        config = config_for(server, tmp_path, alive_every_s=0.1)
        config = replace(config, backoff=replace(config.backoff, probe_timeout_s=0.4))

        async def scenario() -> pd.Timestamp:
            stop = asyncio.Event()
            run = asyncio.create_task(record(config, stop))
            await asyncio.to_thread(server.wait_subscribed, 3)
            await asyncio.sleep(0.5)
            stalled_at = pd.Timestamp.now(tz="UTC")
            assert await asyncio.to_thread(server.stall, "okx") == 1  # TCP up, nobody home
            await asyncio.to_thread(server.wait_subscribed, 4, 5.0)  # given up, reconnected
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.wait_for(run, 10)
            return stalled_at

        stalled_at = asyncio.run(scenario())
    lake = Lake(config.lake_root)
    today = pd.Timestamp.now(tz="UTC").date()
    coverage = read_coverage(lake, "okx", "BTCUSDT", today, today)
    assert len(coverage) == 2  # before the stall, and after the reconnection
    assert coverage["end"].iloc[0] <= stalled_at + pd.Timedelta("20ms")
    assert coverage["start"].iloc[1] - coverage["end"].iloc[0] >= pd.Timedelta("0.35s")
    assert len(read_coverage(lake, "bybit", "BTCUSDT", today, today)) == 1  # unaffected


# -- frames received: counted per venue, segment and hour; never twice ---------------------
def _hour_us(hour: int, minute: int = 0, second: float = 0.0) -> int:
    from datetime import UTC, datetime

    moment = datetime(2026, 12, 6, hour, minute, tzinfo=UTC).timestamp() + second
    return round(moment * 1_000_000)


BYBIT_ACK = '{"success":true,"ret_msg":"","conn_id":"c1","req_id":"","op":"subscribe"}'
OKX_ACK = '{"event":"subscribe","arg":{"channel":"liquidation-orders","instType":"SWAP"}}'
SCRIPT = [  # (venue, receive time, frame, kind): across 10:00 and 11:00 UTC
    ("bybit", _hour_us(10, 59, 58), BYBIT_ACK, "control"),
    ("okx", _hour_us(10, 59, 58), OKX_ACK, "control"),
    ("bybit", _hour_us(10, 59, 59), frames_of("bybit", 0)[0], "data"),
    ("bybit", _hour_us(10, 59, 59.5), MALFORMED, "malformed"),
    ("okx", _hour_us(10, 59, 59.9), "pong", "control"),
    ("bybit", _hour_us(11, 0, 0.1), frames_of("bybit", 1)[1], "data"),
    ("bybit", _hour_us(11, 0, 0.2), UNKNOWN_SYMBOL["bybit"], "data"),  # data, not recorded
    ("okx", _hour_us(11, 0, 1), frames_of("okx", 0)[0], "data"),
    ("okx", _hour_us(11, 0, 2), "{not json", "malformed"),
]
EXPECTED_ROWS = {  # venue → (hour, frames, data, control, malformed, first, last)
    "bybit": [(10, 3, 1, 1, 1, SCRIPT[0][1], SCRIPT[3][1]), (11, 2, 2, 0, 0, SCRIPT[5][1], SCRIPT[6][1])],
    "okx": [(10, 2, 0, 2, 0, SCRIPT[1][1], SCRIPT[4][1]), (11, 2, 1, 0, 1, SCRIPT[7][1], SCRIPT[8][1])],
}  # fmt: skip


def _scripted_segment(spool_dir: Path) -> Path:
    """One closed segment with SCRIPT's frames, both venues connected throughout."""
    spool = SpoolWriter(spool_dir, {"bybit": SYMBOLS, "okx": SYMBOLS}, rotate_s=86_400)
    spool.open(at_us=_hour_us(10, 59, 57))
    for venue in ("bybit", "okx"):
        spool.append_event("up", venue, _hour_us(10, 59, 57))
    for venue, at_us, text, _ in SCRIPT:
        spool.append_frame(venue, at_us, text)
    path = spool.close()
    spool.release()
    assert path is not None
    return path


def _rows(lake: Lake, venue: str) -> list[tuple]:
    from datetime import date

    stored = read_messages(lake, venue, date(2026, 12, 6), date(2026, 12, 6))
    return [
        (r.hour.hour, r.frames, r.data, r.control, r.malformed,
         r.first_received.value // 1000, r.last_received.value // 1000)
        for r in stored.itertuples()
    ]  # fmt: skip


def test_compaction_counts_every_frame_by_kind_per_venue_and_hour_exactly(tmp_path):
    assert all(parse_frame(v, text, set(SYMBOLS)).kind == kind for v, _, text, kind in SCRIPT)
    lake = Lake(str(tmp_path / "lake"))
    path = _scripted_segment(tmp_path / "spool")
    report = compact_segment(lake, path)
    assert report.frames == len(SCRIPT) and report.malformed == 2 and not path.exists()
    for venue, expected in EXPECTED_ROWS.items():
        assert _rows(lake, venue) == expected
    assert read_messages(lake, "binance", DAY, DAY).empty  # no frame, no row


def test_compacting_a_segment_again_counts_none_of_its_frames_twice(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    path = _scripted_segment(tmp_path / "spool")
    copy = tmp_path / "copy.seg"
    shutil.copy(path, copy)
    compact_segment(lake, path, chunk_frames=2)  # chunked: the same counts
    files = sorted(
        p.read_bytes() for p in (tmp_path / "lake").rglob("recorder_messages/**/*.parquet")
    )
    shutil.copy(copy, path)  # killed after the lake writes, before the segment was removed
    assert compact_segment(lake, path).added == 0 and not path.exists()
    assert (
        sorted(p.read_bytes() for p in (tmp_path / "lake").rglob("recorder_messages/**/*.parquet"))
        == files
    )
    for venue, expected in EXPECTED_ROWS.items():
        assert _rows(lake, venue) == expected


def test_status_counts_a_segment_once_whether_in_the_spool_the_lake_or_both(tmp_path):
    from datetime import UTC, datetime

    from sources.liquidation_streams.status import recorder_status

    lake, spool = Lake(str(tmp_path / "lake")), tmp_path / "spool"
    path = _scripted_segment(spool)
    copy = tmp_path / "copy.seg"
    shutil.copy(path, copy)
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)

    def counts() -> dict[str, tuple]:
        report = recorder_status(lake, spool, ["bybit", "okx"], now=now)
        return {
            line["venue"]: (line["messages_today"], line["malformed_today"],
                            line["messages_today_by_kind"], line["last_message_at"])
            for line in report["venues"]
        }  # fmt: skip

    expected = {
        "bybit": (5, 1, {"data": 3, "control": 1, "malformed": 1}, SCRIPT[6][1]),
        "okx": (4, 1, {"data": 1, "control": 2, "malformed": 1}, SCRIPT[8][1]),
    }
    expected = {v: (*e[:3], datetime.fromtimestamp(e[3] / 1e6, UTC)) for v, e in expected.items()}
    assert counts() == expected  # in the spool only
    compact_segment(lake, path)
    assert counts() == expected  # in the lake only
    shutil.copy(copy, path)  # the moment of compaction: stored, not yet removed
    assert counts() == expected
    later = _bybit_segment(spool, 0, 4, _hour_us(11, 30))  # a second segment, in the spool
    assert len(later) == 4
    bybit = recorder_status(lake, spool, ["bybit"], now=now)["venues"][0]
    assert bybit["messages_today"] == 5 + 4
    yesterday = recorder_status(lake, spool, ["bybit"], now=datetime(2026, 12, 7, 1, tzinfo=UTC))
    assert yesterday["venues"][0]["messages_today"] == 0  # today only; the last message stays
    assert yesterday["venues"][0]["last_message_at"] is not None
