"""``liqbrief record --status``: per venue, from the lake and the spool not yet compacted —
whether a recorder runs, the last message time, today's messages (frames received, and how
many were malformed), today's liquidations and today's gaps.

Messages today are the lake's ``recorder_messages`` rows of today united with the counts of
the segments still in the spool, keyed by (segment, hour): a segment compacted while status
reads it is counted once, whichever side saw it.

Coverage today is the lake's ``recorder_coverage`` (every symbol of the venue; one
connection carries them all) united with the spool's connected intervals; while a recorder
runs and a venue's last change was ``up``, the venue counts as covered up to now.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.fs as pafs

from sources.liquidation_streams.compact import IntervalTracker
from sources.liquidation_streams.messages import HourCount, MessageCounter, segment_id
from sources.liquidation_streams.parse import parse_frame
from sources.liquidation_streams.spool import (
    DROP_KIND,
    SpoolLine,
    all_segments,
    header_symbols,
    iter_segment,
    lock_holder,
)
from store.datasets import coverage_dataset
from store.lake import Lake
from store.realised import read_coverage, read_realised, union_spans
from store.recorder_messages import read_messages

Span = tuple[datetime, datetime]
MessageKey = tuple[str, int]  # (segment, hour in µs)


def recorded_symbols(lake: Lake, venue: str) -> list[str]:
    """The symbols with recorder coverage stored for a venue (one listing of the ledger)."""
    ds = coverage_dataset(venue)
    directory = posixpath.join(lake.root, "_ledger", ds.venue, ds.name)
    infos = lake.fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
    names = [posixpath.basename(i.path) for i in infos if i.type == pafs.FileType.Directory]
    return sorted(n.removeprefix("symbol=") for n in names if n.startswith("symbol="))


def gaps(covered: list[Span], start: datetime, end: datetime) -> list[Span]:
    """The stretches of [start, end) no covered span reaches."""
    found, cursor = [], start
    for span_start, span_end in union_spans(covered):
        if span_start > cursor:
            found.append((cursor, min(span_start, end)))
        cursor = max(cursor, span_end)
        if cursor >= end:
            break
    if cursor < end:
        found.append((cursor, end))
    return [(s, e) for s, e in found if e > s]


def _us(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1e6, UTC)


def _lake_part(lake: Lake, venue: str, day: date) -> tuple[list[Span], set[str], list[datetime]]:
    """Today's stored coverage, liquidation ids and the last stored receive time."""
    spans: list[Span] = []
    ids: set[str] = set()
    last: list[datetime] = []
    for symbol in recorded_symbols(lake, venue):
        coverage = read_coverage(lake, venue, symbol, day, day)
        pairs = zip(coverage["start"], coverage["end"], strict=True)
        spans += [(s.to_pydatetime(), e.to_pydatetime()) for s, e in pairs]
        rows = read_realised(lake, venue, symbol, day - timedelta(days=1), day)
        received = rows["received_at"].dropna()
        if len(received):
            last.append(received.max().to_pydatetime())
        ids |= set(rows.loc[rows["time"] >= pd.Timestamp(day, tz="UTC"), "liq_id"])
    return spans, ids, last


def _messages_today(
    lake: Lake, venue: str, day: date, spooled: dict[MessageKey, HourCount]
) -> tuple[dict[str, int], list[datetime]]:
    """Today's frames per kind (the lake's rows united with the spool's, one per key) and
    the last stored receive time (today or yesterday)."""
    stored = read_messages(lake, venue, day - timedelta(days=1), day)
    last = [stored["last_received"].max().to_pydatetime()] if len(stored) else []
    counts = {key: (c.data, c.control, c.malformed) for key, c in spooled.items()}
    today = stored[stored["hour"] >= pd.Timestamp(day, tz="UTC")]
    for row in today.itertuples(index=False):
        counts[(row.segment, row.hour.value // 1000)] = (row.data, row.control, row.malformed)
    totals = [sum(c[k] for c in counts.values()) for k in range(3)]
    kinds = dict(zip(("data", "control", "malformed"), (int(t) for t in totals), strict=True))
    return kinds, last


@dataclass
class _SpoolScan:
    """One venue's part of the spool, gathered line by line (never a segment held whole)."""

    spans: list[Span] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    last_us: int = 0  # the last frame's receive time
    refused: set[str] = field(default_factory=set)
    last_change: str | None = None  # "up" or "down", across segments in order
    last_up_us: int = 0
    messages: dict[MessageKey, HourCount] = field(default_factory=dict)  # today's hours


def _scan_segment(path: Path, scans: dict[str, _SpoolScan], midnight: datetime) -> None:
    """Feed one segment to the venues' scans. Its connected intervals are its own: a
    segment ending "up" without "down" (a killed recorder) ends at its last line known
    connected, so the time until the restart is a gap."""
    symbols: dict[str, set[str]] = {}
    tracker = IntervalTracker()
    counter = MessageCounter(segment_id(path))
    try:
        for item in iter_segment(path):
            if isinstance(item, dict):
                symbols = {v: set(names) for v, names in header_symbols(item).items()}
            if not isinstance(item, SpoolLine) or item.venue not in scans:
                continue
            scan = scans[item.venue]
            tracker.feed(item)
            if item.kind == "f":
                scan.last_us = max(scan.last_us, item.at_us)
                parsed = parse_frame(item.venue, item.text, symbols.get(item.venue, set()))
                counter.feed(item.venue, item.at_us, parsed.kind)
                scan.ids |= {q.liq_id for q in parsed.liquidations if _us(q.time_us) >= midnight}
            elif item.kind in ("up", "down"):
                scan.last_change = item.kind
                scan.last_up_us = item.at_us if item.kind == "up" else scan.last_up_us
            elif item.kind == DROP_KIND:
                scan.refused |= set(item.text.split(","))
    except FileNotFoundError:
        return  # compacted meanwhile: the lake, read after the spool, holds it
    for venue, spans in tracker.intervals().items():
        scans[venue].spans += [(_us(s), _us(e)) for s, e in spans]
    for (venue, hour), count in counter.hours.items():
        if _us(hour) >= midnight:
            scans[venue].messages[(counter.segment, hour)] = count


def venue_status(
    lake: Lake, scan: _SpoolScan, venue: str, now: datetime, running: bool
) -> dict[str, object]:
    """One venue's line of the status (see the module's docstring)."""
    day = now.date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    spans, ids, last = _lake_part(lake, venue, day)
    messages, last_stored = _messages_today(lake, venue, day, scan.messages)
    last += last_stored
    spans, ids = spans + scan.spans, ids | scan.ids
    last += [_us(scan.last_us)] if scan.last_us else []
    up_now = running and scan.last_change == "up"
    if up_now:  # connected since its last `up`, to this moment
        spans.append((_us(scan.last_up_us), now))
    today_gaps = gaps([(max(s, midnight), e) for s, e in spans if e > midnight], midnight, now)
    covered_s = (now - midnight).total_seconds() - sum(
        (e - s).total_seconds() for s, e in today_gaps
    )
    return {
        "venue": venue,
        "connected": up_now,
        "refused_symbols": sorted(scan.refused),
        "last_message_at": max(last) if last else None,
        "messages_today": sum(messages.values()),
        "malformed_today": messages["malformed"],
        "messages_today_by_kind": messages,
        "liquidations_today": len(ids),
        "covered_today_pct": round(100 * covered_s / max((now - midnight).total_seconds(), 1), 2),
        "gaps_today": [
            {"start": s, "end": e, "minutes": round((e - s).total_seconds() / 60, 1)}
            for s, e in today_gaps
        ],
    }


def recorder_status(
    lake: Lake, spool_dir: Path, venues: list[str], now: datetime | None = None
) -> dict[str, object]:
    """The recorder's status: whether one runs (and its pid), and a line per venue. Reads
    the spool line by line, before the lake (a segment compacted meanwhile is then in the
    lake), and opens nothing for writing."""
    now = now or datetime.now(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
    holder = lock_holder(spool_dir) if spool_dir.is_dir() else None
    paths = all_segments(spool_dir) if spool_dir.is_dir() else []
    scans = {venue: _SpoolScan() for venue in venues}
    for path in paths:
        _scan_segment(path, scans, midnight)
    return {
        "as_of": now,
        "recorder_pid": holder,
        "running": holder is not None,
        "spool_dir": str(spool_dir),
        "segments_pending": len(paths),
        "venues": [venue_status(lake, scans[v], v, now, holder is not None) for v in venues],
    }
