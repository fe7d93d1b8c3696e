"""A demo lake's track record (tests, benchmarks, demos), written through the store APIs:
rolling validation-summary rows (as `liqbrief validate` writes them) and a day of realised
Binance liquidations with the recorder's coverage (as `liqbrief record` compacts them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from store.datasets import DATASETS, VALIDATION_SUMMARY_SCHEMA
from store.lake import Lake
from store.ledger import LedgerEntry
from store.realised import liquidation_id, merge_coverage, merge_realised

NAN = float("nan")


def summary_row(model: str, window_days: int, seed: int) -> dict:
    """One plausible summary row (fixed by ``seed``): every column of the schema."""
    rng = np.random.default_rng(seed)
    precision = float(rng.uniform(0.4, 0.9))
    return {
        "model": model, "window_days": window_days, "days_scored": int(rng.integers(10, window_days)),
        "coverage_pct": float(rng.uniform(60, 99)), "events": int(rng.integers(500, 5000)),
        "top_precision": precision, "top_precision_lower_95": precision - 0.08,
        "baseline_hit_share": float(rng.uniform(0.05, 0.2)), "heavier_hit_rate": 0.6,
        "nearest_hit_share": float(rng.uniform(0.3, 0.7)),
        "swept_spearman_median": 0.4, "time_realised_source": "coinglass",
        "time_days": int(rng.integers(20, window_days)), "time_spearman_1d": float(rng.uniform(0.3, 0.8)),
        "time_spearman_1d_lo": 0.1, "time_spearman_1d_hi": 0.9, "time_spearman_4h": 0.5,
        "time_spearman_4h_lo": 0.3, "time_spearman_4h_hi": 0.7, "est_to_realised_ratio": 1.8,
        "time_heavier_hit_rate": 0.7,
    }  # fmt: skip


def write_validation_summary(lake: Lake, symbol: str, day: date, rows: list[dict]) -> None:
    """Replace the summary partition of (symbol, day) with ``rows``."""
    ds = DATASETS["validation_summary"]
    frame = pd.DataFrame([{"date": day, "symbol": symbol, "venue": "binance", **r} for r in rows])
    table = pa.Table.from_pandas(frame, schema=VALIDATION_SUMMARY_SCHEMA, preserve_index=False)
    entry = LedgerEntry(
        venue=ds.venue, dataset=ds.name, symbol=symbol, date=day.isoformat(),
        source_url="liqbrief:validate", source_sha256="", rows=len(frame), duplicates_dropped=0,
        missing_rows=0, ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    lake.write_day(ds, day, table, entry)


def realised_day(day: date, p0: float, count: int, seed: int) -> pd.DataFrame:
    """``count`` liquidations during ``day``: longs below ``p0``, shorts above it."""
    rng = np.random.default_rng(seed)
    side = np.where(rng.random(count) < 0.6, "long", "short")
    distance = rng.uniform(0.002, 0.04, count)
    prices = np.where(side == "long", p0 * (1 - distance), p0 * (1 + distance))
    quantity = rng.lognormal(-2.0, 1.2, count)
    times = (
        pd.Timestamp(day, tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 86_399, count)), "s")
    ).floor("ms")
    frame = pd.DataFrame(
        {"time": times, "received_at": times, "side": side, "price": prices, "quantity": quantity,
         "notional_usd": prices * quantity, "source": "stream"}
    )  # fmt: skip
    frame["liq_id"] = [
        liquidation_id("binance", row) for row in frame[["time", "side", "price"]].itertuples()
    ]
    frame["raw"] = "{}"
    return frame


def write_realised(
    lake: Lake, symbol: str, day: date, frame: pd.DataFrame, covered_hours: float
) -> None:
    """Store ``frame`` and one covered interval from 00:00 UTC of ``day``."""
    merge_realised(lake, "binance", symbol, frame, "liqbrief:test-stream")
    start = pd.Timestamp(day, tz="UTC")
    merge_coverage(
        lake, "binance", symbol,
        pd.DataFrame({"start": [start], "end": [start + pd.Timedelta(hours=covered_hours)], "source": ["stream"]}),
    )  # fmt: skip


def add_track_record(lake: Lake, day: date, symbols: list[str], events: int = 300) -> None:
    """Summaries dated ``day`` (exact and naive, 30 and 90 days) and ``events`` liquidations
    of the day before around its map's price (build the lake with ``map_days=2``)."""
    yesterday = day - timedelta(days=1)
    variants = [("exact", 30), ("naive", 30), ("exact", 90), ("naive", 90)]
    for k, symbol in enumerate(symbols):
        rows = [
            summary_row(model, window, 10 * k + j) for j, (model, window) in enumerate(variants)
        ]
        write_validation_summary(lake, symbol, day, rows)
        maps = lake.read(DATASETS["liqmap_summary"], symbol, yesterday, day)
        if maps.empty:
            continue
        frame = realised_day(yesterday, float(maps["p0"].iloc[0]), events, k)
        write_realised(lake, symbol, yesterday, frame, covered_hours=21.5)
