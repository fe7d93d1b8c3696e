"""Which archive files cover a date range, and where they live.

URL layout: ``<base>/data/futures/um/<daily|monthly>/<dataset>/<SYMBOL>/[<interval>/]
<SYMBOL>-<interval or dataset>-<YYYY-MM-DD or YYYY-MM>.zip``, with a ``.CHECKSUM``
file beside every zip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from liqbrief.symbols import validate_symbol
from sources.errors import ArchiveRangeError
from store.lake import days_between


@dataclass(frozen=True)
class ArchiveDataset:
    """How one lake dataset is published in the archive."""

    lake_name: str
    archive_name: str
    interval: str | None
    has_daily: bool
    has_monthly: bool


ARCHIVE_DATASETS: dict[str, ArchiveDataset] = {
    a.lake_name: a
    for a in [
        ArchiveDataset("klines_1m", "klines", "1m", has_daily=True, has_monthly=True),
        ArchiveDataset("klines_5m", "klines", "5m", has_daily=True, has_monthly=True),
        ArchiveDataset("mark_klines_1m", "markPriceKlines", "1m", has_daily=True, has_monthly=True),
        ArchiveDataset("metrics", "metrics", None, has_daily=True, has_monthly=False),
        ArchiveDataset("funding_rate", "fundingRate", None, has_daily=False, has_monthly=True),
        # realised liquidation orders; published until 2024-03-31, then withdrawn (binance-public-
        # data #337, #361): probed, never part of the default extract (snapshot_ingest.py)
        ArchiveDataset(
            "liquidation_snapshot", "liquidationSnapshot", None, has_daily=True, has_monthly=False
        ),
    ]
}


@dataclass(frozen=True)
class ArchiveFile:
    """One zip in the archive and the lake days it supplies."""

    dataset: ArchiveDataset
    symbol: str
    period: str  # "daily" or "monthly"
    stamp: str  # YYYY-MM-DD or YYYY-MM
    days: tuple[date, ...]

    @property
    def file_name(self) -> str:
        middle = self.dataset.interval or self.dataset.archive_name
        return f"{self.symbol}-{middle}-{self.stamp}.zip"

    @property
    def path(self) -> str:
        parts = ["data/futures/um", self.period, self.dataset.archive_name, self.symbol]
        if self.dataset.interval:
            parts.append(self.dataset.interval)
        return "/".join([*parts, self.file_name])

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.dataset.lake_name} {self.stamp}"


ARCHIVE_START = date(2019, 9, 1)  # the first month of the USDⓈ-M futures archive


def check_archive_range(start: date, end: date, today: date) -> None:
    """Refuse a range the archive cannot hold, before any request is made."""
    yesterday = today - timedelta(days=1)
    if end < start:
        raise ArchiveRangeError(f"end {end} is before start {start}: swap them")
    if start < ARCHIVE_START:
        raise ArchiveRangeError(
            f"start {start} is before the archive begins ({ARCHIVE_START:%Y-%m}, when Binance "
            f"USDⓈ-M futures started): use --start {ARCHIVE_START} or later"
        )
    if end > yesterday:
        raise ArchiveRangeError(
            f"end {end} is after yesterday ({yesterday}, UTC): the archive publishes a day only "
            f"after it ends — use --end {yesterday} or earlier"
        )


def _month_end(first: date) -> date:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def daily_files(ds: ArchiveDataset, symbol: str, days: list[date]) -> list[ArchiveFile]:
    return [ArchiveFile(ds, symbol, "daily", d.isoformat(), (d,)) for d in days]


def plan_files(
    ds: ArchiveDataset, symbol: str, start: date, end: date, today: date
) -> list[ArchiveFile]:
    """The fewest files covering [start, end]: monthly for whole finished months, else daily."""
    validate_symbol(symbol)
    if end < start:
        raise ArchiveRangeError(f"end {end} is before start {start}: swap them")
    files: list[ArchiveFile] = []
    loose_days: list[date] = []
    month = start.replace(day=1)
    while month <= end:
        last = _month_end(month)
        in_range = tuple(days_between(max(month, start), min(last, end)))
        whole_finished_month = in_range[0] == month and in_range[-1] == last and last < today
        if not ds.has_daily or (ds.has_monthly and whole_finished_month):
            files.append(ArchiveFile(ds, symbol, "monthly", month.strftime("%Y-%m"), in_range))
        else:
            loose_days.extend(in_range)
        month = last + timedelta(days=1)
    files.extend(daily_files(ds, symbol, loose_days))
    return sorted(files, key=lambda f: f.days[0])
