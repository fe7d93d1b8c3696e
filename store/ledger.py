"""The ingest ledger: one record per stored partition, saying where it came from.

A day counts as ingested only when both its data file and its ledger record
exist. The record is written after the data file, so a crash between the two
leaves a day that the next run simply fetches and replaces again.

``data_sha256`` is the hash of the stored data file as written (what `liqbrief lake verify`
checks); ``source_sha256`` the hash of the source file it came from (the archive zip), empty
for derived tables; ``config_fingerprint`` the model configuration a derived table was made
with. Records written before these fields existed are still read: they lack ``data_sha256``,
and the liquidation-map records kept the configuration fingerprint in ``source_sha256``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

MAP_ENGINE_SOURCE = "liqbrief:liqmap-engine"  # source_url of the derived liquidation maps


class LedgerRecordError(ValueError):
    """A ledger record that is not the JSON object the lake wrote."""


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
    data_sha256: str | None = None  # the stored data file's hash; None in records from before
    config_fingerprint: str | None = None  # derived tables: the configuration they came from
    # the source_url of rows this write replaced from another source (the archive's day
    # replacing a venue's REST rows, "rest:binance:…"); None when it replaced nothing else
    replaces: str | None = None
    data_bytes: int | None = None  # the stored data file's size; readers compare it (None: older)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> LedgerEntry:
        try:
            record = json.loads(raw)
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in record.items() if k in known}
            if record.get("source_url") == MAP_ENGINE_SOURCE and "config_fingerprint" not in record:
                # old map records held the configuration fingerprint under source_sha256
                values["config_fingerprint"] = values.get("source_sha256") or None
                values["source_sha256"] = ""
            return cls(**values)
        except (ValueError, TypeError, AttributeError) as exc:
            raise LedgerRecordError(f"unreadable ledger record ({exc})") from None
