"""Archive CSV bytes -> Arrow tables in the lake's schemas.

Handles files with and without a header row (futures klines before about
2022-05 have none) and epoch timestamps in milliseconds or microseconds
(the unit is detected per value, by magnitude).
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sources.errors import CorruptArchiveError, UnexpectedColumnsError
from store.datasets import DATASETS

KLINE_COLUMNS = [
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
]  # fmt: skip
METRICS_COLUMNS = [
    "create_time", "symbol", "sum_open_interest", "sum_open_interest_value",
    "count_toptrader_long_short_ratio", "sum_toptrader_long_short_ratio",
    "count_long_short_ratio", "sum_taker_long_short_vol_ratio",
]  # fmt: skip
FUNDING_COLUMNS = ["calc_time", "funding_interval_hours", "last_funding_rate"]

SOURCE_COLUMNS = {
    "klines": KLINE_COLUMNS,
    "markPriceKlines": KLINE_COLUMNS,
    "metrics": METRICS_COLUMNS,
    "fundingRate": FUNDING_COLUMNS,
}
EPOCH_COLUMNS = {"open_time", "close_time", "calc_time"}
# Epoch values above this are microseconds (1e14 µs is 1973; 1e14 ms is year 5138).
_MICROSECOND_THRESHOLD = 10**14


def _has_header(first_line: str) -> bool:
    return bool(first_line) and first_line[0].isalpha()


def _epoch_to_utc_us(values: pa.Array) -> pa.Array:
    """Epoch integers in ms or µs (mixed allowed) -> UTC microsecond timestamps."""
    raw = values.to_numpy(zero_copy_only=False).astype(np.int64)
    as_us = np.where(raw >= _MICROSECOND_THRESHOLD, raw, raw * 1000)
    return pa.array(as_us, type=pa.timestamp("us", tz="UTC"))


def parse_archive_csv(archive_name: str, lake_name: str, content: bytes, label: str) -> pa.Table:
    """Parse one archive CSV into the lake schema of ``lake_name``; raise on any surprise."""
    expected = SOURCE_COLUMNS[archive_name]
    schema = DATASETS[lake_name].schema
    first_line = content.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if not first_line:
        raise CorruptArchiveError(f"{label}: the CSV inside the zip is empty")
    header = _has_header(first_line)
    found = [c.strip() for c in first_line.split(",")]
    if header and found != expected:
        raise UnexpectedColumnsError(
            f"{label}: columns {found} differ from the expected {expected}; "
            "the archive format changed — update sources/binance_archive/parse.py"
        )
    if not header and len(found) != len(expected):
        raise UnexpectedColumnsError(
            f"{label}: {len(found)} columns in a header-less file, expected {len(expected)}"
        )

    column_types: dict[str, pa.DataType] = {}
    for name in expected:
        if name in EPOCH_COLUMNS or name == "count" or name == "funding_interval_hours":
            column_types[name] = pa.int64()
        elif name == "create_time":
            column_types[name] = pa.timestamp("us")  # naive in the file; UTC by definition
        elif name not in ("symbol", "ignore"):
            column_types[name] = pa.float64()
    try:
        table = pacsv.read_csv(
            io.BytesIO(content),
            read_options=pacsv.ReadOptions(column_names=expected, skip_rows=1 if header else 0),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types,
                include_columns=schema.names,
                timestamp_parsers=["%Y-%m-%d %H:%M:%S"],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CorruptArchiveError(f"{label}: unreadable CSV row ({exc})") from exc

    if any(table.column(n).null_count for n in schema.names):
        raise CorruptArchiveError(f"{label}: empty fields in the CSV")
    columns = []
    for field in schema:
        column = table.column(field.name).combine_chunks()
        if field.name in EPOCH_COLUMNS:
            column = _epoch_to_utc_us(column)
        elif field.name == "create_time":
            column = pc.assume_timezone(column, "UTC")
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def sort_and_deduplicate(table: pa.Table, time_column: str) -> tuple[pa.Table, int]:
    """Sort rows by time and keep the first row of each timestamp; return the table and drops."""
    table = table.sort_by(time_column)
    times = table.column(time_column).to_numpy().astype("datetime64[us]").astype(np.int64)
    keep = np.ones(len(times), dtype=bool)
    keep[1:] = times[1:] != times[:-1]
    dropped = int((~keep).sum())
    return (table.filter(pa.array(keep)) if dropped else table), dropped


def day_of(table: pa.Table, time_column: str) -> np.ndarray:
    """The UTC calendar day (numpy datetime64[D]) of each row."""
    return pc.cast(table.column(time_column), pa.timestamp("us")).to_numpy().astype("datetime64[D]")
