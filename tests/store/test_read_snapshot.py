"""A run's read snapshot of an object-store lake: each day read and verified once, the run's
own writes read anew, nothing kept past the run, a byte budget, and no effect on a local lake."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from liqbrief.testing.s3_server import S3Server
from store.lake import Lake
from store.read_cache import ReadSnapshot, active_snapshot, snapshot_reads
from tests.store.test_lake import FUNDING, entry, funding_table

pytestmark = pytest.mark.server
DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(3)]


def rates(lake: Lake) -> list[float]:
    return list(lake.read(FUNDING, "BTCUSDT", DAYS[0], DAYS[-1])["last_funding_rate"])


def test_a_run_reads_each_day_once_and_its_own_writes_anew(s3: S3Server) -> None:
    uri = f"s3://{s3.bucket}/lake"
    lake = Lake(uri)
    for i, day in enumerate(DAYS):
        lake.write_day(FUNDING, day, funding_table(day, [0.1 * (i + 1)], [0]), entry(day, 1))
    with snapshot_reads(uri) as snapshot:
        assert snapshot is not None and active_snapshot(lake.root) is snapshot
        first = s3.request_count()
        assert lake.ingested_days(FUNDING, "BTCUSDT", DAYS) == set(DAYS)  # vouched by reading
        asked = s3.request_count() - first
        assert asked == 2 * len(DAYS)  # the ledger record and the data object: one GET each
        again = s3.request_count()
        assert rates(Lake(uri)) == pytest.approx([0.1, 0.2, 0.3])  # another Lake, same run
        assert Lake(uri).ingested_days(FUNDING, "BTCUSDT", DAYS) == set(DAYS)
        assert s3.request_count() == again  # not one request more
        lake.write_day(FUNDING, DAYS[1], funding_table(DAYS[1], [0.7], [0]), entry(DAYS[1], 1))
        assert rates(lake) == pytest.approx([0.1, 0.7, 0.3])  # the run sees its own write
        lake.delete_day(FUNDING, "BTCUSDT", DAYS[2])
        assert rates(lake) == pytest.approx([0.1, 0.7])  # and its own delete
    assert active_snapshot(lake.root) is None  # nothing past the run
    outside = s3.request_count()
    assert rates(lake) == pytest.approx([0.1, 0.7])
    assert s3.request_count() > outside  # read from the store again


def test_an_absent_day_is_asked_once_per_run_and_the_runs_own_write_is_seen(
    s3: S3Server,
) -> None:
    uri = f"s3://{s3.bucket}/lake"
    lake = Lake(uri)
    lake.write_day(FUNDING, DAYS[0], funding_table(DAYS[0], [0.1], [0]), entry(DAYS[0], 1))
    with snapshot_reads(uri):
        assert rates(lake) == pytest.approx([0.1])
        before = s3.request_count()
        assert rates(lake) == pytest.approx([0.1])
        assert lake.ingested_days(FUNDING, "BTCUSDT", DAYS) == {DAYS[0]}
        assert s3.request_count() == before  # the absent days were not asked again
        lake.write_day(FUNDING, DAYS[2], funding_table(DAYS[2], [0.3], [0]), entry(DAYS[2], 1))
        assert rates(lake) == pytest.approx([0.1, 0.3])


def test_a_corrupt_day_is_refused_within_a_run_as_outside_one(s3: S3Server) -> None:
    from store.errors import CorruptPartitionError

    uri = f"s3://{s3.bucket}/lake"
    lake = Lake(uri)
    lake.write_day(FUNDING, DAYS[0], funding_table(DAYS[0], [0.1], [0]), entry(DAYS[0], 1))
    key = "lake/binance/funding_rate/symbol=BTCUSDT/date=2024-01-01/data.parquet"
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=b"not parquet")
    with snapshot_reads(uri), pytest.raises(CorruptPartitionError, match="SHA-256"):
        lake.read(FUNDING, "BTCUSDT", DAYS[0], DAYS[0])


def test_the_budget_keeps_the_most_recently_used_days() -> None:
    small = funding_table(DAYS[0], [0.1], [0])
    snapshot = ReadSnapshot(budget_bytes=2 * small.nbytes)
    for name in ("a", "b", "c"):
        snapshot.put(name, None, small)
    assert snapshot.get("a") is None and snapshot.get("c") is not None
    assert snapshot.held_bytes == 2 * small.nbytes
    snapshot.put("huge", None, funding_table(DAYS[0], [0.1] * 10_000, [0] * 10_000))
    assert snapshot.get("huge") is None  # larger than the budget: never held


def test_a_local_lake_opens_no_snapshot(tmp_path: Path) -> None:
    with snapshot_reads(str(tmp_path / "lake")) as snapshot:
        assert snapshot is None
        assert active_snapshot(Lake(str(tmp_path / "lake")).root) is None
