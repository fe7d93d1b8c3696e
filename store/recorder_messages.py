"""Frames the recorder received, per venue, in the lake: merge without double counting.

Compaction writes one row per (spool segment, UTC hour of receipt) to
``<lake>/<venue>/recorder_messages/symbol=ALL/date=…``. A segment's counts are final once it
is closed, so the merge keys on (segment, hour) and the stored row wins: a segment compacted
again after a crash (before it left the spool) adds nothing. Each day's file is read even
when a crash inside the write left it without its ledger record, and rewritten atomically.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pyarrow as pa

from store.datasets import MESSAGES_PARTITION, messages_dataset
from store.lake import Lake
from store.ledger import LedgerEntry

KEY = ["segment", "hour"]
COUNTS = ["frames", "data", "control", "malformed"]


def _entry(venue: str, day: date, rows: int, dropped: int) -> LedgerEntry:
    return LedgerEntry(
        venue=venue, dataset="recorder_messages", symbol=MESSAGES_PARTITION,
        date=day.isoformat(), source_url="liqbrief:recorder", source_sha256="", rows=rows,
        duplicates_dropped=dropped, missing_rows=0,
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip


def merge_messages(lake: Lake, venue: str, rows: pd.DataFrame) -> dict[date, int]:
    """Add ``rows`` (RECORDER_MESSAGES_SCHEMA columns) to the venue's messages, one atomic
    write per UTC day; returns the rows new per day (0 for a segment already stored). A
    corrupt stored file raises ``CorruptPartitionError`` (never silently rewritten)."""
    ds = messages_dataset(venue)
    if rows.empty:
        return {}
    rows = rows.assign(hour=pd.to_datetime(rows["hour"], utc=True))[ds.schema.names]
    added: dict[date, int] = {}
    for day, fresh in rows.groupby(rows["hour"].dt.date, sort=True):
        table, recorded = lake.stored_day(ds, MESSAGES_PARTITION, day)
        stored = table.to_pandas()
        merged = pd.concat([stored, fresh], ignore_index=True) if len(stored) else fresh
        merged = merged.drop_duplicates(KEY, keep="first")
        added[day] = len(merged) - len(stored)
        if added[day] == 0 and recorded:
            continue  # nothing new: the stored file stays as it is
        merged = merged.sort_values(["hour", "segment"], ignore_index=True)
        out = pa.Table.from_pandas(merged, schema=ds.schema, preserve_index=False)
        dropped = len(stored) + len(fresh) - len(merged)
        lake.write_day(ds, day, out, _entry(venue, day, len(merged), dropped))
    return added


def read_messages(lake: Lake, venue: str, start: date, end: date) -> pd.DataFrame:
    """The stored message rows of a venue between two UTC days (inclusive)."""
    return lake.read(messages_dataset(venue), MESSAGES_PARTITION, start, end)
