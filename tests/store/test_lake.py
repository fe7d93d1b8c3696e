from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from liqbrief.symbols import InvalidSymbolError
from store.datasets import DATASETS
from store.errors import CorruptPartitionError
from store.lake import Lake
from store.ledger import LedgerEntry
from tests.conftest import lake_files

FUNDING = DATASETS["funding_rate"]


def funding_table(day: date, rates: list[float], hours: list[int]) -> pa.Table:
    times = [datetime(day.year, day.month, day.day, h, tzinfo=UTC) for h in hours]
    return pa.Table.from_pydict(
        {
            "calc_time": pa.array(times, type=pa.timestamp("us", tz="UTC")),
            "funding_interval_hours": pa.array([8] * len(rates), type=pa.int64()),
            "last_funding_rate": pa.array(rates, type=pa.float64()),
        },
        schema=FUNDING.schema,
    )


def entry(day: date, rows: int, symbol: str = "BTCUSDT") -> LedgerEntry:
    return LedgerEntry(
        "binance", FUNDING.name, symbol, day.isoformat(), "http://x/f.zip", "ab" * 32, rows, 0, 0,
        "2024-01-02T00:00:00+00:00",
    )  # fmt: skip


def test_write_then_read_returns_typed_rows_sorted_by_time(lake: Lake) -> None:
    day = date(2024, 1, 1)
    lake.write_day(FUNDING, day, funding_table(day, [0.3, 0.1, 0.2], [16, 0, 8]), entry(day, 3))
    frame = lake.read(FUNDING, "BTCUSDT", day, day)
    assert list(frame["last_funding_rate"]) == [0.1, 0.2, 0.3]
    assert str(frame["calc_time"].dtype) == "datetime64[us, UTC]"
    assert frame["last_funding_rate"].dtype == "float64"
    assert not any(str(t) == "object" for t in frame.dtypes)


def test_rewriting_a_day_replaces_it_instead_of_appending(lake: Lake, tmp_path: Path) -> None:
    day = date(2024, 1, 1)
    lake.write_day(FUNDING, day, funding_table(day, [0.1, 0.2], [0, 8]), entry(day, 2))
    lake.write_day(FUNDING, day, funding_table(day, [0.5], [0]), entry(day, 1))
    assert list(lake.read(FUNDING, "BTCUSDT", day, day)["last_funding_rate"]) == [0.5]
    assert lake.ledger_entry(FUNDING, "BTCUSDT", day).rows == 1
    assert lake_files(tmp_path / "lake") == [
        "_ledger/binance/funding_rate/symbol=BTCUSDT/2024-01-01.json",
        "binance/funding_rate/symbol=BTCUSDT/date=2024-01-01/data.parquet",
    ]


def test_read_spans_days_and_skips_absent_ones(lake: Lake) -> None:
    for day in (date(2024, 1, 3), date(2024, 1, 1)):
        lake.write_day(FUNDING, day, funding_table(day, [day.day / 10], [0]), entry(day, 1))
    frame = lake.read(FUNDING, "BTCUSDT", date(2024, 1, 1), date(2024, 1, 5))
    assert list(frame["calc_time"].dt.day) == [1, 3]


def test_empty_range_gives_an_empty_frame_with_the_schema(lake: Lake) -> None:
    frame = lake.read(FUNDING, "BTCUSDT", date(2024, 1, 1), date(2024, 1, 2))
    assert len(frame) == 0
    assert list(frame.columns) == FUNDING.schema.names


def test_a_day_without_its_ledger_record_does_not_count_as_ingested(lake: Lake) -> None:
    """A crash after the data rename but before the ledger write: the day is fetched again."""
    day = date(2024, 1, 1)
    lake.write_day(FUNDING, day, funding_table(day, [0.1], [0]), entry(day, 1))
    lake.fs.delete_file(lake.ledger_path(FUNDING, "BTCUSDT", day))
    assert lake.ingested_days(FUNDING, "BTCUSDT", [day]) == set()


def test_a_failed_write_leaves_neither_a_partial_nor_a_temporary_file(
    lake: Lake, tmp_path: Path
) -> None:
    day = date(2024, 1, 1)
    lake.write_day(FUNDING, day, funding_table(day, [0.1], [0]), entry(day, 1))
    before = lake_files(tmp_path / "lake")
    target = lake.data_path(FUNDING, "BTCUSDT", day)

    def crash_mid_write(path: str) -> None:
        with lake.fs.open_output_stream(path) as out:
            out.write(b"PAR1 half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        lake._atomic_write(target, crash_mid_write)
    assert lake_files(tmp_path / "lake") == before
    assert list(lake.read(FUNDING, "BTCUSDT", day, day)["last_funding_rate"]) == [0.1]


def test_a_table_with_another_schema_is_refused(lake: Lake) -> None:
    day = date(2024, 1, 1)
    wrong = pa.table({"calc_time": [1], "last_funding_rate": [0.1]})
    with pytest.raises(ValueError, match="schema"):
        lake.write_day(FUNDING, day, wrong, entry(day, 1))


@pytest.mark.parametrize("symbol", ["../x", "BTC/USDT", "btcusdt", "", "A" * 40, "BTC USDT"])
def test_path_like_or_malformed_symbols_never_reach_the_filesystem(lake: Lake, symbol: str) -> None:
    with pytest.raises(InvalidSymbolError, match="invalid symbol"):
        lake.data_path(FUNDING, symbol, date(2024, 1, 1))


def test_a_rewrite_removes_temporaries_a_killed_writer_left_and_keeps_live_ones(
    lake: Lake, tmp_path: Path
) -> None:
    day = date(2024, 1, 1)
    lake.write_day(FUNDING, day, funding_table(day, [0.1], [0]), entry(day, 1))
    folder = Path(lake.data_path(FUNDING, "BTCUSDT", day)).parent
    stale, live = folder / ".data.parquet.dead.tmp", folder / ".data.parquet.busy.tmp"
    for leftover in (stale, live):
        leftover.write_bytes(b"PAR1 half a file")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    lake.write_day(FUNDING, day, funding_table(day, [0.2], [0]), entry(day, 1))
    assert not stale.exists() and live.exists()  # a writer may still own a fresh one
    assert list(lake.read(FUNDING, "BTCUSDT", day, day)["last_funding_rate"]) == [0.2]


@pytest.mark.parametrize(
    ("columns", "phrase"),
    [
        (  # a column stored as text: used to be cast silently
            {"calc_time": pa.array([datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("us", "UTC")),
             "funding_interval_hours": pa.array([8], pa.int64()),
             "last_funding_rate": pa.array(["0.1"])},
            "last_funding_rate is string, expected double",
        ),
        (  # a column missing: used to be filled with nulls
            {"calc_time": pa.array([datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("us", "UTC")),
             "last_funding_rate": pa.array([0.1])},
            "missing columns ['funding_interval_hours']",
        ),
    ],
)  # fmt: skip
def test_a_partition_in_another_schema_is_an_error_naming_the_file(
    lake: Lake, columns: dict, phrase: str
) -> None:
    import pyarrow.parquet as pq

    day = date(2024, 1, 1)
    lake.write_day(FUNDING, day, funding_table(day, [0.1], [0]), entry(day, 1))
    lake.write_day(
        FUNDING,
        date(2024, 1, 2),
        funding_table(date(2024, 1, 2), [0.2], [0]),
        entry(date(2024, 1, 2), 1),
    )
    target = lake.data_path(FUNDING, "BTCUSDT", day)
    pq.write_table(pa.table(columns), target)
    with pytest.raises(CorruptPartitionError) as error:
        lake.read(FUNDING, "BTCUSDT", day, date(2024, 1, 2))
    message = str(error.value)
    assert target in message and phrase in message
    assert (
        "liqbrief extract --symbols BTCUSDT --datasets funding_rate --start 2024-01-01" in message
    )
    assert "--force" in message and "liqbrief lake verify" in message


def test_a_truncated_partition_is_an_error_naming_the_file(lake: Lake) -> None:
    day = date(2024, 1, 1)
    lake.write_day(FUNDING, day, funding_table(day, [0.1], [0]), entry(day, 1))
    target = Path(lake.data_path(FUNDING, "BTCUSDT", day))
    target.write_bytes(target.read_bytes()[:60])
    with pytest.raises(CorruptPartitionError, match="not a readable Parquet file") as error:
        lake.read(FUNDING, "BTCUSDT", day, day)
    assert str(target) in str(error.value)


def test_a_day_with_an_unreadable_record_is_not_stored_for_an_extract(lake: Lake) -> None:
    """So the extract fetches it again (and writes a good record); a read still uses it."""
    days = [date(2024, 1, 1), date(2024, 1, 2)]
    for day in days:
        lake.write_day(FUNDING, day, funding_table(day, [0.1], [0]), entry(day, 1))
    Path(lake.ledger_path(FUNDING, "BTCUSDT", days[0])).write_text('{"trunc')
    assert lake.ingested_days(FUNDING, "BTCUSDT", days) == {days[1]}
    assert len(lake.read(FUNDING, "BTCUSDT", days[0], days[0])) == 1


def test_the_ledger_records_the_data_files_hash_and_old_records_still_read(lake: Lake) -> None:
    import hashlib
    import json

    day = date(2024, 1, 1)
    lake.write_day(FUNDING, day, funding_table(day, [0.1], [0]), entry(day, 1))
    recorded = lake.ledger_entry(FUNDING, "BTCUSDT", day)
    data = Path(lake.data_path(FUNDING, "BTCUSDT", day)).read_bytes()
    assert recorded.data_sha256 == hashlib.sha256(data).hexdigest()
    assert recorded.source_sha256 == "ab" * 32  # the source zip's hash is kept beside it
    old_map_record = {
        "venue": "binance", "dataset": "liqmap_summary", "symbol": "BTCUSDT",
        "date": "2024-01-01", "source_url": "liqbrief:liqmap-engine", "source_sha256": "cd" * 32,
        "rows": 3, "duplicates_dropped": 0, "missing_rows": 0, "ingested_at": "2024-01-02T00:00:00+00:00",
    }  # fmt: skip
    old = LedgerEntry.from_json(json.dumps(old_map_record).encode())
    assert old.config_fingerprint == "cd" * 32 and old.source_sha256 == ""
    assert old.data_sha256 is None


def test_a_rewrite_that_dies_before_its_record_leaves_the_day_to_fetch_again(
    lake: Lake, monkeypatch
) -> None:
    """The old ledger record must not vouch for the new data file (rows, hash)."""
    day = date(2024, 1, 1)
    lake.write_day(FUNDING, day, funding_table(day, [0.1], [0]), entry(day, 1))
    real_write = lake.write_bytes

    def die_on_the_ledger(path: str, raw: bytes) -> None:
        if path.endswith(".json"):
            raise OSError("killed before the ledger record")
        real_write(path, raw)

    monkeypatch.setattr(lake, "write_bytes", die_on_the_ledger)
    with pytest.raises(OSError, match="killed"):
        lake.write_day(FUNDING, day, funding_table(day, [0.1, 0.2], [0, 8]), entry(day, 2))
    assert lake.ingested_days(FUNDING, "BTCUSDT", [day]) == set()
