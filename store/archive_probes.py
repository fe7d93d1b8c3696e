"""Days the archive answered 404 for, per venue, dataset and symbol, with when it was asked.

For a dataset the archive may lack for good (the withdrawn liquidationSnapshot files), this
record lets a re-run skip days it already knows are absent instead of asking again every run;
the ingest re-asks a day once its answer is old enough, so a later publication is still
found. One small JSON per symbol under ``<lake>/_probes/<venue>/<dataset>/``, written
atomically; it is only a cache of answers, so an unreadable one counts as empty (the days are
asked again and the record rewritten).
"""

from __future__ import annotations

import json
import posixpath
from datetime import date, datetime

from liqbrief.symbols import validate_symbol
from store.lake import Lake
from store.object_store import read_whole


def probes_path(lake: Lake, venue: str, dataset: str, symbol: str) -> str:
    validate_symbol(symbol)
    return posixpath.join(lake.root, "_probes", venue, dataset, f"symbol={symbol}.json")


def read_absences(lake: Lake, venue: str, dataset: str, symbol: str) -> dict[date, datetime]:
    """Each recorded absent day and when the archive last answered 404 for it."""
    try:
        record = json.loads(read_whole(lake.fs, probes_path(lake, venue, dataset, symbol)))
        return {
            date.fromisoformat(day): datetime.fromisoformat(checked_at)
            for day, checked_at in record["absent"].items()
        }
    except FileNotFoundError:
        return {}
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}  # a damaged cache: ask again


def write_absences(
    lake: Lake, venue: str, dataset: str, symbol: str, absences: dict[date, datetime]
) -> None:
    """Replace the record with ``absences`` (day -> when the 404 was seen, timezone-aware)."""
    record = {"absent": {d.isoformat(): t.isoformat() for d, t in sorted(absences.items())}}
    raw = json.dumps(record, indent=0, sort_keys=True).encode()
    lake.write_bytes(probes_path(lake, venue, dataset, symbol), raw)
