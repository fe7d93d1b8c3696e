"""Compaction: closed spool segments → the lake's realised liquidations and recorder coverage.

Each closed segment's frames are parsed (``parse_frame``, the symbols its header names) and
merged per venue and symbol with ``store.realised.merge_realised`` (deduplicated on
``liq_id``); its connected intervals go to ``merge_coverage`` (source "stream") for every
symbol of the venue the segment recorded (not those the venue refused, ``drop`` lines). Only then is the segment removed, so a crash anywhere in between is
undone by compacting the segment again: the merges add nothing twice and lose nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sources.liquidation_streams.model import Liquidation, liquidations_frame
from sources.liquidation_streams.parse import parse_frame
from sources.liquidation_streams.spool import (
    DROP_KIND,
    SpoolLine,
    closed_segments,
    iter_segment,
)
from store.lake import Lake
from store.realised import merge_coverage, merge_realised

log = logging.getLogger(__name__)
COVERAGE_SOURCE = "stream"
CHUNK_FRAMES = 20_000  # frames parsed and merged at a time: bounded memory


@dataclass
class CompactionReport:
    """What compacting one or more segments did."""

    segments: int = 0
    frames: int = 0
    liquidations: int = 0  # parsed, before deduplication
    added: int = 0  # rows new to the lake
    malformed: int = 0
    skipped_symbols: int = 0
    torn_lines: int = 0
    problems: list[str] = field(default_factory=list)  # the first few malformed lines

    def add(self, other: CompactionReport) -> None:
        for name in ("segments", "frames", "liquidations", "added", "malformed",
                     "skipped_symbols", "torn_lines"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems = (self.problems + other.problems)[:5]


class IntervalTracker:
    """Per venue, the [start, end) µs intervals it was connected and subscribed: from an
    ``up`` to the last line known connected (a frame, an ``alive``) before its ``down`` or the
    end of the lines. A disconnected stretch is never covered, however short. Fed line by
    line, so a segment is never held whole."""

    def __init__(self) -> None:
        self.up_since: dict[str, int] = {}
        self.last_seen: dict[str, int] = {}
        self.closed: dict[str, list[tuple[int, int]]] = {}

    def feed(self, line: SpoolLine) -> None:
        venue = line.venue
        if line.kind == "up":
            if venue not in self.up_since:
                self.up_since[venue] = self.last_seen[venue] = line.at_us
        elif line.kind in ("f", "alive") and venue in self.up_since:
            self.last_seen[venue] = max(self.last_seen[venue], line.at_us)
        elif line.kind == "down" and venue in self.up_since:
            span = (self.up_since.pop(venue), self.last_seen.pop(venue))
            self.closed.setdefault(venue, []).append(span)

    def intervals(self) -> dict[str, list[tuple[int, int]]]:
        """The intervals so far; a venue still up ends at its last line known connected."""
        spans = {venue: list(found) for venue, found in self.closed.items()}
        for venue, start in self.up_since.items():
            spans.setdefault(venue, []).append((start, self.last_seen[venue]))
        return {v: [(s, e) for s, e in found if e > s] for v, found in spans.items()}


def connected_intervals(lines: Iterable[SpoolLine]) -> dict[str, list[tuple[int, int]]]:
    """Per venue, the connected intervals of ``lines`` (see ``IntervalTracker``)."""
    tracker = IntervalTracker()
    for line in lines:
        tracker.feed(line)
    return tracker.intervals()


def parsed_liquidations(
    lines: Iterable[SpoolLine], symbols: dict[str, list[str]], report: CompactionReport
) -> dict[str, pd.DataFrame]:
    """Per venue, the liquidations of the frames (symbols of the header only), as rows with
    ``symbol`` and each frame's receive time."""
    found: dict[str, tuple[list[Liquidation], list[int]]] = {}
    wanted = {venue: set(names) for venue, names in symbols.items()}
    for line in lines:
        if line.kind != "f":
            continue
        report.frames += 1
        parsed = parse_frame(line.venue, line.text, wanted.get(line.venue, set()))
        report.skipped_symbols += parsed.skipped_symbols
        if parsed.kind == "malformed":
            report.malformed += 1
            if len(report.problems) < 5:
                report.problems.append(parsed.problem or "malformed frame")
        items, received = found.setdefault(line.venue, ([], []))
        items.extend(parsed.liquidations)
        received.extend([line.at_us] * len(parsed.liquidations))
    frames = {}
    for venue, (items, received) in found.items():
        if not items:
            continue
        frame = liquidations_frame(items, None, COVERAGE_SOURCE)
        frame["received_at"] = pd.to_datetime(received, unit="us", utc=True).astype(
            "datetime64[us, UTC]"
        )
        frames[venue] = frame
        report.liquidations += len(frame)
    return frames


def _interval_frame(spans: list[tuple[int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "start": pd.to_datetime([s for s, _ in spans], unit="us", utc=True),
            "end": pd.to_datetime([e for _, e in spans], unit="us", utc=True),
            "source": [COVERAGE_SOURCE] * len(spans),
        }
    )


def _merge_frames(lake: Lake, frames: dict[str, pd.DataFrame], source_url: str) -> int:
    added = 0
    for venue, frame in frames.items():
        for symbol, rows in frame.groupby("symbol", sort=True):
            added += sum(merge_realised(lake, venue, str(symbol), rows, source_url).values())
    return added


def compact_segment(lake: Lake, path: Path, chunk_frames: int = CHUNK_FRAMES) -> CompactionReport:
    """Merge one closed segment into the lake, then remove it; read in chunks of
    ``chunk_frames`` frames so memory stays bounded. Safe to repeat after a crash."""
    report = CompactionReport(segments=1)
    source_url = f"spool:{path.name}"
    symbols: dict[str, list[str]] = {}
    tracker = IntervalTracker()
    chunk: list[SpoolLine] = []
    for item in iter_segment(path):
        if item is None:
            report.torn_lines += 1
        elif isinstance(item, dict):
            symbols = {venue: list(names) for venue, names in item.get("symbols", {}).items()}
        else:
            tracker.feed(item)
            if item.kind == DROP_KIND:  # refused by the venue: never recorded, never covered
                refused = item.text.split(",")
                symbols[item.venue] = [s for s in symbols.get(item.venue, []) if s not in refused]
            if item.kind == "f":
                chunk.append(item)
            if len(chunk) >= chunk_frames:
                report.added += _merge_frames(lake, parsed_liquidations(chunk, symbols, report), source_url)  # fmt: skip
                chunk = []
    report.added += _merge_frames(lake, parsed_liquidations(chunk, symbols, report), source_url)
    for venue, spans in tracker.intervals().items():
        for symbol in symbols.get(venue, []):
            merge_coverage(lake, venue, symbol, _interval_frame(spans))
    path.unlink(missing_ok=True)
    return report


def compact_closed(lake: Lake, spool_dir: Path) -> CompactionReport:
    """Compact every closed segment of the spool, oldest first."""
    total = CompactionReport()
    for path in closed_segments(spool_dir):
        report = compact_segment(lake, path)
        total.add(report)
        log.info(
            "compacted %s: %d frames, %d liquidations, %d new, %d malformed, %d torn lines",
            path.name, report.frames, report.liquidations, report.added, report.malformed,
            report.torn_lines,
        )  # fmt: skip
        if report.problems:
            log.warning("%s: first malformed frame: %s", path.name, report.problems[0])
    return total
