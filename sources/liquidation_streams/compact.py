"""Compaction: closed spool segments → the lake's realised liquidations and recorder coverage.

Each closed segment's frames are parsed (``parse_frame``, the symbols its header names) and
merged per venue and symbol with ``store.realised.merge_realised`` (deduplicated on
``liq_id``); its connected intervals go to ``merge_coverage`` (source "stream") for every
symbol of the venue the segment recorded (not those the venue refused, ``drop`` lines); the
frames it holds, per venue, hour and kind, go to ``merge_messages`` (keyed by the segment).
Only then is the segment removed, so a crash anywhere in between is
undone by compacting the segment again: the merges add nothing twice and lose nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sources.liquidation_streams.messages import MessageCounter, segment_id
from sources.liquidation_streams.model import Liquidation, liquidations_frame
from sources.liquidation_streams.parse import parse_frame
from sources.liquidation_streams.spool import (
    DROP_KIND,
    SpoolLine,
    closed_segments,
    header_symbols,
    iter_segment,
)
from store.errors import LakeError
from store.lake import Lake
from store.realised import merge_coverage, merge_realised
from store.recorder_messages import merge_messages

log = logging.getLogger(__name__)
COVERAGE_SOURCE = "stream"
CHUNK_FRAMES = 20_000  # frames parsed and merged at a time: bounded memory


@dataclass
class CompactionReport:
    """What compacting one or more segments did."""

    segments: int = 0  # compacted and removed from the spool
    frames: int = 0
    liquidations: int = 0  # parsed, before deduplication
    added: int = 0  # rows new to the lake
    malformed: int = 0
    skipped_symbols: int = 0
    torn_lines: int = 0
    problems: list[str] = field(default_factory=list)  # the first few malformed lines
    kept: list[str] = field(default_factory=list)  # segments left in the spool (a failure)
    failures: list[str] = field(default_factory=list)  # one line each, naming the file
    blocked: set[tuple[str, str]] = field(default_factory=set)  # (venue, symbol) not merged

    def add(self, other: CompactionReport) -> None:
        counts = ("segments", "frames", "liquidations", "added", "malformed", "skipped_symbols")
        for name in (*counts, "torn_lines"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems = (self.problems + other.problems)[:5]
        self.kept = list(dict.fromkeys(self.kept + other.kept))
        self.failures = list(dict.fromkeys(self.failures + other.failures))

    def failed(self, exc: Exception) -> None:
        """A partition that could not be merged: the others go on, the segment stays."""
        line = str(exc) if isinstance(exc, LakeError) else f"{type(exc).__name__}: {exc}"
        self.failures = list(dict.fromkeys([*self.failures, line]))


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
    lines: Iterable[SpoolLine],
    symbols: dict[str, list[str]],
    report: CompactionReport,
    counter: MessageCounter | None = None,
) -> dict[str, pd.DataFrame]:
    """Per venue, the liquidations of the frames (symbols of the header only), as rows with
    ``symbol`` and each frame's receive time; each frame's kind counted in ``counter``."""
    found: dict[str, tuple[list[Liquidation], list[int]]] = {}
    wanted = {venue: set(names) for venue, names in symbols.items()}
    for line in lines:
        if line.kind != "f":
            continue
        report.frames += 1
        parsed = parse_frame(line.venue, line.text, wanted.get(line.venue, set()))
        if counter is not None:
            counter.feed(line.venue, line.at_us, parsed.kind)
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


def _merge_frames(
    lake: Lake, frames: dict[str, pd.DataFrame], source_url: str, report: CompactionReport
) -> None:
    """Merge each venue's and symbol's rows; one that fails does not stop the others."""
    for venue, frame in frames.items():
        for symbol, rows in frame.groupby("symbol", sort=True):
            try:
                report.added += sum(
                    merge_realised(lake, venue, str(symbol), rows, source_url).values()
                )
            except (LakeError, OSError) as exc:
                report.failed(exc)
                report.blocked.add((venue, str(symbol)))


def _merge_chunk(
    lake: Lake,
    chunk: list[SpoolLine],
    symbols: dict[str, list[str]],
    report: CompactionReport,
    counter: MessageCounter,
    source_url: str,
) -> None:
    frames = parsed_liquidations(chunk, symbols, report, counter)
    _merge_frames(lake, frames, source_url, report)


def _merge_messages(lake: Lake, counter: MessageCounter, report: CompactionReport) -> None:
    """The segment's frame counts per venue (keyed by the segment: a replay adds nothing)."""
    for venue in counter.venues():
        try:
            merge_messages(lake, venue, counter.rows(venue))
        except (LakeError, OSError) as exc:
            report.failed(exc)


def _merge_coverage(
    lake: Lake, tracker: IntervalTracker, symbols: dict[str, list[str]], report: CompactionReport
) -> None:
    for venue, spans in tracker.intervals().items():
        for symbol in symbols.get(venue, []):
            if (venue, symbol) in report.blocked:
                continue  # its rows are not in the lake yet: not covered yet either
            try:
                merge_coverage(lake, venue, symbol, _interval_frame(spans))
            except (LakeError, OSError) as exc:
                report.failed(exc)


def compact_segment(lake: Lake, path: Path, chunk_frames: int = CHUNK_FRAMES) -> CompactionReport:
    """Merge one closed segment into the lake, then remove it; read in chunks of
    ``chunk_frames`` frames so memory stays bounded. Safe to repeat after a crash. A
    partition that cannot be merged (a corrupt lake file) does not stop the others; the
    segment is then kept (``report.kept``, ``report.failures``) for a later compaction."""
    report = CompactionReport(segments=1)
    source_url = f"spool:{path.name}"
    counter = MessageCounter(segment_id(path))
    symbols: dict[str, list[str]] = {}
    tracker = IntervalTracker()
    chunk: list[SpoolLine] = []
    for item in iter_segment(path):
        if item is None:
            report.torn_lines += 1
        elif isinstance(item, dict):
            symbols = header_symbols(item)
        else:
            tracker.feed(item)
            if item.kind == DROP_KIND:  # refused by the venue: never recorded, never covered
                refused = item.text.split(",")
                symbols[item.venue] = [s for s in symbols.get(item.venue, []) if s not in refused]
            if item.kind == "f":
                chunk.append(item)
            if len(chunk) >= chunk_frames:
                _merge_chunk(lake, chunk, symbols, report, counter, source_url)
                chunk = []
    _merge_chunk(lake, chunk, symbols, report, counter, source_url)
    _merge_coverage(lake, tracker, symbols, report)
    _merge_messages(lake, counter, report)
    if report.failures:  # kept: compacted again later, the merges add nothing twice
        report.kept.append(path.name)
        report.segments = 0
    else:
        path.unlink(missing_ok=True)
    return report


def compact_closed(lake: Lake, spool_dir: Path) -> CompactionReport:
    """Compact every closed segment of the spool, oldest first; one that fails is kept in
    the spool with one ERROR line and the others go on."""
    total = CompactionReport()
    for path in closed_segments(spool_dir):
        try:
            report = compact_segment(lake, path)
        except Exception as exc:  # an unreadable segment: keep it, go on with the others
            report = CompactionReport(segments=0, kept=[path.name])
            report.failed(exc)
        total.add(report)
        if report.failures:
            log.error(
                "%s kept in the spool, not compacted (nothing is lost; retried hourly and at "
                "stop): %s",
                path.name,
                report.failures[0],
            )
            continue
        log.info(
            "compacted %s: %d frames, %d liquidations, %d new, %d malformed, %d torn lines",
            path.name,
            report.frames,
            report.liquidations,
            report.added,
            report.malformed,
            report.torn_lines,
        )
        if report.problems:
            log.warning("%s: first malformed frame: %s", path.name, report.problems[0])
    return total
