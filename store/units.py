"""Datasets replaced together: a date's liquidation map is bins, summary and heatmap.

The three files of a (symbol, date) are one unit. A writer first removes the unit's manifest
(readers then see no map rather than a mix), writes each data file with its ledger record,
removes files of the unit the new run does not produce (a heatmap from an earlier run), and
writes the manifest last, naming every file with its SHA-256 and the run's id. Readers
(`Lake.read`) trust a unit's file only if the manifest names it with the same hash, so a
crash between the writes, or two runs racing, never shows one run's bins with another's
summary: the date reads as not mapped until a run completes it.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from store.datasets import DATASETS, unit_key
from store.errors import CorruptPartitionError
from store.object_store import delete_whole

if TYPE_CHECKING:
    from store.lake import Lake
    from store.ledger import LedgerEntry

# keyed by unit_key(): "liqmap" (Binance's map), "bybit/liqmap", "okx/liqmap", "all/liqmap"
UNITS: dict[str, tuple[str, ...]] = {
    key: tuple(name for name, ds in DATASETS.items() if ds.unit and unit_key(ds) == key)
    for key in {unit_key(ds) for ds in DATASETS.values() if ds.unit}
}


@dataclass(frozen=True)
class UnitFile:
    sha256: str
    rows: int


@dataclass(frozen=True)
class UnitManifest:
    """What one run wrote for a unit: the files readers may trust."""

    unit: str
    symbol: str
    date: str
    run_id: str
    written_at: str
    config_fingerprint: str | None
    files: dict[str, UnitFile] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> UnitManifest:
        try:
            record = json.loads(raw)
            files = {name: UnitFile(**f) for name, f in record.pop("files").items()}
            return cls(**record, files=files)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a unit manifest: {exc}") from None


def write_unit(
    lake: Lake,
    unit: str,
    day: date,
    tables: dict[str, pa.Table],
    entries: dict[str, LedgerEntry],
    config_fingerprint: str | None = None,
    run_id: str | None = None,
) -> UnitManifest:
    """Replace the unit of ``day`` with ``tables`` (a subset of the unit's datasets; the
    others are removed for that day), manifest last. Every entry must name the same symbol."""
    names = UNITS[unit]
    unknown = set(tables) - set(names)
    if unknown or set(entries) != set(tables):
        raise ValueError(f"{unit}: tables {sorted(tables)} do not fit the unit {names}")
    symbol = next(iter(entries.values())).symbol
    first = DATASETS[names[0]]
    if not lake.known_absent(first, symbol, day):  # a fresh date the run listed has none
        _remove(lake, lake.manifest_path(first, symbol, day))

    def replace_file(name: str) -> tuple[str, UnitFile] | None:
        ds = DATASETS[name]
        if name not in tables:
            lake.delete_day(ds, symbol, day)
            return None
        # the manifest is gone: readers trust none of the unit's files until the new one
        written = lake.write_day(ds, day, tables[name], entries[name], unvouched=True)
        # a manifest names files by their dataset's bare name (one manifest per venue)
        return ds.name, UnitFile(sha256=written.data_sha256 or "", rows=written.rows)

    # the files are independent objects (concurrent on an object store); the manifest last
    files = dict(f for f in lake.each(replace_file, list(names)) if f is not None)
    manifest = UnitManifest(
        unit=unit,
        symbol=symbol,
        date=day.isoformat(),
        run_id=run_id or uuid.uuid4().hex,
        written_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config_fingerprint=config_fingerprint,
        files=files,
    )
    lake.write_bytes(lake.manifest_path(first, symbol, day), manifest.to_json())
    lake.forget(first, symbol, day)  # a listing of the manifests made meanwhile lacks it
    return manifest


def _remove(lake: Lake, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        delete_whole(lake.fs, path)


def read_unit(
    lake: Lake,
    unit: str,
    symbol: str,
    day: date,
    names: tuple[str, ...] | None = None,
    attempts: int = 3,
) -> dict[str, pa.Table]:
    """The tables of a unit (all, or ``names``) as one run wrote them (an empty table for a
    dataset the manifest does not name; all empty if there is no manifest). A file that no longer matches the
    manifest because a new run is replacing the unit is read again from the new manifest; a
    mismatch that persists is a CorruptPartitionError naming the file."""
    names = names or UNITS[unit]
    first = DATASETS[UNITS[unit][0]]
    for attempt in range(attempts):
        manifest = lake.manifest(first, symbol, day)
        try:
            return {name: _read_named(lake, manifest, name, symbol, day) for name in names}
        except CorruptPartitionError:
            replaced = lake.manifest(first, symbol, day) != manifest
            if not replaced or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _read_named(
    lake: Lake, manifest: UnitManifest | None, name: str, symbol: str, day: date
) -> pa.Table:
    ds = DATASETS[name]
    if manifest is None or ds.name not in manifest.files:
        return ds.schema.empty_table()
    path = lake.data_path(ds, symbol, day)
    return lake.read_checked_file(ds, symbol, day, path, manifest.files[ds.name].sha256)
