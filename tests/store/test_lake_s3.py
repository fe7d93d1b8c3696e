"""The lake and the artefact store on an S3 API (moto on loopback): objects written whole
and directly (no temporaries, no directory markers), the ledger record last and vouching
for the data object's size and SHA-256, no listing to read a day."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest

from liqbrief.testing.s3_server import S3Server
from store.artefacts import ArtefactStore
from store.datasets import DATASETS
from store.errors import CorruptPartitionError
from store.lake import Lake
from store.s3_requests import keys_between
from store.units import write_unit
from tests.conftest import PROJECT_ROOT
from tests.store.test_lake import FUNDING, entry, funding_table
from tests.store.test_units import DAY as UNIT_DAY
from tests.store.test_units import NAMES, read_values, tables

pytestmark = pytest.mark.server
DAY = date(2024, 1, 1)
DATASETS_BINS = DATASETS["liqmap_bins"]


def test_a_day_is_two_objects_written_directly_and_read_back_alike(s3: S3Server) -> None:
    lake = Lake(f"s3://{s3.bucket}/lake")
    lake.write_day(FUNDING, DAY, funding_table(DAY, [0.5], [0]), entry(DAY, 1))
    before = s3.request_count()
    lake.write_day(FUNDING, DAY, funding_table(DAY, [0.3, 0.1], [8, 0]), entry(DAY, 2))
    writes = [(m, p.split("/")[-1]) for m, p, _ in s3.requests()[before:]]
    # one request per object: no HEAD before the delete, no "directory" marker after it
    assert writes == [("DELETE", "2024-01-01.json"), ("PUT", "data.parquet"),
                      ("PUT", "2024-01-01.json")]  # the old record first, the new one last  # fmt: skip
    assert s3.object_keys() == [
        "lake/_ledger/binance/funding_rate/symbol=BTCUSDT/2024-01-01.json",
        "lake/binance/funding_rate/symbol=BTCUSDT/date=2024-01-01/data.parquet",
    ]  # no temporary (nothing for a sweep to find), no marker
    record = lake.ledger_entry(FUNDING, "BTCUSDT", DAY)
    data_key = "lake/binance/funding_rate/symbol=BTCUSDT/date=2024-01-01/data.parquet"
    head = s3.client().head_object(Bucket=s3.bucket, Key=data_key)
    assert record.data_bytes == head["ContentLength"] and len(record.data_sha256) == 64
    read_from = s3.request_count()
    assert list(lake.read(FUNDING, "BTCUSDT", DAY, DAY)["last_funding_rate"]) == [0.1, 0.3]
    reads = [(m, p.split("/")[-1], status) for m, p, status in s3.requests()[read_from:]]
    assert reads == [("GET", "2024-01-01.json", 200), ("GET", "data.parquet", 200)]  # no HEADs
    read_from = s3.request_count()
    assert lake.ingested_days(FUNDING, "BTCUSDT", [DAY, DAY + timedelta(days=1)]) == {DAY}
    assert all("list-type" not in path or "max-keys=1" in path
               for _, path, _ in s3.requests()[read_from:])  # fmt: skip
    assert sorted(s for m, _, s in s3.requests()[read_from:] if m == "GET") == [200, 404]


def test_a_data_object_its_record_does_not_vouch_for_is_not_trusted(s3: S3Server) -> None:
    lake = Lake(f"s3://{s3.bucket}/lake")
    lake.write_day(FUNDING, DAY, funding_table(DAY, [0.1], [0]), entry(DAY, 1))
    key = "lake/binance/funding_rate/symbol=BTCUSDT/date=2024-01-01/data.parquet"
    other = Lake(f"s3://{s3.bucket}/other")
    other.write_day(FUNDING, DAY, funding_table(DAY, [0.2, 0.3], [0, 8]), entry(DAY, 2))
    foreign = s3.client().get_object(Bucket=s3.bucket, Key=f"other/{key[5:]}")["Body"].read()
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=foreign)  # another size
    assert lake.ingested_days(FUNDING, "BTCUSDT", [DAY]) == set()  # extract fetches it again
    with pytest.raises(CorruptPartitionError, match="does not match the SHA-256"):
        lake.read(FUNDING, "BTCUSDT", DAY, DAY)


def test_the_artefact_store_writes_objects_and_locks_locally(s3: S3Server) -> None:
    store = ArtefactStore(f"s3://{s3.bucket}/reports")
    before = s3.request_count()
    assert not store.exists("2024-01-01", "a.pdf")
    assert [(m, status) for m, _, status in s3.requests()[before:]] == [("HEAD", 404)]  # no listing
    assert (
        store.write_bytes(b"%PDF", "2024-01-01", "a.pdf")
        == f"s3://{s3.bucket}/reports/2024-01-01/a.pdf"
    )
    assert store.read_bytes("2024-01-01", "a.pdf") == b"%PDF" and store.exists(
        "2024-01-01", "a.pdf"
    )
    assert store.uri("2024-01-01", "a.pdf").startswith("s3://")
    assert store.lock_path("2024-01-01", "sent.json").parent.is_dir()  # a local file
    store.delete("2024-01-01", "a.pdf")
    store.delete("2024-01-01", "a.pdf")  # absent is fine
    assert [k for k in s3.object_keys() if not k.endswith("/")] == []
    with pytest.raises(FileNotFoundError):
        store.read_bytes("2024-01-01", "a.pdf")


WRITER = """
import sys
from datetime import date, timedelta
from store.datasets import DATASETS
from store.lake import Lake
from store.s3_requests import keys_between
from store.units import write_unit
from tests.store.test_lake import FUNDING, entry, funding_table
from tests.store.test_units import DAY as UNIT_DAY
from tests.store.test_units import NAMES, read_values, tables
lake, version = Lake(sys.argv[1]), 0
while True:
    version += 1
    rows = 1 + version % 7  # every version its own size and values
    for offset in range(3):
        day = date(2024, 1, 1) + timedelta(days=offset)
        table = funding_table(day, [float(version)] * rows, list(range(rows)))
        lake.write_day(FUNDING, day, table, entry(day, rows))
    print(version, flush=True)
"""


def whole_versions(frame) -> bool:
    """Each day's rows come from one write: one rate repeated 1 + rate % 7 times."""
    for _, rows in frame.groupby(frame["calc_time"].dt.date):
        rates = set(rows["last_funding_rate"])
        if len(rates) != 1 or len(rows) != 1 + int(rates.pop()) % 7:
            return False
    return True


def test_a_writer_killed_mid_write_never_shows_a_partial_day(s3: S3Server) -> None:
    root = f"s3://{s3.bucket}/lake"
    lake, end = Lake(root), DAY + timedelta(days=2)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, root], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "1"  # one whole round is in
        reads, deadline = 0, time.monotonic() + 20
        while time.monotonic() < deadline and reads < 40:
            frame = lake.read(FUNDING, "BTCUSDT", DAY, end)
            assert whole_versions(frame), frame
            reads += 1
        writer.send_signal(signal.SIGKILL)  # wherever it is: between objects, mid-upload
        writer.wait(timeout=10)
    finally:
        writer.kill()
    frame = lake.read(FUNDING, "BTCUSDT", DAY, end)
    assert whole_versions(frame) and len(frame) > 0 and reads >= 5
    ingested = lake.ingested_days(FUNDING, "BTCUSDT", [DAY, DAY + timedelta(days=1), end])
    assert set(frame["calc_time"].dt.date) == ingested  # what is read is what the ledger vouches


def test_a_range_with_absent_days_costs_one_listing_not_a_get_per_absent_day(
    s3: S3Server,
) -> None:
    lake = Lake(f"s3://{s3.bucket}/lake")
    days = [DAY + timedelta(days=i) for i in range(10)]
    stored = [days[2], days[3], days[7]]
    for day in [DAY - timedelta(days=1), *stored, days[-1] + timedelta(days=1)]:
        lake.write_day(FUNDING, day, funding_table(day, [0.1], [0]), entry(day, 1))
    before = s3.request_count()
    frame = lake.read(FUNDING, "BTCUSDT", days[0], days[-1])
    assert sorted(set(frame["calc_time"].dt.date)) == stored  # not the days either side
    asked = s3.requests()[before:]
    listings = [path for m, path, _ in asked if "list-type" in path]
    assert len(listings) == 1 and "start-after" in listings[0]
    gets = sorted((p.split("/")[-1], status) for m, p, status in asked if "list-type" not in p)
    assert gets == sorted([(f"{d}.json", 200) for d in stored] + [("data.parquet", 200)] * 3)


@pytest.mark.parametrize("page_size", [1, 2, 1000])
def test_a_listing_of_a_range_starts_at_its_first_name_and_stops_past_its_last(
    s3: S3Server, page_size: int
) -> None:
    lake = Lake(f"s3://{s3.bucket}/lake")
    for name in ["2024-01-01.json", "2024-01-02.json", "2024-01-04.json", "2024-01-09.json"]:
        lake.write_bytes(f"{lake.root}/dir/{name}", b"{}")
    lake.write_bytes(f"{lake.root}/dir2/2024-01-03.json", b"{}")  # beside the prefix
    found = keys_between(
        lake.fs, f"{lake.root}/dir", "2024-01-02.json", "2024-01-05.json", page_size
    )
    assert found == ["2024-01-02.json", "2024-01-04.json"]


def test_a_unit_is_replaced_manifest_first_and_last_without_deleting_its_records(
    s3: S3Server,
) -> None:
    lake = Lake(f"s3://{s3.bucket}/lake")
    write_unit(lake, "liqmap", UNIT_DAY, *tables(1.0))
    before = s3.request_count()
    write_unit(lake, "liqmap", UNIT_DAY, *tables(2.0))
    asked = [(m, p.split("/")[-3], p.split("/")[-1]) for m, p, _ in s3.requests()[before:]]
    manifest = ("liqmap", f"{UNIT_DAY}.json")
    assert asked[0] == ("DELETE", *manifest) and asked[-1] == ("PUT", *manifest)
    # the removed manifest already makes readers trust none of the files: no record deleted
    assert sorted(m for m, *_ in asked[1:-1]) == ["PUT"] * 6
    assert read_values(lake) == {name: [2.0] for name in NAMES}
    # the manifest alone vouches for a unit's file on a read: its GET, then the file's
    before = s3.request_count()
    assert not lake.read(DATASETS_BINS, "BTCUSDT", UNIT_DAY, UNIT_DAY).empty
    assert [(m, p.split("/")[-1]) for m, p, _ in s3.requests()[before:]] == [
        ("GET", f"{UNIT_DAY}.json"), ("GET", "data.parquet")
    ]  # fmt: skip
