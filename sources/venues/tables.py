"""Fetched rows → one Arrow table per UTC day in the lake's schema: sorted, deduplicated on
the time column (a page that repeats rows stores them once), bars still in progress at the
fetch time dropped (a snapshot must not change later), funding intervals from the gaps
between funding times."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from store.datasets import Dataset

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MS_COLUMNS = ("open_time", "close_time", "create_time", "calc_time")


def closed_rows(ds: Dataset, rows: list[dict[str, Any]], now_ms: int) -> list[dict[str, Any]]:
    """The rows final at ``now_ms``: klines whose bar has closed, other series up to now."""
    if ds.time_column == "open_time":
        return [r for r in rows if r["close_time"] < now_ms]
    return [r for r in rows if r[ds.time_column] <= now_ms]


def deduplicated(ds: Dataset, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Rows sorted by time, one per time (the first served), and how many were dropped."""
    by_time: dict[int, dict[str, Any]] = {}
    for row in rows:
        by_time.setdefault(row[ds.time_column], row)
    return [by_time[t] for t in sorted(by_time)], len(rows) - len(by_time)


def with_funding_intervals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each funding row's interval in hours: the time since the previous funding (the first
    row takes the next gap); rows must be sorted and deduplicated."""
    times = [r["calc_time"] for r in rows]
    gaps = [round((b - a) / HOUR_MS) for a, b in itertools.pairwise(times)]
    out = []
    for i, row in enumerate(rows):
        gap = gaps[i - 1] if i > 0 else (gaps[0] if gaps else None)
        out.append(row | {"funding_interval_hours": gap})
    return out


def to_table(ds: Dataset, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (times in epoch ms) as a table in the dataset's schema."""
    columns = {}
    for f in ds.schema:
        values = [r[f.name] for r in rows]
        if f.name in MS_COLUMNS:
            columns[f.name] = pa.array(np.array(values, dtype="int64") * 1000, pa.int64()).cast(
                f.type
            )
        else:
            columns[f.name] = pa.array(values, f.type)  # NaN stays NaN, None is null
    return pa.table(columns, schema=ds.schema)


def split_by_day(ds: Dataset, rows: list[dict[str, Any]]) -> dict[date, list[dict[str, Any]]]:
    """Rows grouped by the UTC day of their time column."""
    days: dict[date, list[dict[str, Any]]] = {}
    for row in rows:
        day = datetime.fromtimestamp(row[ds.time_column] // DAY_MS * 86_400, UTC).date()
        days.setdefault(day, []).append(row)
    return days
