"""The ingest ledger: one record per stored partition, saying where it came from.

A day counts as ingested only when both its data file and its ledger record
exist. The record is written after the data file, so a crash between the two
leaves a day that the next run simply fetches and replaces again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LedgerEntry:
    venue: str
    dataset: str
    symbol: str
    date: str  # YYYY-MM-DD
    source_url: str
    source_sha256: str
    rows: int
    duplicates_dropped: int
    missing_rows: int  # expected bars absent from the day (0 for irregular datasets)
    ingested_at: str  # ISO-8601 UTC

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> LedgerEntry:
        return cls(**json.loads(raw))
