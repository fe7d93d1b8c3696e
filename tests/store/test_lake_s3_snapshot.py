"""A run's snapshot on an S3 lake (moto on loopback): a whole listing of a dataset is made
once a run and handed to the processes that render its days, which then ask nothing for days
it shows absent; a range the run will write or read is listed once, so a fresh day's write
deletes no record and an unmapped day costs no GET."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from liqbrief.testing.s3_server import S3Server
from store.datasets import DATASETS
from store.lake import Lake
from store.read_cache import snapshot_reads
from store.units import write_unit
from tests.store.test_lake import FUNDING, entry, funding_table
from tests.store.test_units import DAY as UNIT_DAY
from tests.store.test_units import tables

pytestmark = pytest.mark.server
DAY = date(2024, 1, 1)
BINS = DATASETS["liqmap_bins"]


def later(days: int) -> date:
    return DAY + timedelta(days=days)


def write(lake: Lake, day: date, rate: float = 0.1) -> None:
    lake.write_day(FUNDING, day, funding_table(day, [rate], [0]), entry(day, 1))


def asked_since(s3: S3Server, before: int) -> list[tuple[str, str]]:
    """(method, the key's last part, or "LIST") of each request after ``before``."""
    return [
        (m, "LIST" if "list-type" in p else p.split("?")[0].split("/")[-1])
        for m, p, _ in s3.requests()[before:]
    ]


def test_a_whole_listing_is_made_once_a_run_and_handed_to_its_renders(s3: S3Server) -> None:
    uri = f"s3://{s3.bucket}/lake"
    lake = Lake(uri)
    for day in (DAY, later(2)):
        write(lake, day)
    with snapshot_reads(uri) as run:
        before = s3.request_count()
        assert lake.stored_days(FUNDING, "BTCUSDT") == [DAY, later(2)]
        assert lake.stored_days(FUNDING, "BTCUSDT") == [DAY, later(2)]  # kept: not listed again
        assert lake.read(FUNDING, "BTCUSDT", later(1), later(1)).empty  # absent by the listing
        assert asked_since(s3, before) == [("GET", "LIST")]
        handed = run.listings()
    with snapshot_reads(uri) as render:  # another process of the same run
        render.adopt(handed)
        before = s3.request_count()
        assert lake.stored_days(FUNDING, "BTCUSDT") == [DAY, later(2)]
        assert lake.read(FUNDING, "BTCUSDT", later(1), later(1)).empty
        assert asked_since(s3, before) == []  # neither listed nor asked for
        assert len(lake.read(FUNDING, "BTCUSDT", DAY, DAY)) == 1
        assert asked_since(s3, before) == [("GET", f"{DAY}.json"), ("GET", "data.parquet")]
        write(lake, later(1))  # its own write: the listing is made anew and shows the day
        assert lake.stored_days(FUNDING, "BTCUSDT") == [DAY, later(1), later(2)]
    before = s3.request_count()
    assert lake.stored_days(FUNDING, "BTCUSDT") == [DAY, later(1), later(2)]  # no run: listed
    assert asked_since(s3, before) == [("GET", "LIST")]


def test_a_day_the_run_listed_as_absent_is_written_without_deleting_a_record(
    s3: S3Server,
) -> None:
    uri = f"s3://{s3.bucket}/lake"
    lake = Lake(uri)
    write(lake, later(1))
    with snapshot_reads(uri):
        before = s3.request_count()
        lake.note_absent_days(FUNDING, "BTCUSDT", [later(i) for i in range(5)])
        write(lake, DAY, 0.2)  # fresh: nothing to delete
        write(lake, later(1), 0.2)  # stored before the run: its record goes first
        write(lake, DAY, 0.3)  # written by the run since: its record goes first too
        record = (f"{DAY}.json", f"{later(1)}.json")
        assert asked_since(s3, before) == [
            ("GET", "LIST"),
            ("PUT", "data.parquet"), ("PUT", record[0]),
            ("DELETE", record[1]), ("PUT", "data.parquet"), ("PUT", record[1]),
            ("DELETE", record[0]), ("PUT", "data.parquet"), ("PUT", record[0]),
        ]  # fmt: skip
    frame = lake.read(FUNDING, "BTCUSDT", DAY, later(1))
    assert list(frame["last_funding_rate"]) == [0.3, 0.2]


def test_a_unit_range_is_listed_once_and_a_fresh_date_keeps_no_manifest_to_delete(
    s3: S3Server,
) -> None:
    uri = f"s3://{s3.bucket}/lake"
    lake = Lake(uri)
    dates = [UNIT_DAY + timedelta(days=i) for i in range(-3, 3)]
    with snapshot_reads(uri):
        before = s3.request_count()
        lake.note_absent_days(BINS, "BTCUSDT", dates)
        write_unit(lake, "liqmap", UNIT_DAY, *tables(1.0))
        asked = asked_since(s3, before)
        assert asked[0] == ("GET", "LIST") and ("DELETE", f"{UNIT_DAY}.json") not in asked
        assert [m for m, _ in asked[1:]] == ["PUT"] * 7 and asked[-1][1] == f"{UNIT_DAY}.json"
    before = s3.request_count()
    bins = lake.read(BINS, "BTCUSDT", dates[0], dates[-1])  # six dates, one mapped
    assert len(bins) == 1
    assert asked_since(s3, before) == [
        ("GET", "LIST"), ("GET", f"{UNIT_DAY}.json"), ("GET", "data.parquet")
    ]  # fmt: skip


def test_a_run_reads_its_own_write_without_fetching_it_and_as_a_reader_would(
    s3: S3Server,
) -> None:
    uri = f"s3://{s3.bucket}/lake"
    lake = Lake(uri)
    with snapshot_reads(uri):
        lake.write_day(FUNDING, DAY, funding_table(DAY, [0.3, 0.1], [8, 0]), entry(DAY, 2))
        before = s3.request_count()
        held = lake.read(FUNDING, "BTCUSDT", DAY, DAY)
        assert asked_since(s3, before) == []
    fetched = lake.read(FUNDING, "BTCUSDT", DAY, DAY)  # no run: from the store
    assert list(held["last_funding_rate"]) == [0.1, 0.3]
    pd.testing.assert_frame_equal(held, fetched)
