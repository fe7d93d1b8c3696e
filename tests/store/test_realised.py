"""store/realised.py: merges add each liquidation once; coverage intervals are unioned per day."""

from datetime import date

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
