"""The Parquet lake: the one place that knows paths, schemas and how to write safely.

Layout: ``<root>/<venue>/<dataset>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/data.parquet``
(hive-partitioned), with the ledger beside it under ``<root>/_ledger/`` and the manifests of
datasets replaced together (a date's liquidation map) under ``<root>/_manifests/``.
All I/O goes through a pyarrow filesystem, so an object store can replace the
local disk by changing the root URI. Every file read is checked against the dataset's
schema (and, for manifest units, against the manifest's hash): a corrupt or foreign file is
an error naming it, never silently cast or null-filled.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from liqbrief.symbols import validate_symbol
from store.datasets import DATASETS, Dataset, unit_key
from store.errors import CorruptPartitionError, corrupt_partition
from store.files import is_stale_temporary, temporary_name
from store.ledger import LedgerEntry, LedgerRecordError
from store.object_store import (
    delete_whole,
    filesystem_from_uri,
    is_file,
    is_local_filesystem,
    read_whole,
)
from store.read_cache import active_snapshot
from store.s3_requests import keys_between
from store.units import UnitManifest, read_unit

DATA_FILE = "data.parquet"
OBJECT_STORE_CONCURRENCY = 16  # requests in flight per read on an object store
LISTED_FROM = 4  # days asked at once from which one listing of their records beats a GET each


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_of_name(name: str) -> date | None:
    """The date a partition directory (``date=YYYY-MM-DD``) or ledger record
    (``YYYY-MM-DD.json``) names, or None for a stray name that names no date."""
    text = name.removeprefix("date=").removesuffix(".json")
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def parquet_bytes(table: pa.Table) -> bytes:
    """The bytes of ``table`` as the lake stores it (zstd Parquet)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def dataset_key(ds: Dataset) -> str:
    """The dataset's name in DATASETS: per-venue datasets are keyed "<venue>/<name>"."""
    return ds.name if DATASETS.get(ds.name) is ds else f"{ds.venue}/{ds.name}"


def schema_problem(found: pa.Schema, expected: pa.Schema) -> str | None:
    """What differs between a file's schema and the dataset's, or None."""
    if found.equals(expected, check_metadata=False):
        return None
    missing = [n for n in expected.names if n not in found.names]
    extra = [n for n in found.names if n not in expected.names]
    retyped = [
        f"{f.name} is {found.field(f.name).type}, expected {f.type}"
        for f in expected
        if f.name in found.names and not found.field(f.name).type.equals(f.type)
    ]
    parts = (
        ([f"missing columns {missing}"] if missing else [])
        + ([f"unexpected columns {extra}"] if extra else [])
        + retyped
    )
    return "has the wrong schema (" + ("; ".join(parts) or "column order differs") + ")"


class Lake:
    """Read and write day partitions of the lake's datasets."""

    def __init__(self, root: str) -> None:
        if "://" in root:
            self.fs, self.root = filesystem_from_uri(root)
        else:
            self.fs, self.root = pafs.LocalFileSystem(), str(Path(root).resolve())
        # an object store has no rename: each object is written once, whole (one PUT)
        self.is_local = is_local_filesystem(self.fs)

    # -- paths -------------------------------------------------------------
    def partition_dir(self, ds: Dataset, symbol: str, day: date) -> str:
        validate_symbol(symbol)
        return posixpath.join(
            self.root, ds.venue, ds.name, f"symbol={symbol}", f"date={day.isoformat()}"
        )

    def data_path(self, ds: Dataset, symbol: str, day: date) -> str:
        return posixpath.join(self.partition_dir(ds, symbol, day), DATA_FILE)

    def ledger_path(self, ds: Dataset, symbol: str, day: date) -> str:
        validate_symbol(symbol)
        return posixpath.join(
            self.root, "_ledger", ds.venue, ds.name, f"symbol={symbol}", f"{day.isoformat()}.json"
        )

    def manifest_path(self, ds: Dataset, symbol: str, day: date) -> str:
        """The manifest of the unit ``ds`` belongs to (e.g. a date's liquidation map)."""
        validate_symbol(symbol)
        assert ds.unit is not None, f"{ds.name} is not replaced as part of a unit"
        return posixpath.join(
            self.root,
            "_manifests",
            ds.venue,
            ds.unit,
            f"symbol={symbol}",
            f"{day.isoformat()}.json",
        )

    def record_path(self, ds: Dataset, symbol: str, day: date) -> str:
        """What says a day exists: its unit's manifest, else its ledger record."""
        if ds.unit is not None:
            return self.manifest_path(ds, symbol, day)
        return self.ledger_path(ds, symbol, day)

    # -- writes ------------------------------------------------------------
    def _atomic_write(self, final_path: str, write) -> None:
        """On disk: write a hidden temporary file beside the target, then rename over it.
        On an object store: write the object itself; the store shows it only once the
        upload completes (a killed writer leaves the old object or none, and no temporary)."""
        if not self.is_local:
            write(final_path)
            return
        directory = posixpath.dirname(final_path)
        self.fs.create_dir(directory, recursive=True)
        self._sweep_stale_temporaries(final_path)
        tmp = posixpath.join(directory, temporary_name(posixpath.basename(final_path)))
        try:
            write(tmp)
            self.fs.move(tmp, final_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError, OSError):
                self.fs.delete_file(tmp)
            raise

    def write_bytes(self, final_path: str, raw: bytes) -> None:
        """Atomically replace ``final_path`` with ``raw``."""

        def write(p: str) -> None:
            with self.fs.open_output_stream(p) as out:
                out.write(raw)

        self._atomic_write(final_path, write)

    def _sweep_stale_temporaries(self, final_path: str) -> None:
        """Remove temporaries of a data file left by a killed writer (a partition directory
        holds a file or two, so the listing is cheap; ledger directories are not swept)."""
        name = posixpath.basename(final_path)
        if name != DATA_FILE:
            return
        now = time.time()
        listing = pafs.FileSelector(posixpath.dirname(final_path), allow_not_found=True)
        for info in self.fs.get_file_info(listing):
            mtime = info.mtime.timestamp() if info.mtime is not None else now
            if is_stale_temporary(info.base_name, name, mtime, now):
                with contextlib.suppress(FileNotFoundError, OSError):
                    self.fs.delete_file(info.path)

    def write_day(
        self,
        ds: Dataset,
        day: date,
        table: pa.Table,
        entry: LedgerEntry,
        unvouched: bool = False,
    ) -> LedgerEntry:
        """Replace one day's partition with ``table`` (idempotent), then record it in the
        ledger with the data file's SHA-256 and size, the record last; return it.
        ``unvouched``: no reader trusts the old record meanwhile (a unit whose manifest the
        writer removed first), so it is not deleted before the data is replaced; nor is a
        record the run's snapshot knows is absent (a fresh day)."""
        if not table.schema.equals(ds.schema):
            raise ValueError(f"{ds.name}: table schema does not match the lake schema")
        raw = parquet_bytes(table)
        entry = replace(entry, data_sha256=hashlib.sha256(raw).hexdigest(), data_bytes=len(raw))
        ledger = self.ledger_path(ds, entry.symbol, day)
        fresh = self.known_absent(ds, entry.symbol, day)
        self.forget(ds, entry.symbol, day)
        if not (unvouched or fresh):  # a crash below must not leave the old record vouching
            with contextlib.suppress(FileNotFoundError):
                delete_whole(self.fs, ledger)
        self.write_bytes(self.data_path(ds, entry.symbol, day), raw)
        self.write_bytes(ledger, entry.to_json())
        self.forget(ds, entry.symbol, day)  # a listing made meanwhile lacks the day
        self._hold_written(ds, day, entry, raw)
        return entry

    def _hold_written(self, ds: Dataset, day: date, entry: LedgerEntry, raw: bytes) -> None:
        """Keep the run's own write in its snapshot as a read returns it (decoded from the
        bytes written: no buffer shared with the caller's frame), so the run does not fetch
        back what it just wrote (a unit's files are read via its manifest)."""
        snapshot = active_snapshot(self.root)
        if snapshot is not None and ds.unit is None:
            held = pq.read_table(pa.BufferReader(raw)).replace_schema_metadata(None)
            snapshot.put(self.data_path(ds, entry.symbol, day), entry, held.cast(ds.schema))

    def stored_day(self, ds: Dataset, symbol: str, day: date) -> tuple[pa.Table, bool]:
        """A day's data file as it is on disk, whether or not its ledger record exists (a
        crash inside ``write_day`` leaves the file without one; the file is replaced
        atomically, so it is always whole), checked against the record's SHA-256 when there
        is one; and whether the record exists. Empty when there is no file. What a merge
        must start from: rows are never dropped because the record went missing."""
        path = self.data_path(ds, symbol, day)
        if not is_file(self.fs, path):
            return ds.schema.empty_table(), False
        entry = self.ledger_entry(ds, symbol, day)
        sha = entry.data_sha256 if entry is not None else None
        return self.read_checked_file(ds, symbol, day, path, sha, "ledger entry"), entry is not None

    def set_aside(self, ds: Dataset, symbol: str, day: date) -> str:
        """Move a day's (corrupt) data file out of the lake to ``<root>/_set_aside/…`` for
        the operator, and drop its ledger record; returns where it went."""
        target = posixpath.join(
            self.root,
            "_set_aside",
            ds.venue,
            ds.name,
            f"symbol={symbol}",
            f"date={day.isoformat()}.{uuid.uuid4().hex[:8]}.parquet",
        )
        self.forget(ds, symbol, day)
        if self.is_local:
            self.fs.create_dir(posixpath.dirname(target), recursive=True)
        with contextlib.suppress(FileNotFoundError):
            delete_whole(self.fs, self.ledger_path(ds, symbol, day))
        self.fs.move(self.data_path(ds, symbol, day), target)
        return target

    def delete_day(self, ds: Dataset, symbol: str, day: date) -> None:
        """Remove a day's ledger record, then its data file (absent ones are fine)."""
        self.forget(ds, symbol, day)
        for path in (self.ledger_path(ds, symbol, day), self.data_path(ds, symbol, day)):
            with contextlib.suppress(FileNotFoundError):
                delete_whole(self.fs, path)

    # -- reads -------------------------------------------------------------
    def ingested_days(self, ds: Dataset, symbol: str, days: Iterable[date]) -> set[date]:
        """The days whose data file exists and whose ledger record vouches for it (same
        size); for datasets replaced as a unit, also named by the unit's manifest."""
        present = set(self.vouched_entries(ds, symbol, days, check_size=True))
        if ds.unit is not None:
            present = {d for d in present if self._manifest_names(ds, symbol, d)}
        return present

    def vouched_entries(
        self, ds: Dataset, symbol: str, days: Iterable[date], check_size: bool = False
    ) -> dict[date, LedgerEntry | None]:
        """Each day whose data file and ledger record exist (and, if ``check_size``, the
        record holds the file's size), with its record: the record read first, then one
        metadata call for the days that have one, never a whole prefix's listing. None for an
        unreadable record: a read trusts the data (`liqbrief lake verify` names it), while
        ``check_size`` (is the day stored?) does not, so an extract fetches the day again and
        writes a good record. Reads check more than
        the size: a whole file's SHA-256 (object stores, units) or its schema (local)."""
        days = list(days)
        if ds.unit is None and not self.is_local and active_snapshot(self.root) is not None:
            # one GET more than the HEAD, and the run's next read of these days is free
            self._read_from_store(ds, symbol, days)
        held = self._snapshot_held(ds, symbol, days)  # verified by this run already
        vouched = {d: entry for d, (entry, _) in held.items()}
        asked = [d for d in days if d not in vouched and not self.known_absent(ds, symbol, d)]
        recorded = self._recorded_entries(ds, symbol, asked)  # absent: one request
        data = self.fs.get_file_info([self.data_path(ds, symbol, d) for d in recorded])
        for (day, entry), info in zip(recorded.items(), data, strict=True):
            # an unreadable record (None) cannot vouch for a size: not stored, so re-fetched
            sized = not check_size or (entry is not None and entry.data_bytes in (None, info.size))
            if info.type == pafs.FileType.File and sized:
                vouched[day] = entry
        return vouched

    def stored_days(self, ds: Dataset, symbol: str) -> list[date]:
        """Every day with a ledger record for this dataset and symbol, sorted (one listing,
        kept by the run's snapshot: a briefing a day asks the same of the same run)."""
        directory = posixpath.dirname(self.ledger_path(ds, symbol, date(2000, 1, 1)))
        snapshot = active_snapshot(self.root)
        held = snapshot.listed(directory) if snapshot is not None else None
        if held is not None:
            return sorted(held)
        infos = self.fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
        names = [posixpath.basename(i.path) for i in infos if i.path.endswith(".json")]
        days = sorted(d for d in map(day_of_name, names) if d is not None)  # stray: no record
        if snapshot is not None:
            snapshot.put_listed(directory, days)
        return days

    def ledger_entry(self, ds: Dataset, symbol: str, day: date) -> LedgerEntry | None:
        """The ledger record of a day, or None; an unreadable record names its file."""
        return self._record(
            self.ledger_path(ds, symbol, day), LedgerEntry.from_json, LedgerRecordError,
            "is {}", ds, symbol, day,
        )  # fmt: skip

    def manifest(self, ds: Dataset, symbol: str, day: date) -> UnitManifest | None:
        """The manifest of the unit ``ds`` belongs to on ``day``, or None."""
        return self._record(
            self.manifest_path(ds, symbol, day), UnitManifest.from_json, ValueError,
            "is an unreadable manifest ({})", ds, symbol, day,
        )  # fmt: skip

    def _record(self, path: str, parse, errors, problem: str, ds: Dataset, symbol: str, day: date):
        """A small JSON record beside the data: None if absent, parsed, or a named error."""
        try:
            return parse(read_whole(self.fs, path))
        except FileNotFoundError:
            return None
        except errors as exc:
            raise CorruptPartitionError(
                corrupt_partition(path, problem.format(exc), dataset_key(ds), symbol, day)
            ) from None

    def _manifest_names(self, ds: Dataset, symbol: str, day: date) -> bool:
        manifest = self.manifest(ds, symbol, day)
        return manifest is not None and ds.name in manifest.files

    def read_table(
        self, ds: Dataset, symbol: str, start: date, end: date, columns: list[str] | None = None
    ) -> pa.Table:
        """All stored rows of a symbol between two days (inclusive), sorted by time;
        only ``columns`` (plus the time column) if given. Raises CorruptPartitionError
        naming the file when a stored file is unreadable or not in the dataset's schema."""
        schema = ds.schema
        if columns is not None:
            names = [ds.time_column, *(c for c in columns if c != ds.time_column)]
            schema = pa.schema([ds.schema.field(name) for name in names])
        days = days_between(start, end)
        if ds.unit is not None:
            # the manifest is the unit's record: it names each file with its SHA-256, so a
            # day costs its manifest and the file (no ledger record, no metadata call)
            days = self._listed_days(
                ds, symbol, [d for d in days if not self.known_absent(ds, symbol, d)]
            )
            parts = self.each(lambda d: self._read_unit_file(ds, symbol, d), days)
        elif not self.is_local:
            parts = self._read_from_store(ds, symbol, days)
        else:
            return self._scan_local(
                ds, symbol, sorted(self.vouched_entries(ds, symbol, days)), schema
            )
        if not parts:
            return schema.empty_table()
        return pa.concat_tables(parts).select(schema.names).sort_by(ds.time_column)

    def _scan_local(
        self, ds: Dataset, symbol: str, present: list[date], schema: pa.Schema
    ) -> pa.Table:
        """Local day files in one multi-threaded scan (sizes checked by the caller; a
        file on disk is replaced by rename, so it is whole)."""
        if not present:
            return schema.empty_table()
        # one multi-threaded scan over the day files, not a reader per file
        paths = {self.data_path(ds, symbol, d): d for d in present}
        scan = pads.dataset(list(paths), schema=ds.schema, format="parquet", filesystem=self.fs)
        for fragment in scan.get_fragments():
            self._check_file_schema(ds, symbol, paths[fragment.path], fragment)
        try:
            table = scan.to_table(columns=schema.names)
        except (pa.ArrowInvalid, OSError):
            for path, day in paths.items():  # name the file the scan stumbled on
                self.read_checked_file(ds, symbol, day, path)
            raise
        return table.sort_by(ds.time_column)

    def _snapshot_held(
        self, ds: Dataset, symbol: str, days: list[date]
    ) -> dict[date, tuple[LedgerEntry | None, pa.Table]]:
        """The days the run's read snapshot holds (none without one): record and table."""
        snapshot = active_snapshot(self.root)
        if snapshot is None:
            return {}
        held = ((d, snapshot.get(self.data_path(ds, symbol, d))) for d in days)
        return {d: found for d, found in held if found is not None}

    def _read_from_store(self, ds: Dataset, symbol: str, days: list[date]) -> list[pa.Table]:
        """Day objects read whole and SHA-checked (the ledger record, then the data), in
        date order; days the run's snapshot holds are not asked for again."""
        snapshot = active_snapshot(self.root)
        tables = {d: table for d, (_, table) in self._snapshot_held(ds, symbol, days).items()}
        asked = [d for d in days if d not in tables and not self.known_absent(ds, symbol, d)]
        recorded = self._recorded_entries(ds, symbol, asked)
        if snapshot is not None:
            for day in set(asked) - set(recorded):
                snapshot.put_absent(self.record_path(ds, symbol, day))
        items = sorted(recorded.items())
        read = self.each(lambda item: self._read_vouched(ds, symbol, *item), items)
        for (day, entry), table in zip(items, read, strict=True):
            if table is not None:
                tables[day] = table
                if snapshot is not None:
                    snapshot.put(self.data_path(ds, symbol, day), entry, table)
        return [tables[d] for d in sorted(tables)]

    def known_absent(self, ds: Dataset, symbol: str, day: date) -> bool:
        """Whether the run's snapshot found no record of this day, asked for or left out of
        a listing (False without a snapshot)."""
        snapshot = active_snapshot(self.root)
        if snapshot is None:
            return False
        record = self.record_path(ds, symbol, day)
        listed = snapshot.listed(posixpath.dirname(record))
        return snapshot.is_absent(record) or (listed is not None and day not in listed)

    def note_absent_days(self, ds: Dataset, symbol: str, days: list[date]) -> None:
        """List the records of ``days`` once, before a run writes them (an object store, in
        the run's snapshot): a write of a day found absent then deletes no old record. Like
        the snapshot itself, this assumes no other run writes those days meanwhile (two
        writers of one day race anyway); if one did, a crash could leave its record beside
        this run's data: read as a corrupt day named by its path (and by `lake verify`)."""
        if active_snapshot(self.root) is not None:
            self._listed_days(ds, symbol, days)

    def forget(self, ds: Dataset, symbol: str, day: date) -> None:
        """A write or delete of this process: the run's snapshot must read the day anew,
        and list its directories anew (called before a write, and after its record)."""
        snapshot = active_snapshot(self.root)
        if snapshot is not None:
            ledger, record = self.ledger_path(ds, symbol, day), self.record_path(ds, symbol, day)
            directories = {posixpath.dirname(ledger), posixpath.dirname(record)}
            snapshot.forget(self.data_path(ds, symbol, day), ledger, record, *directories)

    def _recorded_entries(
        self, ds: Dataset, symbol: str, days: list[date]
    ) -> dict[date, LedgerEntry | None]:
        """The days with a ledger record (None: unreadable), asked one by one (in parallel on
        an object store): there the record's read says whether the day exists, and the data
        object's own read checks it (no HEAD of the data). Four or more days on an object
        store are first listed over their own range (``_listed_days``)."""

        days = self._listed_days(ds, symbol, days)

        def record_of(day: date) -> tuple[date, LedgerEntry | None, bool]:
            try:
                entry = self.ledger_entry(ds, symbol, day)
            except CorruptPartitionError:
                return day, None, True
            return day, entry, entry is not None

        return {day: entry for day, entry, found in self.each(record_of, days) if found}

    def _listed_days(self, ds: Dataset, symbol: str, days: list[date]) -> list[date]:
        """Of ``days``, those an object store's listing of their records (ledger records, or
        a unit's manifests) shows: the run's whole listing of the directory if it holds one,
        else one listing of their range when there are enough days that it is cheaper than
        a GET per absent day (the context's look-back, days before the lake begins, a range
        not mapped yet). ``days`` itself on a local disk or for a few."""
        if self.is_local or not days:
            return days
        snapshot = active_snapshot(self.root)
        first, last = min(days), max(days)
        directory = posixpath.dirname(self.record_path(ds, symbol, first))
        held = snapshot.listed(directory) if snapshot is not None else None
        if held is not None:
            return [d for d in days if d in held]
        if len(days) < LISTED_FROM or not isinstance(self.fs, pafs.S3FileSystem):
            return days
        names = keys_between(self.fs, directory, f"{first}.json", f"{last}.json")
        if names is None:
            return days
        listed = {day_of_name(name) for name in names}
        if snapshot is not None:
            for day in days:
                if day not in listed:
                    snapshot.put_absent(self.record_path(ds, symbol, day))
        return [d for d in days if d in listed]

    def each(self, fn, items: list) -> list:
        """``fn`` over ``items``, results in order; on an object store in threads, since each
        call waits on round trips (the requests are the same, only in flight together).
        For independent work only: writes of different days or datasets, reads."""
        if self.is_local or len(items) < 2:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(min(OBJECT_STORE_CONCURRENCY, len(items))) as pool:
            return list(pool.map(fn, items))

    def _read_vouched(
        self, ds: Dataset, symbol: str, day: date, entry: LedgerEntry | None, attempts: int = 3
    ) -> pa.Table | None:
        """A day's object read whole and checked against its record's SHA-256 (what an
        object-store read costs anyway: one GET). A writer replacing the day meanwhile
        changes the record: read again from the new one; a day that lost its record (the
        writer is between its two writes) reads as absent, never as a partial day."""
        path = self.data_path(ds, symbol, day)
        for attempt in range(attempts):
            sha = entry.data_sha256 if entry is not None else None
            try:
                return self.read_checked_file(ds, symbol, day, path, sha, "ledger entry")
            except CorruptPartitionError:
                try:
                    current = self.ledger_entry(ds, symbol, day)
                except CorruptPartitionError:
                    current = entry
                if current is None:
                    return None
                if current == entry or attempt == attempts - 1:
                    raise
                entry = current
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_file_schema(self, ds: Dataset, symbol: str, day: date, fragment) -> None:
        try:
            problem = schema_problem(fragment.physical_schema, ds.schema)
        except (pa.ArrowInvalid, OSError) as exc:
            problem = f"is not a readable Parquet file ({exc})"
        if problem:
            raise CorruptPartitionError(
                corrupt_partition(fragment.path, problem, dataset_key(ds), symbol, day)
            )

    def read_checked_file(
        self,
        ds: Dataset,
        symbol: str,
        day: date,
        path: str,
        sha256: str | None = None,
        recorded_by: str = "manifest",
    ) -> pa.Table:
        """One stored file, whole, checked against the schema (and ``sha256`` if given, the
        hash its ``recorded_by`` holds: "manifest" or "ledger entry")."""
        try:
            raw = read_whole(self.fs, path)
        except FileNotFoundError:
            raise CorruptPartitionError(
                corrupt_partition(path, "is missing", dataset_key(ds), symbol, day)
            ) from None
        if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
            raise CorruptPartitionError(
                corrupt_partition(
                    path,
                    f"does not match the SHA-256 its {recorded_by} records (a write was interrupted "
                    "or the Parquet file was changed)",
                    ds.name,
                    symbol,
                    day,
                )
            )
        try:
            table = pq.read_table(pa.BufferReader(raw))
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorruptPartitionError(
                corrupt_partition(
                    path, f"is not a readable Parquet file ({exc})", dataset_key(ds), symbol, day
                )
            ) from None
        problem = schema_problem(table.schema, ds.schema)
        if problem:
            raise CorruptPartitionError(
                corrupt_partition(path, problem, dataset_key(ds), symbol, day)
            )
        return table.replace_schema_metadata(None).cast(ds.schema)

    def _read_unit_file(self, ds: Dataset, symbol: str, day: date) -> pa.Table:
        """A unit's file, trusted only if it is the one its manifest names (same hash);
        empty when the day has no manifest naming the dataset."""
        key = dataset_key(ds)
        return read_unit(self, unit_key(ds), symbol, day, (key,))[key]

    def read(
        self, ds: Dataset, symbol: str, start: date, end: date, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """Like read_table, as a typed DataFrame (UTC timestamps, float64 amounts)."""
        return self.read_table(ds, symbol, start, end, columns).to_pandas()
