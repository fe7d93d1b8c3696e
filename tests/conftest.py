"""Shared fixtures: a temporary lake, a loopback archive mirror, the Prefect harness."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.demo_lake import build_demo_lake
from liqbrief.testing.s3_server import S3Server
from sources.retry_policy import RetryPolicy
from store.lake import Lake

os.environ.setdefault("DO_NOT_TRACK", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LIQBRIEF_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))

FAST_RETRY = RetryPolicy(attempts=3, initial_wait_s=0.01, max_wait_s=0.05)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture
def mirror() -> Iterator[ArchiveMirror]:
    with ArchiveMirror() as server:
        yield server


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session; request it only in flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3 API (moto_server) on loopback for the whole session, killed at the end."""
    with S3Server() as server:
        yield server


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch) -> S3Server:
    """The session's S3 server with the AWS settings pointing at it, and a fresh bucket
    for this test (``s3.bucket``)."""
    import uuid

    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    s3_server.bucket = f"t-{uuid.uuid4().hex[:16]}"
    s3_server.create_bucket(s3_server.bucket)
    return s3_server


def lake_files(root: Path) -> list[str]:
    """Every file under the lake root, relative, sorted — to assert nothing partial is visible."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _prefect_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""), "HOME": str(home.parent), "DO_NOT_TRACK": "1",
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",  # a loaded 2-core machine
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }  # fmt: skip


@functools.cache
def prefect_home_template() -> Path:
    """A Prefect home that has run one flow (its database created and migrated, block types
    registered), made once per session: each `liqbrief` subprocess starts from a copy, so
    its temporary Prefect server starts in about half the time of a fresh home's (measured
    12 s → 6 s on the loaded 2-core machine), with the same empty history."""
    root = Path(tempfile.mkdtemp(prefix="liqbrief-prefect-home-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    home = root / "prefect"
    subprocess.run(
        [sys.executable, "-c", "from prefect import flow; flow(name='warm-up')(lambda: None)()"],
        env=_prefect_env(home), cwd=root, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return home


def cli_env(root: Path, **overrides: str) -> dict[str, str]:
    """The environment of a `liqbrief` subprocess in a scratch directory: its own lake,
    reports and Prefect home (a copy of the session's warmed-up one), every network source
    on a closed loopback port."""
    home = root / "prefect"
    if not home.exists():
        shutil.copytree(prefect_home_template(), home)
    return _prefect_env(home) | {
        "HOME": str(root), "PYTHONPATH": str(PROJECT_ROOT),
        "LIQBRIEF_LAKE": str(root / "lake"), "LIQBRIEF_REPORTS_DIR": str(root / "reports"),
        "LIQBRIEF_BINANCE_ARCHIVE_URL": "http://127.0.0.1:9", "LIQBRIEF_FRED_URL": "http://127.0.0.1:9",
        "LIQBRIEF_FRED_CSV_URL": "http://127.0.0.1:9", "LIQBRIEF_COINGLASS_URL": "http://127.0.0.1:9",
    } | overrides  # fmt: skip


@functools.cache
def _built_demo_lake(day: date, symbols: tuple[str, ...], history_days: int, map_days: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="liqbrief-demo-lake-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    build_demo_lake(root / "lake", day, list(symbols), history_days, map_days)
    return root / "lake"


def demo_lake(
    root: str | Path, day: date, symbols: list[str], history_days: int = 40, map_days: int = 1
) -> Lake:
    """build_demo_lake()'s lake at ``root``: built once per session for the same arguments
    (through the real ingest, engine and context code, ~10 s each) and copied, so each
    caller owns its copy and may change it."""
    shutil.copytree(
        _built_demo_lake(day, tuple(symbols), history_days, map_days), root, dirs_exist_ok=True
    )
    return Lake(str(root))
