"""Configuration, read from the environment in one place.

Every knob has a default that works on a fresh machine; tests and offline runs
override the base URLs to point at a loopback mirror.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_LAKE = "./lake"
DEFAULT_BINANCE_ARCHIVE_URL = "https://data.binance.vision"


@dataclass(frozen=True)
class Settings:
    lake: str
    binance_archive_url: str
    download_concurrency: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            lake=os.environ.get("LIQBRIEF_LAKE", DEFAULT_LAKE),
            binance_archive_url=os.environ.get(
                "LIQBRIEF_BINANCE_ARCHIVE_URL", DEFAULT_BINANCE_ARCHIVE_URL
            ).rstrip("/"),
            download_concurrency=int(os.environ.get("LIQBRIEF_DOWNLOAD_CONCURRENCY", "8")),
        )
