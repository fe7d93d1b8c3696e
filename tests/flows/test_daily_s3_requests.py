"""The daily job on an s3:// lake: the S3 requests it makes depend on the days it touches,
not on how much history the lake holds (no listing of a dataset per read), and the Prefect
link artifact points at the PDF object."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

import pandas as pd
import pytest

from flows.daily import EXTRACT_DATASETS, daily_briefing
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.s3_server import S3Server
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from sources.retry_policy import RetryPolicy
from store.lake import Lake

pytestmark = [pytest.mark.flow, pytest.mark.server]
# both histories reach further back than the longest window the daily job reads (90 days of
# open interest): any difference in requests would come from the history's length itself.
# The longer one adds a week and a month (October): a read per day or per month of history
# would show (a month of extra days proved no more and took longer to build and fill)
HISTORY_STARTS = (date(2023, 11, 4), date(2023, 10, 28))
LAST_ARCHIVED = date(2024, 2, 8)


@pytest.fixture
def archive(prefect_harness, monkeypatch):
    mirror = ArchiveMirror(
        build_archive(
            ["BTCUSDT"], EXTRACT_DATASETS, min(HISTORY_STARTS), LAST_ARCHIVED, monthly=False
        )
    ).start()
    fred = FredServer({"DGS2": pd.DataFrame({"date": ["2024-02-01"], "value": [4.3]})}).__enter__()
    monkeypatch.setenv("LIQBRIEF_BINANCE_ARCHIVE_URL", mirror.base_url)
    monkeypatch.setenv("LIQBRIEF_FRED_CSV_URL", fred.base_url)
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    monkeypatch.delenv("LIQBRIEF_SMTP_HOST", raising=False)
    yield mirror
    fred.__exit__(None, None, None)
    mirror.stop()


def use_bucket(bucket: str, monkeypatch) -> str:
    monkeypatch.setenv("LIQBRIEF_LAKE", f"s3://{bucket}/lake")
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", f"s3://{bucket}/out")
    return f"s3://{bucket}/lake"


def fill(root: str, mirror: ArchiveMirror, start: date, end: date) -> None:
    ingest(Lake(root), mirror.base_url, ["BTCUSDT"], EXTRACT_DATASETS, start, end,
           retry=RetryPolicy(attempts=1), today=date(2025, 1, 1))  # fmt: skip


def copy_bucket(s3: S3Server, source: str, target: str) -> None:
    s3.create_bucket(target)
    client = s3.client()
    for key in s3.object_keys(source):
        client.copy_object(Bucket=target, Key=key, CopySource={"Bucket": source, "Key": key})


def counted_daily(s3: S3Server, bucket: str, monkeypatch) -> list[tuple[str, str, int]]:
    """The S3 requests of the daily run of 2024-02-09 on ``bucket``."""
    use_bucket(bucket, monkeypatch)
    before = s3.request_count()
    result = daily_briefing(date(2024, 2, 9), ["BTCUSDT"])
    requests = s3.requests()[before:]
    assert result["mapped"] == {"BTCUSDT": date(2024, 2, 9)}
    assert result["briefings"][1] == f"s3://{bucket}/out/2024-02-09/liqbrief-2024-02-09.pdf"
    return requests


def link_artifact() -> str:
    """The newest link artifact (asked by key and date: the harness's database is shared)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async def read():
        links = ArtifactFilter(key=ArtifactFilterKey(any_=["daily-briefing-pdf"]))
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=links, sort=ArtifactSort.CREATED_DESC, limit=1
            )

    return asyncio.run(read())[0].data


def test_a_daily_run_costs_the_same_requests_whatever_the_history(
    archive: ArchiveMirror, s3: S3Server, monkeypatch
) -> None:
    short, long = s3.bucket, f"{s3.bucket}-long"
    # the short history, and a first daily run (its records are folded over the history)
    fill(use_bucket(short, monkeypatch), archive, HISTORY_STARTS[0], date(2024, 2, 6))
    assert daily_briefing(date(2024, 2, 8), ["BTCUSDT"])["mapped"] == {"BTCUSDT": date(2024, 2, 8)}
    # the same lake with a month more of history before it
    copy_bucket(s3, short, long)
    fill(f"s3://{long}/lake", archive, HISTORY_STARTS[1], HISTORY_STARTS[0])
    counts = []
    for bucket in (short, long):
        requests = counted_daily(s3, bucket, monkeypatch)
        counts.append(Counter(method for method, _, _ in requests))
        listings = [path for _, path, _ in requests if "list-type" in path]
        assert all("max-keys=1" in p for p in listings if "prefix=lake/_ledger" not in p), listings
    print(f"\nS3 requests of one daily run: {dict(counts[0])} (history from {HISTORY_STARTS[0]}), "
          f"{dict(counts[1])} (from {HISTORY_STARTS[1]})")  # fmt: skip
    assert counts[0] == counts[1] and sum(counts[0].values()) > 100
    assert link_artifact().startswith("[liqbrief-2024-02-09.pdf](s3://")
