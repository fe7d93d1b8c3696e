"""Small hand-built inputs for the engine tests."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from sources.reference_data import load_brackets
from transforms.liqmap.config import ModelConfig, TierMix

SNAPSHOT = date(2024, 1, 1)
BRACKETS = load_brackets("BTCUSDT")[0]
TEN_X_ONLY = ModelConfig(tiers=TierMix({10: 1.0}, {10: 1.0}))


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def three_bar_case() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """OI 100 → 110 contracts (+10 at VWAP 100,000: $1M) → 95 (a long wipe-out at 23:52) → 95."""
    times = [
        ts("2023-12-31 23:45"),
        ts("2023-12-31 23:50"),
        ts("2023-12-31 23:55"),
        ts("2024-01-01 00:00"),
    ]
    metrics = pd.DataFrame(
        {
            "create_time": times,
            "sum_open_interest": [100.0, 110.0, 95.0, 95.0],
            "sum_open_interest_value": [10e6, 11e6, 9.5e6, 9.5e6],
        }
    )
    klines = pd.DataFrame(
        {
            "open_time": [ts("2023-12-31 23:40"), *times[:3]],
            "close": [100_000.0] * 4,
            "volume": [10.0] * 4,
            "quote_volume": [1_000_000.0] * 4,  # VWAP 100,000
            "taker_buy_quote_volume": [500_000.0] * 4,
        }
    )
    minutes = pd.date_range("2023-12-31 23:45", "2023-12-31 23:59", freq="1min", tz="UTC")
    low = np.full(len(minutes), 99_950.0)
    low[7] = 90_000.0  # 23:52 touches the 10x long's 90,361.45
    mark = pd.DataFrame({"open_time": minutes, "low": low, "high": 100_050.0, "close": 100_000.0})
    return metrics, klines, mark
