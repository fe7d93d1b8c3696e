"""The recorder: every venue's liquidation stream into the spool, the spool into the lake.

``record`` runs one ``stream_venue`` per venue concurrently with the spool as their sink,
and a housekeeping task (``alive`` marks, fsync, hourly rotation, compaction of each closed
segment in a worker thread so the streams keep being read). It first compacts what a
previous recorder left (a SIGKILL loses nothing that was spooled); when ``stop`` is set it
closes the streams, closes the segment and compacts everything before returning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from sources.liquidation_streams.compact import CompactionReport, compact_closed
from sources.liquidation_streams.connection import Backoff, stream_venue
from sources.liquidation_streams.okx import symbols_without_contract_value
from sources.liquidation_streams.spool import SpoolWriter, now_us
from store.lake import Lake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecorderConfig:
    """What to record, where, and the recorder's timings (seconds)."""

    lake_root: str
    spool_dir: Path
    urls: dict[str, str]  # venue → websocket URL; the venues recorded
    symbols: list[str]
    rotate_s: float = 3600.0  # a segment closes (and is compacted) when its UTC hour ends
    alive_every_s: float = 5.0  # each connection proven alive (ping/pong) this often
    fsync_every_s: float = 1.0
    tick_s: float = 0.5
    backoff: Backoff = field(default_factory=Backoff)


@dataclass
class RecordSummary:
    """What a recorder run did, for its last log lines and the tests."""

    frames: dict[str, int] = field(default_factory=dict)
    compaction: CompactionReport = field(default_factory=CompactionReport)
    kept: list[str] = field(default_factory=list)  # segments the final compaction left
    failures: list[str] = field(default_factory=list)  # why, one line each


class SpoolSink:
    """The streams' sink (``StreamSink``): every call goes to the spool before returning."""

    def __init__(self, spool: SpoolWriter, summary: RecordSummary):
        self.spool, self.summary = spool, summary

    def on_frame(self, venue: str, received_at_us: int, text: str) -> None:
        self.spool.append_frame(venue, received_at_us, text)
        self.summary.frames[venue] = self.summary.frames.get(venue, 0) + 1

    def on_connected(self, venue: str, at_us: int) -> None:
        self.spool.append_event("up", venue, at_us)
        log.info("%s stream: subscribed", venue)

    def on_alive(self, venue: str, at_us: int) -> None:
        self.spool.note_alive(venue, at_us)

    def on_disconnected(self, venue: str, at_us: int, reason: str) -> None:
        self.spool.append_event("down", venue, at_us, reason)

    def on_refused(self, venue: str, at_us: int, symbols: list[str], reason: str) -> None:
        self.spool.append_refused(venue, at_us, symbols)


class _Compactor:
    """One compaction at a time, in a worker thread."""

    def __init__(self, lake: Lake, spool_dir: Path, summary: RecordSummary):
        self.lake, self.spool_dir, self.summary = lake, spool_dir, summary
        self.task: asyncio.Task | None = None
        self.wanted = False  # a segment closed while a compaction ran

    def start(self) -> None:
        """Compact the closed segments now, or as soon as the running compaction ends."""
        self.wanted = True
        self.poll()

    def poll(self) -> None:
        if self.wanted and (self.task is None or self.task.done()):
            self.wanted = False
            self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        try:
            report = await asyncio.to_thread(compact_closed, self.lake, self.spool_dir)
        except Exception as exc:  # the segments stay; the next compaction retries them
            log.error("compaction failed (retried later): %s: %s", type(exc).__name__, exc)
            return
        self.summary.compaction.add(report)

    async def finish(self) -> None:
        if self.task is not None:
            await self.task


async def _housekeeping(
    spool: SpoolWriter, compactor: _Compactor, config: RecorderConfig, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        fd = spool.fsync_due()
        if fd is not None:  # the disk work in a thread: a slow disk never stalls the streams
            await asyncio.to_thread(os.fsync, fd)
        closing = spool.rotate(now_us())
        if closing is not None:
            await asyncio.to_thread(spool.finish_closing, *closing)
            compactor.start()
        compactor.poll()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), config.tick_s)


def recordable_symbols(venue: str, symbols: list[str]) -> list[str]:
    """The symbols whose liquidations ``venue``'s parser can keep: OKX sizes are contracts,
    so a symbol without a shipped contract value is not recorded there — nor counted as
    covered, which would tell validation that no liquidation happened."""
    if venue != "okx":
        return list(symbols)
    missing = set(symbols_without_contract_value(symbols))
    return [symbol for symbol in symbols if symbol not in missing]


def _segment_symbols(config: RecorderConfig) -> dict[str, list[str]]:
    return {venue: recordable_symbols(venue, config.symbols) for venue in config.urls}


async def record(config: RecorderConfig, stop: asyncio.Event) -> RecordSummary:
    """Record until ``stop`` is set, then flush and compact; SpoolBusyError if another
    recorder holds the spool."""
    lake = Lake(config.lake_root)
    summary = RecordSummary()
    spool = SpoolWriter(
        config.spool_dir, _segment_symbols(config), config.rotate_s, config.fsync_every_s
    )
    recovered = spool.open()
    if recovered:
        log.info("compacting %d segment(s) left by a previous recorder", len(recovered))
    compactor = _Compactor(lake, config.spool_dir, summary)
    sink = SpoolSink(spool, summary)
    backoff = replace(config.backoff, probe_s=config.alive_every_s)
    streams = [
        asyncio.create_task(stream_venue(venue, url, symbols, sink, stop, backoff))
        for venue, url in config.urls.items()
        if (symbols := spool.symbols[venue])
    ]
    try:
        compactor.start()
        await _housekeeping(spool, compactor, config, stop)
    finally:
        stop.set()  # also when housekeeping failed: the streams end before the spool closes
        await asyncio.gather(*streams, return_exceptions=True)
        await compactor.finish()
        spool.close()
        try:
            final = await asyncio.to_thread(compact_closed, lake, config.spool_dir)
            summary.compaction.add(final)
            summary.kept, summary.failures = final.kept, final.failures
        finally:
            spool.release()
    return summary
