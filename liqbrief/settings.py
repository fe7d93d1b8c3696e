"""Configuration, read from the environment in one place.

Every knob has a default that works on a fresh machine; tests and offline runs
override the base URLs to point at a loopback mirror.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_LAKE = "./lake"
DEFAULT_BINANCE_ARCHIVE_URL = "https://data.binance.vision"


@dataclass(frozen=True, repr=False)
class Settings:
    lake: str
    binance_archive_url: str
    download_concurrency: int
    reports_dir: str = "./out/briefings"
    http_attempts: int = 5  # tries per HTTP request (archive, FRED) before giving up
    fred_api_url: str = "https://api.stlouisfed.org"
    fred_csv_url: str = "https://fred.stlouisfed.org"
    fred_api_key: str | None = None  # a secret: never log it
    render_workers: int = 2  # processes rendering briefings in a backfill (one per core)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            lake=os.environ.get("LIQBRIEF_LAKE", DEFAULT_LAKE),
            binance_archive_url=os.environ.get(
                "LIQBRIEF_BINANCE_ARCHIVE_URL", DEFAULT_BINANCE_ARCHIVE_URL
            ).rstrip("/"),
            download_concurrency=int(os.environ.get("LIQBRIEF_DOWNLOAD_CONCURRENCY", "8")),
            reports_dir=os.environ.get("LIQBRIEF_REPORTS_DIR", "./out/briefings"),
            http_attempts=int(os.environ.get("LIQBRIEF_HTTP_ATTEMPTS", "5")),
            fred_api_url=os.environ.get("LIQBRIEF_FRED_URL", "https://api.stlouisfed.org").rstrip(
                "/"
            ),
            fred_csv_url=os.environ.get(
                "LIQBRIEF_FRED_CSV_URL", "https://fred.stlouisfed.org"
            ).rstrip("/"),
            fred_api_key=os.environ.get("FRED_API_KEY") or None,
            render_workers=int(
                os.environ.get("LIQBRIEF_RENDER_WORKERS", str(min(2, os.cpu_count() or 1)))
            ),
        )

    def __repr__(self) -> str:  # keeps the FRED key out of logs and tracebacks
        key = "set" if self.fred_api_key else "unset"
        return f"Settings(lake={self.lake!r}, binance_archive_url={self.binance_archive_url!r}, fred_api_key={key})"
