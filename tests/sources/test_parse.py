from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest

from liqbrief.testing.synthetic_archive import funding_csv, kline_csv, metrics_csv
from sources.binance_archive.parse import KLINE_COLUMNS, parse_archive_csv, sort_and_deduplicate
from sources.errors import CorruptArchiveError, UnexpectedColumnsError
from tests.conftest import SHARED_DATA

DAY = date(2024, 1, 1)
REAL_KLINES = SHARED_DATA / "btcusdt"


def test_klines_with_and_without_header_parse_to_the_same_table() -> None:
    with_header = parse_archive_csv("klines", "klines_5m", kline_csv("BTCUSDT", DAY, "5m"), "t")
    without = parse_archive_csv(
        "klines", "klines_5m", kline_csv("BTCUSDT", DAY, "5m", header=False), "t"
    )
    assert with_header.num_rows == 288
    assert with_header.equals(without)


def test_microsecond_and_millisecond_epochs_give_the_same_times() -> None:
    ms = parse_archive_csv("klines", "klines_1m", kline_csv("BTCUSDT", DAY, "1m"), "t")
    us = parse_archive_csv(
        "klines", "klines_1m", kline_csv("BTCUSDT", DAY, "1m", microseconds=True), "t"
    )
    assert ms.drop_columns("close_time").equals(us.drop_columns("close_time"))
    assert ms.column("open_time")[0].as_py().isoformat() == "2024-01-01T00:00:00+00:00"
    assert ms.column("close_time")[0].as_py().isoformat() == "2024-01-01T00:00:59.999000+00:00"
    assert us.column("close_time")[0].as_py().isoformat() == "2024-01-01T00:00:59.999999+00:00"


def test_values_equal_the_source_csv() -> None:
    raw = kline_csv("BTCUSDT", DAY, "5m")
    table = parse_archive_csv("klines", "klines_5m", raw, "t").to_pandas()
    source = pd.read_csv(io.BytesIO(raw))
    assert (table["close"].to_numpy() == source["close"].to_numpy()).all()
    assert (
        table["taker_buy_quote_volume"].to_numpy() == source["taker_buy_quote_volume"].to_numpy()
    ).all()
    expected_times = pd.to_datetime(source["open_time"], unit="ms", utc=True)
    assert (table["open_time"].to_numpy() == expected_times.to_numpy()).all()


def test_metrics_times_are_utc_and_symbol_is_not_stored() -> None:
    table = parse_archive_csv("metrics", "metrics", metrics_csv("BTCUSDT", DAY), "t")
    assert table.num_rows == 288 and "symbol" not in table.schema.names
    assert table.column("create_time")[-1].as_py().isoformat() == "2024-01-01T23:55:00+00:00"


def test_funding_rates_parse() -> None:
    table = parse_archive_csv("fundingRate", "funding_rate", funding_csv("BTCUSDT", DAY), "t")
    assert table.num_rows == 31 * 3
    assert table.column("funding_interval_hours").to_pylist()[:2] == [8, 8]


def test_duplicated_and_shuffled_rows_are_sorted_and_deduplicated() -> None:
    raw = metrics_csv("BTCUSDT", DAY, duplicate_rows=(5, 5, 100), missing_rows=(7,), shuffle=True)
    table, dropped = sort_and_deduplicate(
        parse_archive_csv("metrics", "metrics", raw, "t"), "create_time"
    )
    assert dropped == 3 and table.num_rows == 287
    times = table.column("create_time").to_pylist()
    assert times == sorted(set(times))


def test_an_unexpected_header_is_a_clear_error() -> None:
    raw = kline_csv("BTCUSDT", DAY, "5m").replace(b"taker_buy_volume", b"taker_buy_base", 1)
    with pytest.raises(UnexpectedColumnsError, match="taker_buy_base"):
        parse_archive_csv("klines", "klines_5m", raw, "BTCUSDT klines_5m 2024-01-01")


def test_a_headerless_file_with_the_wrong_column_count_is_refused() -> None:
    raw = b"1704067200000,1,2,3\n"
    with pytest.raises(UnexpectedColumnsError, match="4 columns"):
        parse_archive_csv("klines", "klines_5m", raw, "t")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"1704067200000,abc,2,3,4,5,1704067499999,6,7,8,9,0\n",
        b"1704067200000,1,2,3,4,5,,6,7,8,9,0\n",
    ],
    ids=["empty", "text-in-price", "missing-field"],
)
def test_damaged_rows_are_a_corrupt_archive_error(raw: bytes) -> None:
    with pytest.raises(CorruptArchiveError):
        parse_archive_csv("klines", "klines_5m", raw, "t")


@pytest.mark.skipif(
    not REAL_KLINES.exists(), reason=f"real archive CSVs not present at {REAL_KLINES}"
)
@pytest.mark.parametrize(
    ("name", "first_open"),
    [
        ("BTCUSDT-5m-2024-12.csv", "2024-12-01T00:00:00+00:00"),
        ("BTCUSDT-5m-2025-01.csv", "2025-01-01T00:00:00+00:00"),
    ],
)
def test_real_archive_files_before_and_after_the_microsecond_switch(
    name: str, first_open: str
) -> None:
    raw = (REAL_KLINES / name).read_bytes()
    table = parse_archive_csv("klines", "klines_5m", raw, name)
    assert table.num_rows == 8928
    assert table.column("open_time")[0].as_py().isoformat() == first_open
    source = pd.read_csv(io.BytesIO(raw), header=None, names=KLINE_COLUMNS)
    assert (table.column("high").to_numpy() == source["high"].to_numpy()).all()
    spacing = pd.Series(table.column("open_time").to_pandas()).diff().dropna().unique()
    assert list(spacing) == [pd.Timedelta(minutes=5)]
