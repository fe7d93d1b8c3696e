"""`liqbrief lake verify`: every stored partition checked against its ledger record.

A partition is good when its data file and ledger record both exist, the file hashes to the
SHA-256 the ledger recorded at write time (records from before that field existed are checked
for rows and schema only, and counted), it reads as Parquet in the dataset's exact schema with
the recorded number of rows, and — for a date's liquidation map — its manifest names it with
the same hash. Everything else is listed with the command that re-makes it.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from liqbrief.symbols import InvalidSymbolError, validate_symbol
from store.datasets import DATASETS, Dataset
from store.errors import CorruptPartitionError, repair_command
from store.lake import DATA_FILE, Lake, day_of_name, schema_problem
from store.object_store import read_whole


@dataclass(frozen=True)
class Finding:
    """One partition that cannot be trusted, and why."""

    dataset: str
    symbol: str
    day: date
    path: str
    problem: str


@dataclass
class VerifyReport:
    root: str = ""
    checked: int = 0
    unhashed: int = 0  # partitions whose ledger record predates data_sha256
    findings: list[Finding] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)  # date= directories naming no date

    @property
    def ok(self) -> bool:
        return not self.findings and not self.stray

    def repair_commands(self) -> list[str]:
        """One command per dataset, symbol and run of consecutive bad days."""
        runs: dict[tuple[str, str], list[list[date]]] = {}
        for f in sorted(self.findings, key=lambda f: (f.dataset, f.symbol, f.day)):
            spans = runs.setdefault((f.dataset, f.symbol), [])
            if spans and f.day - spans[-1][-1] <= timedelta(days=1):
                spans[-1].append(f.day)
            else:
                spans.append([f.day])
        commands = [
            repair_command(name, symbol, span[0], span[-1])
            for (name, symbol), spans in runs.items()
            for span in spans
        ]
        found = [c for c in commands if c is not None]
        if len(found) < len(commands):  # recorded stream days: no command re-makes them
            found.append(
                "mv FILE FILE.bad  (each bad recorded-stream file above; the next compaction "
                "of `liqbrief record` rebuilds its day from the segments still in the spool)"
            )
        return list(dict.fromkeys(found))


def _listing(lake: Lake, directory: str) -> list[pafs.FileInfo]:
    return lake.fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True))


def stored_symbols(lake: Lake, ds: Dataset) -> list[str]:
    """Symbols with a ledger directory or a data directory for ``ds``."""
    names = set()
    for base in (posixpath.join(lake.root, "_ledger", ds.venue, ds.name),
                 posixpath.join(lake.root, ds.venue, ds.name)):  # fmt: skip
        for info in _listing(lake, base):
            if info.type == pafs.FileType.Directory and info.base_name.startswith("symbol="):
                names.add(info.base_name.removeprefix("symbol="))
    return sorted(n for n in names if _is_symbol(n))


def _is_symbol(name: str) -> bool:
    try:
        validate_symbol(name)
    except InvalidSymbolError:
        return False
    return True


def stored_partitions(lake: Lake, ds: Dataset, symbol: str) -> tuple[list[date], list[str]]:
    """Days with a ledger record or a data directory (a write may have stopped between),
    and the paths of ``date=`` directories whose name is not a date (stray, not read)."""
    days = set(lake.stored_days(ds, symbol))
    stray = []
    data_dir = posixpath.dirname(lake.partition_dir(ds, symbol, date(2000, 1, 1)))
    for info in _listing(lake, data_dir):
        if info.type == pafs.FileType.Directory and info.base_name.startswith("date="):
            day = day_of_name(info.base_name)
            if day is None:
                stray.append(info.path)
            else:
                days.add(day)
    return sorted(days), sorted(stray)


def partition_problem(lake: Lake, ds: Dataset, symbol: str, day: date) -> tuple[str | None, bool]:
    """What is wrong with one partition (None if nothing), and whether its hash was checked."""
    try:
        entry = lake.ledger_entry(ds, symbol, day)
    except CorruptPartitionError:
        return "its ledger record is unreadable", False
    if entry is None:
        return "has no ledger record (a write stopped before recording it)", False
    try:
        raw = read_whole(lake.fs, lake.data_path(ds, symbol, day))
    except FileNotFoundError:
        return "is missing although the ledger records it", False
    digest = hashlib.sha256(raw).hexdigest()
    if entry.data_sha256 is not None and digest != entry.data_sha256:
        return "does not match the SHA-256 its ledger record holds", True
    try:
        table = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowInvalid, OSError) as exc:
        return f"is not a readable Parquet file ({exc})", entry.data_sha256 is not None
    problem = schema_problem(table.schema, ds.schema)
    if problem is None and table.num_rows != entry.rows:
        problem = f"holds {table.num_rows} rows, its ledger record says {entry.rows}"
    if problem is None and ds.unit is not None:
        problem = _manifest_problem(lake, ds, symbol, day, digest)
    return problem, entry.data_sha256 is not None


def _manifest_problem(lake: Lake, ds: Dataset, symbol: str, day: date, digest: str) -> str | None:
    try:
        manifest = lake.manifest(ds, symbol, day)
    except CorruptPartitionError:
        return f"has an unreadable {ds.unit} manifest"
    if manifest is None or ds.name not in manifest.files:
        return f"is not named by a {ds.unit} manifest (a run stopped before completing the date)"
    if manifest.files[ds.name].sha256 != digest:
        return f"differs from the file its {ds.unit} manifest names"
    return None


def verify_lake(
    lake: Lake,
    datasets: Iterable[str] | None = None,
    symbols: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> VerifyReport:
    """Check every stored partition of ``datasets`` × ``symbols`` in [start, end] (all if None)."""
    datasets = list(datasets or sorted(DATASETS))
    unknown = [n for n in datasets if n not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; choose from {', '.join(sorted(DATASETS))}")
    symbols = [validate_symbol(s) for s in symbols] if symbols else None
    if start and end and end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    report = VerifyReport(root=lake.root)
    for name in datasets:
        ds = DATASETS[name]
        for symbol in symbols or stored_symbols(lake, ds):
            days, stray = stored_partitions(lake, ds, symbol)
            report.stray.extend(stray)
            for day in days:
                if (start and day < start) or (end and day > end):
                    continue
                problem, hashed = partition_problem(lake, ds, symbol, day)
                report.checked += 1
                report.unhashed += not hashed and problem is None
                if problem:
                    path = posixpath.join(lake.partition_dir(ds, symbol, day), DATA_FILE)
                    report.findings.append(Finding(name, symbol, day, path, problem))
    return report


def print_report(report: VerifyReport, echo: Callable[[str], object]) -> None:
    """The findings, then one re-fetch command per run of bad days, then the counts."""
    for path in report.stray:
        echo(f"BAD {path}: not a date partition (its name is not date=YYYY-MM-DD); move it out")
    for f in report.findings:
        echo(f"BAD {f.path}: {f.problem}")
    if report.findings:
        echo("re-fetch with:")
        for command in report.repair_commands():
            echo(f"  {command}")
    old = (
        f"; {report.unhashed} with ledger records from before data hashes (rows and schema checked)"
    )
    echo(
        f"{report.checked} partition(s) checked under {report.root}, {len(report.findings)} bad"
        + (f", {len(report.stray)} not a date partition" if report.stray else "")
        + (old if report.unhashed else "")
    )
