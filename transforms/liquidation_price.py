"""Binance USDⓈ-M isolated liquidation prices, vectorised, with dated maintenance brackets.

exact   long  LP = E·(1 − 1/L − cum/N) / (1 − mmr)
        short LP = E·(1 + 1/L + cum/N) / (1 + mmr)
linear  long E·(1 − 1/L − cum/N + mmr), short E·(1 + 1/L + cum/N − mmr)  (common approximation)
naive   long E·(1 − 1/L),       short E·(1 + 1/L)         (ignores margin; kept for ablation)
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

Formula = Literal["exact", "linear", "naive"]
Side = Literal["long", "short"]
BRACKET_COLUMNS = ["effective_from", "bracket", "notional_floor", "notional_cap", "mmr", "cum"]


def check_brackets(brackets: pd.DataFrame) -> pd.DataFrame:
    """Validate a bracket table: columns present and cum_k = cum_(k−1) + floor_k·(mmr_k − mmr_(k−1))."""
    missing = set(BRACKET_COLUMNS) - set(brackets.columns)
    if missing:
        raise ValueError(f"maintenance brackets lack columns {sorted(missing)}")
    for effective, table in brackets.groupby("effective_from"):
        table = table.sort_values("bracket")
        mmr, cum, floor = (table[c].to_numpy(float) for c in ("mmr", "cum", "notional_floor"))
        expected = np.concatenate([[0.0], cum[:-1] + floor[1:] * np.diff(mmr)])
        if not np.allclose(cum, expected, atol=0.5):
            raise ValueError(
                f"maintenance brackets from {effective}: cum {cum.tolist()} does not follow "
                f"cum_k = cum_(k-1) + floor_k·(mmr_k − mmr_(k-1)) (expected {expected.tolist()})"
            )
    return brackets


def bracket_for(brackets: pd.DataFrame, on: date, notional: float) -> pd.Series:
    """The bracket row valid on ``on`` for a position of ``notional`` USD."""
    effective = pd.to_datetime(brackets["effective_from"]).dt.date
    valid = sorted(d for d in effective.unique() if d <= on)
    if not valid:
        raise ValueError(f"no maintenance-bracket snapshot is effective on {on}")
    snapshot = brackets[effective == valid[-1]]
    row = snapshot[(snapshot["notional_floor"] <= notional) & (notional < snapshot["notional_cap"])]
    if row.empty:
        raise ValueError(
            f"no maintenance bracket for a {notional:,.0f} USD position in the snapshot of "
            f"{valid[-1]} (it covers up to {snapshot['notional_cap'].max():,.0f})"
        )
    return row.iloc[0]


def liquidation_price(
    side: Side | np.ndarray,
    entry: np.ndarray | float,
    leverage: np.ndarray | float,
    mmr: np.ndarray | float = 0.004,
    cum: np.ndarray | float = 0.0,
    notional: np.ndarray | float = 1.0,
    formula: Formula = "exact",
) -> np.ndarray:
    """Liquidation price of isolated positions; ``side`` is "long"/"short" or a bool array (True=long)."""
    is_long = np.asarray(side == "long") if isinstance(side, str) else np.asarray(side, bool)
    entry, leverage = np.asarray(entry, float), np.asarray(leverage, float)
    mmr, cum, notional = np.asarray(mmr, float), np.asarray(cum, float), np.asarray(notional, float)
    sign = np.where(is_long, -1.0, 1.0)
    if formula == "exact":
        return entry * (1 + sign * (1 / leverage + cum / notional)) / (1 + sign * mmr)
    if formula == "linear":
        return entry * (1 + sign * (1 / leverage + cum / notional - mmr))
    if formula == "naive":
        return entry * (1 + sign / leverage)
    raise ValueError(f"unknown formula {formula!r}; use exact, linear or naive")
