"""The Parquet lake: the one place that knows paths, schemas and how to write safely.

Layout: ``<root>/<venue>/<dataset>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/data.parquet``
(hive-partitioned), with the ledger beside it under ``<root>/_ledger/``.
All I/O goes through a pyarrow filesystem, so an object store can replace the
local disk by changing the root URI.
"""

from __future__ import annotations

import contextlib
import posixpath
import time
import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from liqbrief.symbols import validate_symbol
from store.datasets import Dataset
from store.files import is_stale_temporary
from store.ledger import LedgerEntry

DATA_FILE = "data.parquet"


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


class Lake:
    """Read and write day partitions of the lake's datasets."""

    def __init__(self, root: str) -> None:
        if "://" in root:
            self.fs, self.root = pafs.FileSystem.from_uri(root)
        else:
            self.fs, self.root = pafs.LocalFileSystem(), str(Path(root).resolve())

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

    # -- writes ------------------------------------------------------------
    def _atomic_write(self, final_path: str, write) -> None:
        """Write to a hidden temporary file beside the target, then rename over it."""
        directory = posixpath.dirname(final_path)
        self.fs.create_dir(directory, recursive=True)
        self._sweep_stale_temporaries(final_path)
        tmp = posixpath.join(directory, f".{posixpath.basename(final_path)}.{uuid.uuid4().hex}.tmp")
        try:
            write(tmp)
            self.fs.move(tmp, final_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError, OSError):
                self.fs.delete_file(tmp)
            raise

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

    def write_day(self, ds: Dataset, day: date, table: pa.Table, entry: LedgerEntry) -> None:
        """Replace one day's partition with ``table`` (idempotent), then record it in the ledger."""
        if not table.schema.equals(ds.schema):
            raise ValueError(f"{ds.name}: table schema does not match the lake schema")
        self._atomic_write(
            self.data_path(ds, entry.symbol, day),
            lambda p: pq.write_table(table, p, filesystem=self.fs, compression="zstd"),
        )
        raw = entry.to_json()

        def write_ledger(p: str) -> None:
            with self.fs.open_output_stream(p) as out:
                out.write(raw)

        self._atomic_write(self.ledger_path(ds, entry.symbol, day), write_ledger)

    # -- reads -------------------------------------------------------------
    def ingested_days(self, ds: Dataset, symbol: str, days: Iterable[date]) -> set[date]:
        """The days whose data file and ledger record both exist (one metadata call each)."""
        days = list(days)
        if not days:
            return set()
        data = self.fs.get_file_info([self.data_path(ds, symbol, d) for d in days])
        ledger = self.fs.get_file_info([self.ledger_path(ds, symbol, d) for d in days])
        return {
            d
            for d, fi, li in zip(days, data, ledger, strict=True)
            if fi.type == pafs.FileType.File and li.type == pafs.FileType.File
        }

    def stored_days(self, ds: Dataset, symbol: str) -> list[date]:
        """Every day with a ledger record for this dataset and symbol, sorted (one listing)."""
        directory = posixpath.dirname(self.ledger_path(ds, symbol, date(2000, 1, 1)))
        infos = self.fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
        names = [posixpath.basename(i.path) for i in infos if i.path.endswith(".json")]
        return sorted(date.fromisoformat(n.removesuffix(".json")) for n in names)

    def ledger_entry(self, ds: Dataset, symbol: str, day: date) -> LedgerEntry | None:
        try:
            with self.fs.open_input_stream(self.ledger_path(ds, symbol, day)) as f:
                return LedgerEntry.from_json(f.read())
        except FileNotFoundError:
            return None

    def read_table(
        self, ds: Dataset, symbol: str, start: date, end: date, columns: list[str] | None = None
    ) -> pa.Table:
        """All stored rows of a symbol between two days (inclusive), sorted by time;
        only ``columns`` (plus the time column) if given."""
        schema = ds.schema
        if columns is not None:
            names = [ds.time_column, *(c for c in columns if c != ds.time_column)]
            schema = pa.schema([ds.schema.field(name) for name in names])
        days = days_between(start, end)
        present = sorted(self.ingested_days(ds, symbol, days))
        if not present:
            return schema.empty_table()
        # one multi-threaded scan over the day files, not a reader per file
        paths = [self.data_path(ds, symbol, d) for d in present]
        table = pads.dataset(paths, schema=ds.schema, format="parquet", filesystem=self.fs)
        return table.to_table(columns=schema.names).sort_by(ds.time_column)

    def read(
        self, ds: Dataset, symbol: str, start: date, end: date, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """Like read_table, as a typed DataFrame (UTC timestamps, float64 amounts)."""
        return self.read_table(ds, symbol, start, end, columns).to_pandas()
