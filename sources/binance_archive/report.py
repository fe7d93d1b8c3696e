"""What an archive ingest did, file by file: the counts the CLI prints and the flow checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# ingested, skipped (already stored), pending (a recent day not published yet), missing (an
# older day the archive lacks: a problem), failed (a problem), absent (a day of a dataset the
# archive may well lack, e.g. the withdrawn liquidationSnapshot files: reported, not a problem)
STATUSES = ("ingested", "skipped", "pending", "missing", "failed", "absent")


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one archive file; ``status`` is one of STATUSES."""

    label: str
    status: str
    days: int
    rows: int = 0
    error: str | None = None
    symbol: str = ""  # a file that was not stored: the lake days it should have supplied,
    dataset: str = ""  # so a caller can tell which of them another source (REST) filled since
    dates: tuple[date, ...] = ()


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.outcomes)

    @property
    def problems(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status in ("failed", "missing")]

    def extend(self, other: IngestReport) -> None:
        self.outcomes.extend(other.outcomes)

    def summary(self) -> dict[str, int]:
        return {s: self.count(s) for s in STATUSES} | {"rows": self.rows}
