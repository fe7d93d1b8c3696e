"""The aggregated map's venues in the briefing: its label, the per-venue split of the
±2 %/±5 % bands and the coverage sentence (which venues, their share of all-market OI).

Pure. The split uses each venue's stored bins against the aggregate's P0 with the same bin
rule as the key levels (transforms/liqmap/key_levels.py), so the venues' rows sum exactly to
the aggregate's ±2 %/±5 % figures shown beside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from reports.formatting import base_asset, pct, usd
from reports.tables import Table
from transforms.liqmap.aggregate import aggregate_label
from transforms.venue_margin import VENUE_LABELS

BANDS = (2, 5)
EPS = 1e-9


@dataclass
class VenueCoverage:
    """One symbol's aggregated map: its venues, those asked for but left out (with why),
    each venue's 7d bins of the date and open interest (USD) at the snapshot."""

    members: list[str]
    absent: dict[str, str] = field(default_factory=dict)
    bins: dict[str, pd.DataFrame] = field(default_factory=dict)
    oi_usd: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return aggregate_label(self.members)


def band_totals(bins: pd.DataFrame, p0: float) -> dict[str, float]:
    """Long notional in bins starting in [p0·(1 − b), p0), short in bins ending in
    (p0, p0·(1 + b)], for each band b (the key levels' rule)."""
    out = {}
    if bins.empty:
        return {f"{side}_{b}": 0.0 for side in ("long", "short") for b in BANDS}
    longs, shorts = bins[bins["side"] == "long"], bins[bins["side"] == "short"]
    for b in BANDS:
        lo, hi = p0 * (1 - b / 100), p0 * (1 + b / 100)
        in_long = (longs["bin_lo"] >= lo - EPS) & (longs["bin_lo"] < p0)
        in_short = (shorts["bin_hi"] > p0) & (shorts["bin_hi"] <= hi + EPS)
        out[f"long_{b}"] = float(longs.loc[in_long, "notional_usd"].sum())
        out[f"short_{b}"] = float(shorts.loc[in_short, "notional_usd"].sum())
    return out


def split_table(coverage: VenueCoverage, p0: float) -> Table:
    """One row per venue and the total: longs at risk −2/−5 %, shorts +2/+5 %, and the
    venue's share of everything within ±5 %."""
    totals = {v: band_totals(coverage.bins.get(v, pd.DataFrame()), p0) for v in coverage.members}
    grand = {k: sum(t[k] for t in totals.values()) for k in next(iter(totals.values()), {})}
    both5 = grand.get("long_5", 0.0) + grand.get("short_5", 0.0)

    def row(name: str, t: dict[str, float]) -> list[str]:
        share = (t["long_5"] + t["short_5"]) / both5 * 100 if both5 > 0 else math.nan
        cells = [usd(t[f"{side}_{b}"]) for side in ("long", "short") for b in BANDS]
        return [name, *cells, pct(share, 0, signed=False) if math.isfinite(share) else "—"]

    rows = [row(VENUE_LABELS[v], totals[v]) for v in coverage.members]
    rows.append(row(coverage.label, grand))
    return Table(
        ["Venue", "Longs −2 %", "Longs −5 %", "Shorts +2 %", "Shorts +5 %", "Share of ±5 %"], rows
    )


def coverage_sentence(symbol: str, coverage: VenueCoverage, all_market_oi: float) -> str:
    """ "Book mapped: Binance + Bybit + OKX BTCUSDT perpetuals ($8.1B open interest, 31.2 %
    of all-market BTC open interest)." and, for a venue left out, which and why."""
    coin = base_asset(symbol)
    values = [coverage.oi_usd.get(v, math.nan) for v in coverage.members]
    held = sum(values) if all(math.isfinite(v) for v in values) else math.nan  # never a part
    parts = [f"{usd(held)} open interest"] if held > 0 else []
    if held > 0 and math.isfinite(all_market_oi) and all_market_oi > 0:
        parts.append(f"{held / all_market_oi * 100:.1f} % of all-market {coin} open interest")
    detail = f" ({', '.join(parts)})" if parts else ""
    text = f"Book mapped: {coverage.label} {symbol} perpetuals{detail}."
    if coverage.absent:
        names = ", ".join(VENUE_LABELS.get(v, v) for v in coverage.absent)
        text += f" Missing: {names} — not in these figures (see data coverage)."
    return text


def absent_warnings(coverage: VenueCoverage) -> list[str]:
    """One data-coverage line per venue left out of the aggregated map, with its reason."""
    return [
        f"{VENUE_LABELS.get(v, v)} left out of the {coverage.label} map: {why}"
        for v, why in coverage.absent.items()
    ]
