"""`liqbrief extract --venues …` as a user runs it: a subprocess against the three venue
stand-ins and an archive mirror that has not published yet."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.venue_standin import VenueStandin
from store.datasets import market_dataset
from store.lake import Lake
from tests.conftest import PROJECT_ROOT, cli_env

pytestmark = pytest.mark.server
REST_FILLED = "klines_5m,mark_klines_1m,metrics,funding_rate"  # all but klines_1m


def liqbrief(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "liqbrief.cli", *args],
        env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600,
    )  # fmt: skip


def test_extract_venues_stores_each_venue_and_says_what(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    with (
        ArchiveMirror() as mirror,
        VenueStandin("binance") as binance,
        VenueStandin("bybit") as bybit,
        VenueStandin("okx") as okx,
    ):
        env = cli_env(
            tmp_path, LIQBRIEF_BINANCE_ARCHIVE_URL=mirror.base_url,
            LIQBRIEF_BINANCE_FAPI_URL=binance.base_url, LIQBRIEF_BYBIT_URL=bybit.base_url,
            LIQBRIEF_OKX_URL=okx.base_url, LIQBRIEF_HTTP_ATTEMPTS="1",
        )  # fmt: skip
        # four days back: the archive has published none; its older days are "missing" and
        # Binance's REST stores them, so that is no failure
        done = liqbrief(env, "extract", "--venues", "binance,bybit,okx",
                        "--start", str(today - timedelta(days=3)), "--datasets", REST_FILLED)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "their days were fetched through REST" in done.stdout
        for venue in ("binance", "bybit", "okx"):
            assert f"{venue} BTCUSDT: stored " in done.stdout
        assert "Traceback" not in done.stdout + done.stderr
        # the archive has not published yesterday: Binance REST filled it, and today so far
        lake = Lake(str(tmp_path / "lake"))
        ds = market_dataset("binance", "klines_5m")
        entry = lake.ledger_entry(ds, "BTCUSDT", yesterday)
        assert entry.source_url == "rest:binance:/fapi/v1/klines" and entry.rows == 288
        assert lake.ledger_entry(ds, "BTCUSDT", today) is not None

        # a venue that does not answer: the others are stored, one line, exit 1
        env["LIQBRIEF_OKX_URL"] = "http://127.0.0.1:9"
        env["LIQBRIEF_LAKE"] = str(tmp_path / "lake2")
        failed = liqbrief(env, "extract", "--venues", "bybit,okx", "--start", str(today))
        # an archive that does not answer: Binance's REST edge is fetched all the same
        env["LIQBRIEF_BINANCE_ARCHIVE_URL"] = "http://127.0.0.1:9"
        no_archive = liqbrief(env, "extract", "--venues", "binance", "--start", str(yesterday))
        env["LIQBRIEF_LAKE"] = str(tmp_path / "lake3")
        nothing = liqbrief(env, "extract", "--venues", "okx", "--start", str(today))
    assert failed.returncode == 1
    assert "venue series could not be fetched (everything else was stored); first: okx" in (
        failed.stderr
    )
    assert "Traceback" not in failed.stdout + failed.stderr
    assert nothing.returncode == 1 and "(nothing was stored); first: okx" in nothing.stderr
    assert "bybit BTCUSDT: stored " in failed.stdout and "  failed: metrics" in failed.stdout
    assert no_archive.returncode == 1 and "Traceback" not in no_archive.stderr
    assert "binance BTCUSDT: stored " in no_archive.stdout
    lake2 = Lake(str(tmp_path / "lake2"))
    assert lake2.ledger_entry(ds, "BTCUSDT", yesterday).source_url.startswith("rest:binance:")


def test_archive_days_neither_source_stored_are_named_alone(tmp_path: Path) -> None:
    """Four days back, an archive that has published none of them: Binance's REST stores
    every dataset but klines_1m (which it fetches only when named), so klines_1m alone fails."""
    start = datetime.now(UTC).date() - timedelta(days=3)
    with ArchiveMirror() as mirror, VenueStandin("binance") as binance:
        env = cli_env(
            tmp_path, LIQBRIEF_BINANCE_ARCHIVE_URL=mirror.base_url,
            LIQBRIEF_BINANCE_FAPI_URL=binance.base_url, LIQBRIEF_HTTP_ATTEMPTS="1",
        )  # fmt: skip
        with_1m = liqbrief(env, "extract", "--venues", "binance", "--start", str(start))
    assert with_1m.returncode == 1 and "Traceback" not in with_1m.stderr
    error = next(line for line in with_1m.stderr.splitlines() if "were not stored" in line)
    assert "BTCUSDT klines_1m" in error, error
    assert not any(f"BTCUSDT {name} " in error for name in REST_FILLED.split(",")), error
