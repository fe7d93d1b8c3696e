"""Shared fixtures: a temporary lake, a loopback archive mirror, the Prefect harness."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from liqbrief.testing.archive_mirror import ArchiveMirror
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


def lake_files(root: Path) -> list[str]:
    """Every file under the lake root, relative, sorted — to assert nothing partial is visible."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
