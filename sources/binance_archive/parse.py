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
from sources.liquidation_streams.binance import binance_liquidation
from sources.liquidation_streams.model import FrameError, Liquidation
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
# liquidationSnapshot: one row per liquidation order, the fields of the forceOrder stream's
# ``o`` object without the symbol (it is in the file name). Checked, not guessed (public code
# search): the header row and a sample row quoted by a user of the real (COIN-M) files,
#   time,side,order_type,time_in_force,original_quantity,price,average_price,order_status,
#   last_fill_quantity,accumulated_fill_quantity
#   1709598391022,SELL,LIMIT,IOC,1,67934.2,68203.4,FILLED,1,1
# (10 columns, header row present, ``time`` epoch ms, "side=SELL is a long liquidated"); loaders
# of data/futures/um/daily/liquidationSnapshot/BTCUSDT/ (2023-06..2024-03) read the same 10
# columns. binance/binance-public-data #259 and #337: the USDⓈ-M files list every row twice
# (dedup on liq_id keeps one). One third-party loader assumes an 11th ``symbol`` column
# (unconfirmed): such a header is refused by name (UnexpectedColumnsError), never misread.
LIQUIDATION_SNAPSHOT_COLUMNS = [
    "time", "side", "order_type", "time_in_force", "original_quantity", "price",
    "average_price", "order_status", "last_fill_quantity", "accumulated_fill_quantity",
]  # fmt: skip
# the forceOrder key of each column, so binance_liquidation reads a row as it reads a stream event
SNAPSHOT_TO_FORCE_ORDER = dict(
    zip(
        LIQUIDATION_SNAPSHOT_COLUMNS,
        ["T", "S", "o", "f", "q", "p", "ap", "X", "l", "z"],
        strict=True,
    )
)

SOURCE_COLUMNS = {
    "klines": KLINE_COLUMNS,
    "markPriceKlines": KLINE_COLUMNS,
    "metrics": METRICS_COLUMNS,
    "fundingRate": FUNDING_COLUMNS,
    "liquidationSnapshot": LIQUIDATION_SNAPSHOT_COLUMNS,
}
EPOCH_COLUMNS = {"open_time", "close_time", "calc_time"}
# Epoch values above this are microseconds (1e14 µs is 1973; 1e14 ms is year 5138).
_MICROSECOND_THRESHOLD = 10**14


def _has_header(first_line: str) -> bool:
    return bool(first_line) and first_line[0].isalpha()


def _check_columns(archive_name: str, first_line: str, label: str) -> bool:
    """Whether the file has a header row; raise if its columns are not the known ones."""
    expected = SOURCE_COLUMNS[archive_name]
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
    return header


def parse_liquidation_snapshot(content: bytes, symbol: str, label: str) -> list[Liquidation]:
    """One liquidationSnapshot CSV -> its liquidations, each read by the stream's own extractor
    (``binance_liquidation``), with the CSV line as ``raw``. An empty file (header only) is a
    day without liquidations; any unreadable row fails the whole file (nothing half-stored)."""
    lines = content.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].strip():
        raise CorruptArchiveError(f"{label}: the CSV inside the zip is empty")
    header = _check_columns("liquidationSnapshot", lines[0].strip(), label)
    keys = list(SNAPSHOT_TO_FORCE_ORDER.values())
    found: list[Liquidation] = []
    for number, line in enumerate(lines[1:] if header else lines, start=2 if header else 1):
        line = line.strip()
        if not line:
            continue
        values = line.split(",")
        try:
            if len(values) != len(keys):
                raise FrameError(f"{len(values)} fields, expected {len(keys)}")
            order = {"s": symbol, **dict(zip(keys, values, strict=True))}
            found.append(binance_liquidation(order, line))
        except FrameError as exc:
            raise CorruptArchiveError(f"{label}: line {number}: {exc}") from None
    return found


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
    header = _check_columns(archive_name, first_line, label)

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
