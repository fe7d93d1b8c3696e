"""A run's snapshot of the day partitions it reads from an object store.

A backfill reads the same input days again and again: the inputs check, the engine pass,
the scoring and each chunk's context all read a symbol's open interest and klines. On an
object store each read of a day costs four requests (the ledger record and the data object,
each a HEAD and a GET), so a run opens ``snapshot_reads`` and every ``Lake`` on that root in
this process keeps the days it has read and verified (ledger record and SHA-256-checked
table), up to a byte budget, least recently used first out.

What a run sees is then a snapshot: each day as it was when the run first read it, and the
run's own writes (a write in this process holds the table it wrote, as a read would return
it, so the run does not fetch back what it just wrote; a delete drops the day). Absent days
are remembered alike: a run sees the lake as of its first look, so a day another process writes meanwhile is not seen by this run
(snapshot isolation; the run's own writes always are). So are whole listings of a record
directory (a dataset's stored days): the run lists once, and hands its listings to the
processes that render its days, so a briefing asks no more for what the run already knows is
not there. A run also lists the range it will write once, so a fresh day's write deletes no
old record it knows is absent. The snapshot ends with the run: a
long-lived process (a Dask worker, `serve`) never carries one into the next run. A local
lake never uses one: the operating system's page cache does this job there.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date

import pyarrow as pa

from store.ledger import LedgerEntry

DEFAULT_BUDGET_BYTES = 768 * 2**20
Listings = dict[str, frozenset[date]]  # a record directory's days with a record, as listed


class ReadSnapshot:
    """Verified day tables by data-object path, with their ledger records (LRU by bytes)."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self.held_bytes = 0
        self.hits = 0
        self._days: OrderedDict[str, tuple[LedgerEntry | None, pa.Table]] = OrderedDict()
        self._absent: set[str] = set()  # record paths (ledger or manifest) found absent
        self._listed: Listings = {}  # a record directory's days, as listed
        self._lock = threading.Lock()

    def is_absent(self, path: str) -> bool:
        with self._lock:
            return path in self._absent

    def put_absent(self, path: str) -> None:
        with self._lock:
            self._absent.add(path)

    def get(self, path: str) -> tuple[LedgerEntry | None, pa.Table] | None:
        with self._lock:
            found = self._days.get(path)
            if found is not None:
                self._days.move_to_end(path)
                self.hits += 1
            return found

    def put(self, path: str, entry: LedgerEntry | None, table: pa.Table) -> None:
        size = table.nbytes
        if size > self.budget_bytes:
            return
        with self._lock:
            self._drop(path)
            self._days[path] = (entry, table)
            self.held_bytes += size
            while self.held_bytes > self.budget_bytes:
                self._drop(next(iter(self._days)))

    def listed(self, directory: str) -> frozenset[date] | None:
        """The days a whole listing of a record directory found (None: not listed)."""
        with self._lock:
            return self._listed.get(directory)

    def put_listed(self, directory: str, days: Iterable[date]) -> None:
        with self._lock:
            self._listed[directory] = frozenset(days)

    def listings(self) -> Listings:
        """Every whole listing held: what a run hands to the processes that render its days."""
        with self._lock:
            return dict(self._listed)

    def adopt(self, listings: Listings) -> None:
        """Take the listings another process of the same run made (it lists, they don't);
        a listing this snapshot holds (made since, or after its own write) stays."""
        with self._lock:
            for directory, days in listings.items():
                self._listed.setdefault(directory, days)

    def forget(self, *keys: str) -> None:
        """Drop what is held under each key: a table (data path), an absence (record path),
        a listing (record directory); a write or delete of this process changed it."""
        with self._lock:
            for key in keys:
                self._drop(key)
                self._absent.discard(key)
                self._listed.pop(key, None)

    def _drop(self, path: str) -> None:
        held = self._days.pop(path, None)
        if held is not None:
            self.held_bytes -= held[1].nbytes


_open: dict[str, ReadSnapshot] = {}  # by lake root (as the Lake resolves it)
_open_lock = threading.Lock()


def active_snapshot(root: str) -> ReadSnapshot | None:
    """The snapshot a run opened for this lake root in this process, if any."""
    return _open.get(root)


@contextmanager
def snapshot_reads(
    root: str, budget_bytes: int = DEFAULT_BUDGET_BYTES
) -> Iterator[ReadSnapshot | None]:
    """Keep the days this process reads from the object-store lake at ``root`` (a URI)
    until the block ends; a no-op for a local lake, or when a snapshot is already open."""
    from store.lake import Lake

    lake = Lake(root)
    if lake.is_local or lake.root in _open:
        yield _open.get(lake.root)
        return
    snapshot = ReadSnapshot(budget_bytes)
    with _open_lock:
        _open[lake.root] = snapshot
    try:
        yield snapshot
    finally:
        with _open_lock:
            _open.pop(lake.root, None)
