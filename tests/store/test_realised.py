"""store/realised.py: merges add each liquidation once; coverage intervals are unioned per day."""

from datetime import date
from pathlib import Path

import pandas as pd

from store.datasets import REALISED_LIQUIDATION_SCHEMA
from store.lake import Lake
from store.realised import (
    liquidation_id,
    merge_coverage,
    merge_realised,
    read_coverage,
    read_realised,
)


def _rows(times: list[str], ids: list[str]) -> pd.DataFrame:
    n = len(times)
    return pd.DataFrame(
        {
            "time": pd.to_datetime(times, utc=True),
            "received_at": pd.to_datetime(times, utc=True),
            "side": ["long"] * n,
            "price": [100.0] * n,
            "quantity": [2.0] * n,
            "notional_usd": [200.0] * n,
            "source": ["stream"] * n,
            "liq_id": ids,
            "raw": ["{}"] * n,
        }
    )[REALISED_LIQUIDATION_SCHEMA.names]


def test_merge_splits_days_and_drops_replayed_rows(tmp_path):
    lake = Lake(str(tmp_path))
    first = _rows(["2026-11-01T23:59:59Z", "2026-11-02T00:00:00Z"], ["a", "b"])
    assert merge_realised(lake, "bybit", "BTCUSDT", first, "test") == {
        date(2026, 11, 1): 1,
        date(2026, 11, 2): 1,
    }
    again = _rows(["2026-11-02T00:00:00Z", "2026-11-02T01:00:00Z"], ["b", "c"])
    assert merge_realised(lake, "bybit", "BTCUSDT", again, "test") == {date(2026, 11, 2): 1}
    stored = read_realised(lake, "bybit", "BTCUSDT", date(2026, 11, 1), date(2026, 11, 2))
    assert stored["liq_id"].tolist() == ["a", "b", "c"]
    assert read_realised(lake, "okx", "BTCUSDT", date(2026, 11, 1), date(2026, 11, 2)).empty


def test_liquidation_id_depends_on_every_field():
    base = liquidation_id("binance", ["BTCUSDT", 1, "SELL", "9910", "0.014"])
    assert base == liquidation_id("binance", ["BTCUSDT", 1, "SELL", "9910", "0.014"])
    assert base != liquidation_id("binance", ["BTCUSDT", 1, "SELL", "9910", "0.015"])
    assert base != liquidation_id("bybit", ["BTCUSDT", 1, "SELL", "9910", "0.014"])


def test_coverage_is_split_at_midnight_and_unioned(tmp_path):
    lake = Lake(str(tmp_path))
    t = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    merge_coverage(
        lake, "binance", "BTCUSDT",
        pd.DataFrame({"start": [t("2026-11-01T22:00")], "end": [t("2026-11-02T01:00")],
                      "source": ["stream"]}),
    )  # fmt: skip
    merge_coverage(
        lake, "binance", "BTCUSDT",
        pd.DataFrame({"start": [t("2026-11-02T00:30")], "end": [t("2026-11-02T02:00")],
                      "source": ["stream"]}),
    )  # fmt: skip
    got = read_coverage(lake, "binance", "BTCUSDT", date(2026, 11, 1), date(2026, 11, 2))
    assert list(zip(got["start"], got["end"], strict=True)) == [
        (t("2026-11-01T22:00"), t("2026-11-02T00:00")),
        (t("2026-11-02T00:00"), t("2026-11-02T02:00")),
    ]


def test_a_changed_stored_file_is_a_corrupt_partition_never_rewritten_as_verified(tmp_path):
    import pytest

    from store.datasets import realised_dataset
    from store.errors import CorruptPartitionError

    lake = Lake(str(tmp_path))
    merge_realised(lake, "bybit", "BTCUSDT", _rows(["2026-11-01T01:00:00Z"], ["a"]), "test")
    path = lake.data_path(realised_dataset("bybit"), "BTCUSDT", date(2026, 11, 1))
    raw = bytearray(Path(path).read_bytes())
    raw[-20:-19] = b"\x00" if raw[-20:-19] != b"\x00" else b"\x01"  # in the footer's metadata
    Path(path).write_bytes(bytes(raw))
    more = _rows(["2026-11-01T02:00:00Z"], ["b"])
    with pytest.raises(CorruptPartitionError, match="SHA-256 its ledger entry records") as error:
        merge_realised(lake, "bybit", "BTCUSDT", more, "test")
    assert path in str(error.value)
    assert Path(path).read_bytes() == bytes(raw)  # left as found, for the operator
