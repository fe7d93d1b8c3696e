"""Each venue's isolated liquidation price for USDT-margined linear perpetuals, with its tiers.

The engine is the same for every venue; only the margin rules differ (README, The model):

binance  exact  long  E·(1 − 1/L − cum/N) / (1 − mmr),  short E·(1 + 1/L + cum/N) / (1 + mmr)
         (transforms/liquidation_price.py; shared/design/liquidation-model.md)
bybit    long  LP = E − (IM − MM)/Q,  short LP = E + (IM − MM)/Q, with IM = Q·E/L and
         MM = Q·E·mmr − deduction (risk-limit tier), i.e. long E·(1 − 1/L + mmr − ded/N),
         short E·(1 + 1/L − mmr + ded/N): the maintenance margin is fixed at entry, so the
         price is linear in E. Source: Bybit Help Center, "Liquidation Price (USDT Contract)",
         https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract
         (worked example: long 1 BTC at 20,000, 50x, MMR 0.5 % → 19,700) and "Liquidation Price
         Calculation under Isolated Mode (Unified Trading Account)",
         https://www.kbybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account;
         the deduction is the risk limit's mmDeduction: "Maintenance Margin = Position Value ×
         Maintenance Margin Rate − Maintenance Margin Deduction" (Bybit, "Margin Parameters",
         https://bybit-tr.com/en-TR/announcement-info/margin-parameters)
okx      liquidation when (margin + PnL) / (ctVal·|sz|·mark·(mmr + fee)) ≤ 100 % (isolated,
         USDT-margined), with margin = ctVal·|sz|·E/L: long E·(1 − 1/L)/(1 − mmr − fee),
         short E·(1 + 1/L)/(1 + mmr + fee); the rate of the position tier applies to the whole
         position (no deduction). Source: OKX Help Center, "Tiered maintenance margin ratio
         rules", https://www.okx.com/help/v-tiered-maintenance-margin-ratio-rules

Fees: Bybit's UTA page adds an estimated fee to close to the maintenance margin and OKX puts
the taker fee rate next to the tier's rate. Both depend on the account's fee level, which the
model cannot know, and Binance's formula has none, so the venues' prices are compared fee-free:
``fee_rate`` defaults to 0 (Bybit's own worked example also leaves the fee out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from transforms.liquidation_price import (
    Formula,
    check_brackets,
    check_position,
    liquidation_price,
    no_snapshot_message,
)

Venue = Literal["binance", "bybit", "okx"]
VENUES: tuple[Venue, ...] = ("binance", "bybit", "okx")
VENUE_LABELS = {"binance": "Binance", "bybit": "Bybit", "okx": "OKX"}


@dataclass(frozen=True)
class MarginRules:
    """A venue and its dated tier table (the engine's ``brackets`` argument for any venue).

    ``size_unit`` says what the tier bounds count: "usd" (position notional; Binance brackets,
    Bybit risk limits) or "contracts" (OKX position tiers, ``contract_value`` base units each).
    """

    venue: Venue
    brackets: pd.DataFrame
    size_unit: Literal["usd", "contracts"] = "usd"
    contract_value: float = 1.0


def as_margin_rules(brackets: pd.DataFrame | MarginRules) -> MarginRules:
    """A bare bracket table is Binance's (every existing caller passes one)."""
    return brackets if isinstance(brackets, MarginRules) else MarginRules("binance", brackets)


def check_venue_brackets(brackets: pd.DataFrame, venue: Venue) -> pd.DataFrame:
    """Binance's and Bybit's deductions follow cum_k = cum_(k−1) + floor_k·Δmmr; OKX has none.

    A Bybit snapshot may carry no deduction at all (cum 0 on every tier): in the risk-limit
    era before ``mmDeduction`` the tier's rate applied to the whole position."""
    if venue == "bybit" and "cum" in brackets and "effective_from" in brackets:
        cum = pd.to_numeric(brackets["cum"])
        no_deduction = cum.eq(0).groupby(brackets["effective_from"]).transform("all")
        check_brackets(brackets[~no_deduction])
        return brackets
    if venue != "okx":
        return check_brackets(brackets)
    cum = brackets.get("cum")
    if cum is None or (pd.to_numeric(cum) != 0).any():
        raise ValueError("OKX position tiers have no maintenance deduction: set cum to 0")
    return brackets


def venue_liquidation_price(
    venue: Venue,
    side: np.ndarray,
    entry: np.ndarray | float,
    leverage: np.ndarray | float,
    mmr: np.ndarray | float,
    cum: np.ndarray | float,
    notional: np.ndarray | float,
    formula: Formula = "exact",
    fee_rate: float = 0.0,
) -> np.ndarray:
    """Isolated liquidation price on ``venue``; ``side`` "long"/"short" or bool (True=long).

    ``formula`` other than "exact" is the ablation of liquidation_price(), the same for all."""
    if venue == "binance" or formula != "exact":
        return liquidation_price(side, entry, leverage, mmr, cum, notional, formula)
    is_long = np.asarray(side == "long") if isinstance(side, str) else np.asarray(side, bool)
    entry, leverage = np.asarray(entry, float), np.asarray(leverage, float)
    check_position(entry, leverage)
    sign = np.where(is_long, -1.0, 1.0)
    mmr, cum, notional = np.asarray(mmr, float), np.asarray(cum, float), np.asarray(notional, float)
    if venue == "bybit":
        return entry * (1 + sign * (1 / leverage - mmr - fee_rate + cum / notional))
    if venue == "okx":
        return entry * (1 + sign / leverage) / (1 + sign * (mmr + fee_rate))
    raise ValueError(f"unknown venue {venue!r}; use one of {', '.join(VENUES)}")


def tier_terms(
    rules: MarginRules, birth_days: np.ndarray, entry: np.ndarray, notional: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mmr, cum, max leverage) per cohort for tiers bounded in contracts: the representative
    position of ``notional`` USD holds notional / (entry · contract value) contracts."""
    table = rules.brackets
    effective = pd.to_datetime(table["effective_from"]).dt.date
    snapshots = np.array(sorted(effective.unique()), "datetime64[D]")
    which = np.searchsorted(snapshots, birth_days, side="right") - 1
    if (which < 0).any():
        first = birth_days[which < 0][0].astype(object)
        raise ValueError(no_snapshot_message(first, snapshots[0].astype(object)))
    size = notional / (np.asarray(entry, float) * rules.contract_value)
    mmr, cum, max_lev = (np.full(len(size), np.nan) for _ in range(3))
    for k, snapshot in enumerate(snapshots.astype(object)):
        rows = table[effective == snapshot].sort_values("bracket")
        mine = which == k
        # a tier's maximum is inclusive ("0 – 20,000 contracts")
        tier = np.searchsorted(rows["notional_cap"].to_numpy(float), size[mine], side="left")
        if (tier >= len(rows)).any():
            raise ValueError(
                f"no position tier for {size[mine].max():,.0f} contracts in the snapshot of "
                f"{snapshot} (it covers up to {rows['notional_cap'].max():,.0f})"
            )
        levers = rows["max_leverage"].astype(float).ffill().to_numpy()
        mmr[mine] = rows["mmr"].to_numpy(float)[tier]
        cum[mine] = rows["cum"].to_numpy(float)[tier]
        max_lev[mine] = levers[tier]
    return mmr, cum, max_lev
