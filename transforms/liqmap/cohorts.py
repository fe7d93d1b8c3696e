"""Open cohorts where open interest rose, with their exact liquidation prices.

Every new contract has a long and a short holder, so a rise of dC contracts opens a long
and a short cohort of dC contracts each (notional dC · entry), split over leverage tiers. The aggressor side (taker buys
→ longs) takes the aggressive mix, the other side the passive mix, blended by how
one-sided the flow was: w = ½(aggr + passive) ± ½(2a − 1)(aggr − passive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from transforms.liqmap.config import ModelConfig
from transforms.liqmap.inputs import Bars
from transforms.liquidation_price import bracket_for, no_snapshot_message
from transforms.venue_margin import (
    MarginRules,
    as_margin_rules,
    tier_terms,
    venue_liquidation_price,
)


@dataclass(frozen=True)
class Cohorts:
    """Flat arrays, one entry per cohort, ordered by birth bar."""

    birth_bar: np.ndarray
    birth_time_us: np.ndarray
    is_long: np.ndarray
    tier_index: np.ndarray  # into ``tiers``
    contracts: np.ndarray  # base-asset units at birth
    size_usd: np.ndarray  # contracts · entry: the notional at birth
    entry: np.ndarray
    liq_price: np.ndarray
    tiers: tuple[int, ...]


def bracket_terms(
    brackets: pd.DataFrame, birth_days: np.ndarray, notional: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mmr, cum, max leverage) per birth day from the dated snapshot valid that day."""
    snapshots = np.array(
        sorted(pd.to_datetime(brackets["effective_from"]).dt.date.unique()), "datetime64[D]"
    )
    index = np.searchsorted(snapshots, birth_days, side="right") - 1
    if (index < 0).any():
        first = birth_days[index < 0][0]
        raise ValueError(no_snapshot_message(first.astype(object), snapshots[0].astype(object)))
    rows = [bracket_for(brackets, s.astype(object), notional) for s in snapshots]
    mmr = np.array([r["mmr"] for r in rows], float)
    cum = np.array([r["cum"] for r in rows], float)
    max_leverage = np.array([r["max_leverage"] for r in rows], float)
    return mmr[index], cum[index], max_leverage[index]


def margin_terms(
    rules: MarginRules, birth_days: np.ndarray, entry: np.ndarray, notional: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mmr, cum, max leverage) per cohort from the venue's tier table valid on its birth day."""
    if rules.size_unit == "contracts":
        return tier_terms(rules, birth_days, entry, notional)
    return bracket_terms(rules.brackets, birth_days, notional)


def open_cohorts(bars: Bars, brackets: pd.DataFrame | MarginRules, config: ModelConfig) -> Cohorts:
    """The cohorts of ``bars``; ``brackets`` is Binance's table or any venue's MarginRules."""
    rules = as_margin_rules(brackets)
    tiers, aggressive, passive = config.tiers.vectors()
    aggressive, passive = np.array(aggressive), np.array(passive)
    entry_all = bars.entry_vwap if config.entry == "vwap" else bars.entry_close
    opening = np.flatnonzero((bars.d_contracts > 0) & np.isfinite(entry_all))
    d_contracts = bars.d_contracts[opening]
    share = np.nan_to_num(bars.aggressor_buy_share[opening], nan=0.5)
    tilt = (2 * share - 1)[:, None]  # +1 all taker buys, −1 all taker sells
    if config.both_sides:
        mid, half_gap = (aggressive + passive) / 2, (aggressive - passive) / 2
        long_w = mid + tilt * half_gap
        short_w = mid - tilt * half_gap
    else:  # ablation: only the aggressor side opens, with the aggressive mix
        buyer_led = (share >= 0.5)[:, None]
        long_w = np.where(buyer_led, aggressive, 0.0)
        short_w = np.where(buyer_led, 0.0, aggressive)

    n_bars, n_tiers = len(opening), len(tiers)
    # Layout per bar: all long tiers, then all short tiers (keeps birth order).
    weights = np.concatenate([long_w, short_w], axis=1).ravel()
    bar = np.repeat(opening, 2 * n_tiers)
    is_long = np.tile(np.repeat([True, False], n_tiers), n_bars)
    tier_index = np.tile(np.arange(n_tiers), 2 * n_bars)
    contracts = np.repeat(d_contracts, 2 * n_tiers) * weights
    keep = contracts > 0
    bar, is_long, tier_index = bar[keep], is_long[keep], tier_index[keep]
    contracts = contracts[keep]

    entry = entry_all[bar]
    birth_time = bars.time_us[bar]
    birth_day = birth_time.astype("datetime64[us]").astype("datetime64[D]")
    mmr, cum, max_leverage = margin_terms(rules, birth_day, entry, config.position_notional)
    if rules.venue != "binance":
        tier_index = fold_to_venue_max(tier_index, np.asarray(tiers, float), max_leverage)
    leverage = np.asarray(tiers, float)[tier_index]
    check_tiers_allowed(leverage, max_leverage, birth_day, config.position_notional)
    liq = venue_liquidation_price(
        rules.venue, is_long, entry, leverage, mmr, cum, config.position_notional, config.formula
    )
    return Cohorts(
        bar, birth_time, is_long, tier_index, contracts, contracts * entry, entry, liq, tuple(tiers)
    )


def check_tiers_allowed(
    leverage: np.ndarray, max_leverage: np.ndarray, birth_day: np.ndarray, notional: float
) -> None:
    """A tier above what the venue allows for the position size would be a phantom cohort."""
    over = leverage > max_leverage
    if over.any():
        first = int(np.flatnonzero(over)[0])
        raise ValueError(
            f"leverage tier {leverage[first]:g}x exceeds the maximum "
            f"{max_leverage[first]:g}x the maintenance brackets allow for a "
            f"{notional:,.0f} USD position on {birth_day[first]}; remove the tier from the "
            "leverage mix (leverage_tiers.json) or add the venue's bracket snapshot"
        )


def fold_to_venue_max(
    tier_index: np.ndarray, tiers: np.ndarray, max_leverage: np.ndarray
) -> np.ndarray:
    """On a venue whose tier table allows less than a tier of the (Binance-shaped) mix, that
    share trades at the highest mix tier the venue allows: Bybit's and OKX's BTCUSDT stop at
    100x, so the 125x share is counted at 100x there, not dropped (the mix stays whole)."""
    allowed = np.searchsorted(tiers, max_leverage, side="right") - 1
    return np.where(tiers[tier_index] > max_leverage, np.maximum(allowed, 0), tier_index)
