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
BRACKET_COLUMNS = [
    "effective_from", "bracket", "notional_floor", "notional_cap", "max_leverage", "mmr", "cum",
]  # fmt: skip


class LeverageError(ValueError):
    """A leverage or price the venue would not accept (the formula would give nonsense)."""


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


def no_snapshot_message(on: date, first: date) -> str:
    return (
        f"no maintenance-bracket snapshot is effective on {on}: the snapshots start on {first}; "
        "add an earlier snapshot to the symbol's maintenance-bracket file (README, The model) "
        "or choose a later date"
    )


def bracket_for(brackets: pd.DataFrame, on: date, notional: float) -> pd.Series:
    """The bracket row valid on ``on`` for a position of ``notional`` USD."""
    effective = pd.to_datetime(brackets["effective_from"]).dt.date
    valid = sorted(d for d in effective.unique() if d <= on)
    if not valid:
        raise ValueError(no_snapshot_message(on, min(effective)))
    snapshot = brackets[effective == valid[-1]].sort_values("bracket")
    # A bracket without a published maximum allows at most the one below it.
    snapshot = snapshot.assign(max_leverage=snapshot["max_leverage"].astype(float).ffill())
    row = snapshot[(snapshot["notional_floor"] <= notional) & (notional < snapshot["notional_cap"])]
    if row.empty:
        raise ValueError(
            f"no maintenance bracket for a {notional:,.0f} USD position in the snapshot of "
            f"{valid[-1]} (it covers up to {snapshot['notional_cap'].max():,.0f})"
        )
    return row.iloc[0]


def check_position(
    entry: np.ndarray | float, leverage: np.ndarray | float, max_leverage: float | None = None
) -> None:
    """Refuse inputs outside the venue's rules: the formula is only meaningful for finite,
    positive prices and 1 ≤ L ≤ the bracket's maximum (at 1,000x a long would liquidate
    above its entry, below 1x at a negative price)."""
    entry, leverage = np.asarray(entry, float), np.asarray(leverage, float)
    if not (np.isfinite(entry).all() and np.isfinite(leverage).all()):
        raise LeverageError("entry and leverage must be finite numbers")
    if (entry <= 0).any():
        raise LeverageError("entry price must be positive")
    if (leverage < 1).any():
        raise LeverageError(f"leverage {float(leverage.min()):g}x is below 1x; use 1 or more")
    if max_leverage is not None and np.isfinite(max_leverage) and (leverage > max_leverage).any():
        raise LeverageError(
            f"leverage {float(leverage.max()):g}x is above the bracket's maximum of "
            f"{max_leverage:g}x; use at most {max_leverage:g}x or a smaller position"
        )


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
    check_position(entry, leverage)
    mmr, cum, notional = np.asarray(mmr, float), np.asarray(cum, float), np.asarray(notional, float)
    sign = np.where(is_long, -1.0, 1.0)
    if formula == "exact":
        return entry * (1 + sign * (1 / leverage + cum / notional)) / (1 + sign * mmr)
    if formula == "linear":
        return entry * (1 + sign * (1 / leverage + cum / notional - mmr))
    if formula == "naive":
        return entry * (1 + sign / leverage)
    raise ValueError(f"unknown formula {formula!r}; use exact, linear or naive")
