"""What a venue fetch did, per venue and symbol: rows stored per dataset, days skipped,
coverage warnings (every gap left after paging) and failures, as the lines the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VenueReport:
    venue: str
    symbol: str
    rows: dict[str, int] = field(default_factory=dict)  # dataset → rows stored
    days_stored: int = 0
    days_skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        stored = ", ".join(f"{n} {name}" for name, n in self.rows.items() if n) or "nothing new"
        return (
            f"{self.venue} {self.symbol}: stored {stored} "
            f"({self.days_stored} day partitions; {self.days_skipped} already complete)"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "venue": self.venue, "symbol": self.symbol, "rows": self.rows,
            "days_stored": self.days_stored, "days_skipped": self.days_skipped,
            "warnings": self.warnings, "failures": self.failures,
        }  # fmt: skip
