"""Realised liquidations and recorder coverage in the lake: merge without duplicates, read back.

Every writer (the stream recorder's compaction, the archive's liquidationSnapshot ingest)
goes through ``merge_realised``: rows are grouped by the UTC day of their ``time`` and merged
with what the day's data file already holds (read even when a crash inside the write left it
without its ledger record, and checked against the record's SHA-256 when there is one: a
corrupt file is a ``CorruptPartitionError``, never silently rewritten), de-duplicated on ``liq_id`` (the venue's
identity of a liquidation; the stored row wins). A re-run after a crash, or a spool segment
compacted twice, therefore adds nothing. Coverage intervals are merged the same way: the
union of the stored and the new intervals, split at UTC midnight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TypeVar

import pandas as pd
import pyarrow as pa

from store.datasets import Dataset, coverage_dataset, realised_dataset
from store.errors import CorruptPartitionError
from store.lake import Lake
from store.ledger import LedgerEntry

DAY = pd.Timedelta(days=1)
T = TypeVar("T")


def liquidation_id(venue: str, fields: Iterable[object]) -> str:
    """A stable identity from the venue's own fields of one liquidation (symbol, time,
    side, price, size as the venue wrote them): equal items get equal ids."""
    text = "|".join([venue, *(str(f) for f in fields)])
    return hashlib.sha1(text.encode()).hexdigest()


def _entry(
    ds: Dataset, symbol: str, day: date, source_url: str, rows: int, dropped: int
) -> LedgerEntry:
    return LedgerEntry(
        venue=ds.venue, dataset=ds.name, symbol=symbol, date=day.isoformat(),
        source_url=source_url, source_sha256="", rows=rows, duplicates_dropped=dropped,
        missing_rows=0, ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip


def _utc_days(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert("UTC").dt.floor("D").dt.date


def _stored_for_merge(
    lake: Lake, ds: Dataset, symbol: str, day: date, replace_source: str | None
) -> tuple[pd.DataFrame, bool, set[str]]:
    """The day's stored rows a merge starts from (without ``replace_source``'s rows when
    replacing them), whether they are all still there and recorded, and the ids stored. Replacing a source
    also repairs a corrupt file: it is set aside (``Lake.set_aside``), never read."""
    try:
        table, recorded = lake.stored_day(ds, symbol, day)
    except CorruptPartitionError:
        if replace_source is None:
            raise
        lake.set_aside(ds, symbol, day)
        return ds.schema.empty_table().to_pandas(), False, set()
    stored = table.to_pandas()
    ids = set(stored["liq_id"]) if "liq_id" in stored else set()
    if replace_source is None:
        return stored, recorded, ids
    kept = stored[stored["source"] != replace_source]
    return kept, recorded and len(kept) == len(stored), ids


def merge_realised(
    lake: Lake,
    venue: str,
    symbol: str,
    frame: pd.DataFrame,
    source_url: str,
    replace_source: str | None = None,
    days: Iterable[date] = (),
) -> dict[date, int]:
    """Add ``frame`` (REALISED_LIQUIDATION_SCHEMA columns) to the venue's lake, one atomic
    write per UTC day touched; returns the rows actually added per day (0 for a replay).
    With ``replace_source``, the stored rows of that source on the days of ``frame`` and of
    ``days`` are replaced by ``frame``'s (a republished archive day); other rows stay."""
    ds = realised_dataset(venue)
    frame = frame.assign(time=pd.to_datetime(frame["time"], utc=True))[ds.schema.names]
    groups = dict(iter(frame.groupby(_utc_days(frame["time"]), sort=True))) if len(frame) else {}
    for day in days if replace_source is not None else ():
        groups.setdefault(day, frame.iloc[:0])
    added: dict[date, int] = {}
    for day, fresh in sorted(groups.items()):
        stored, unchanged, before = _stored_for_merge(lake, ds, symbol, day, replace_source)
        merged = pd.concat([stored, fresh], ignore_index=True) if len(stored) else fresh
        merged = merged.drop_duplicates("liq_id", keep="first")
        added[day] = len(set(merged["liq_id"]) - before)
        if len(merged) == len(stored) and unchanged:
            continue  # nothing new: leave the stored file as it is
        merged = merged.sort_values(["time", "liq_id"], ignore_index=True)
        table = pa.Table.from_pandas(merged, schema=ds.schema, preserve_index=False)
        dropped = len(stored) + len(fresh) - len(merged)
        lake.write_day(ds, day, table, _entry(ds, symbol, day, source_url, len(merged), dropped))
    return added


def read_realised(lake: Lake, venue: str, symbol: str, start: date, end: date) -> pd.DataFrame:
    """Every stored liquidation of a symbol on a venue between two UTC days (inclusive)."""
    return lake.read(realised_dataset(venue), symbol, start, end)


def union_spans(spans: Iterable[tuple[T, T]]) -> list[tuple[T, T]]:
    """Overlapping or touching (start, end) spans merged into one, sorted."""
    merged: list[list] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _union(intervals: pd.DataFrame) -> pd.DataFrame:
    """Overlapping or touching intervals of one source merged into one."""
    rows = [
        (start, end, source)
        for source, part in intervals.groupby("source", sort=True)
        for start, end in union_spans(zip(part["start"], part["end"], strict=True))
    ]
    return pd.DataFrame(rows, columns=["start", "end", "source"])


def _split_at_midnight(intervals: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for start, end, source in intervals.itertuples(index=False):
        while start < end:
            midnight = start.floor("D") + DAY
            rows.append((start, min(end, midnight), source))
            start = midnight
    return pd.DataFrame(rows, columns=["start", "end", "source"])


def merge_coverage(
    lake: Lake,
    venue: str,
    symbol: str,
    intervals: pd.DataFrame,
    replace_source: str | None = None,
) -> None:
    """Add covered intervals (start, end, source; end exclusive) to the coverage table; with
    ``replace_source``, that source's stored intervals on the days touched are replaced."""
    ds = coverage_dataset(venue)
    if intervals.empty:
        return
    intervals = intervals.assign(
        start=pd.to_datetime(intervals["start"], utc=True),
        end=pd.to_datetime(intervals["end"], utc=True),
    )
    pieces = _split_at_midnight(intervals[intervals["end"] > intervals["start"]])
    for day, fresh in pieces.groupby(_utc_days(pieces["start"]), sort=True):
        stored = _stored_for_merge(lake, ds, symbol, day, replace_source)[0]
        both = pd.concat([stored, fresh], ignore_index=True) if len(stored) else fresh
        merged = _union(both)
        table = pa.Table.from_pandas(merged, schema=ds.schema, preserve_index=False)
        lake.write_day(ds, day, table, _entry(ds, symbol, day, "liqbrief:coverage", len(merged), 0))


def read_coverage(lake: Lake, venue: str, symbol: str, start: date, end: date) -> pd.DataFrame:
    """Covered intervals (start, end, source) of a symbol between two UTC days (inclusive)."""
    return lake.read(coverage_dataset(venue), symbol, start, end)


def days_with_data(lake: Lake, venue: str, symbol: str) -> list[date]:
    """The UTC days with a stored realised-liquidation partition."""
    return lake.stored_days(realised_dataset(venue), symbol)
