"""The lake's datasets: their names, explicit Arrow schemas and time columns.

One schema per dataset, so every reader gets the same types whatever file a
day came from: timestamps are UTC microseconds (lossless for both the
millisecond and the microsecond archive files), prices and amounts float64,
and no object columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

UTC_TIME = pa.timestamp("us", tz="UTC")

KLINE_SCHEMA = pa.schema(
    [
        ("open_time", UTC_TIME),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
        ("close_time", UTC_TIME),
        ("quote_volume", pa.float64()),
        ("count", pa.int64()),
        ("taker_buy_volume", pa.float64()),
        ("taker_buy_quote_volume", pa.float64()),
    ]
)

METRICS_SCHEMA = pa.schema(
    [
        ("create_time", UTC_TIME),
        ("sum_open_interest", pa.float64()),
        ("sum_open_interest_value", pa.float64()),
        ("count_toptrader_long_short_ratio", pa.float64()),
        ("sum_toptrader_long_short_ratio", pa.float64()),
        ("count_long_short_ratio", pa.float64()),
        ("sum_taker_long_short_vol_ratio", pa.float64()),
    ]
)

FUNDING_RATE_SCHEMA = pa.schema(
    [
        ("calc_time", UTC_TIME),
        ("funding_interval_hours", pa.int64()),
        ("last_funding_rate", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Dataset:
    """A lake dataset: where it lives and what its rows look like."""

    venue: str
    name: str
    schema: pa.Schema
    time_column: str
    bar_seconds: int | None  # expected spacing of rows, for gap detection; None if irregular

    @property
    def rows_per_day(self) -> int | None:
        return None if self.bar_seconds is None else 86_400 // self.bar_seconds


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset("binance", "klines_1m", KLINE_SCHEMA, "open_time", 60),
        Dataset("binance", "klines_5m", KLINE_SCHEMA, "open_time", 300),
        Dataset("binance", "mark_klines_1m", KLINE_SCHEMA, "open_time", 60),
        Dataset("binance", "metrics", METRICS_SCHEMA, "create_time", 300),
        Dataset("binance", "funding_rate", FUNDING_RATE_SCHEMA, "calc_time", None),
    ]
}


def dataset(name: str) -> Dataset:
    """Look a dataset up by name, with the valid names in the error."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; choose from {', '.join(sorted(DATASETS))}"
        ) from None
