"""The executive summary's sentences, chosen from the map's numbers (never hard-coded).

"If BTC drops below 93,000, estimated long liquidation intensity reaches $1.06B; above
97,000 shorts hold $248M (±5 %: 2.6 : 1, long-heavy). Largest long cluster 89,000 ($1.13B)."

The book's lean is the one the key-level table and the terminal show, C_L : C_S at ±5 %
(the same distance on both sides): the two round levels quoted before it can sit at
different distances from price (−2.8 % against +1.7 %), so their ratio would tilt the lean.
The clusters are the largest bins of each side, not the nearest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reports.formatting import base_asset, pct, price, usd

HEADLINE_DISTANCE_PCT = 2.5  # the round threshold nearest this distance carries the headline
HEAVY_RATIO = 1.5


@dataclass(frozen=True)
class Headline:
    below: float
    long_usd: float
    above: float
    short_usd: float


def headline_levels(summary: dict) -> Headline:
    """Pick the round thresholds (one below, one above P0) nearest 2.5 % from price."""
    p0 = summary["p0"]

    def nearest(side: str) -> int:
        key = "round_below_{}" if side == "below" else "round_above_{}"
        return min(
            (1, 2, 3),
            key=lambda k: abs(abs(summary[key.format(k)] / p0 - 1) * 100 - HEADLINE_DISTANCE_PCT),
        )

    kb, ka = nearest("below"), nearest("above")
    return Headline(
        summary[f"round_below_{kb}"], summary[f"cum_long_round_below_{kb}"],
        summary[f"round_above_{ka}"], summary[f"cum_short_round_above_{ka}"],
    )  # fmt: skip


def lean_text(summary: dict) -> str:
    """The map's ``imbalance_5pct`` (C_L : C_S at ±5 %) and what it says ("±5 %: 2.6 : 1,
    long-heavy"); an empty side is named instead of a ratio."""
    longs, shorts = summary["cum_long_5pct"], summary["cum_short_5pct"]
    if shorts <= 0 and longs <= 0:
        return "no estimated positions within ±5 %"
    if shorts <= 0:
        return "no shorts at risk within +5 %"
    if longs <= 0:
        return "no longs at risk within −5 %"
    ratio = summary["imbalance_5pct"]
    text = f"{ratio:.1f} : 1" if ratio >= 1 else f"1 : {1 / ratio:.1f}"
    lean = "balanced"
    if ratio >= HEAVY_RATIO:
        lean = "long-heavy"
    elif ratio <= 1 / HEAVY_RATIO:
        lean = "short-heavy"
    return f"±5 %: {text}, {lean}"


def _bin_floor(summary: dict, side: str) -> float:
    """A cluster is quoted at its bin's lower edge (89,000 for the 89,000–89,100 bin)."""
    return summary[f"{side}_cluster_price"] - summary.get("bin_size", 0.0) / 2


def summary_sentences(symbol: str, summary: dict) -> list[str]:
    """Two or three sentences for one symbol from its 7-day map summary row."""
    name = base_asset(symbol)
    h = headline_levels(summary)
    sentences = [
        f"If {name} drops below {price(h.below)}, estimated long liquidation intensity reaches "
        f"{usd(h.long_usd)}; above {price(h.above)} shorts hold {usd(h.short_usd)} ({lean_text(summary)})."
    ]
    clusters = []
    if summary["long_cluster_usd"] > 0:
        clusters.append(
            f"Largest long cluster {price(_bin_floor(summary, 'long'))} ({usd(summary['long_cluster_usd'])}, "
            f"{pct(summary['long_cluster_distance_pct'])})"
        )
    if summary["short_cluster_usd"] > 0:
        clusters.append(
            f"largest short cluster {price(_bin_floor(summary, 'short'))} ({usd(summary['short_cluster_usd'])}, "
            f"{pct(summary['short_cluster_distance_pct'])})"
        )
    if clusters:
        sentences.append("; ".join(clusters) + ".")
    liquidated = summary.get("est_liquidated_usd", math.nan)
    if liquidated == liquidated and liquidated > 0:
        sentences.append(
            f"The model liquidated an estimated {usd(liquidated)} in the last 24 h "
            f"({usd(summary['est_liquidated_long_usd'])} long, {usd(summary['est_liquidated_short_usd'])} short)."
        )
    return sentences


def records_sentence(
    symbol: str, records: dict[str, dict], metric: str = "oi_usd", venue: str = ""
) -> str | None:
    """ "OI is 12 % below its record of $235.9B set on 2025-10-06" (or "at a record");
    ``venue`` ("Binance") names the book when the page's map sums several."""
    row = records.get(metric)
    if not row or row["value"] != row["value"] or not row["all_time_date"]:
        return None
    label = {"oi_usd": "Open interest", "quote_volume_24h": "24 h volume"}.get(metric, metric)
    name = f"{venue} {base_asset(symbol)}".strip()
    if row["rank"] == 1:
        return f"{name} {label.lower()} is at a record: {usd(row['value'])}."
    below = 100 - row["pct_of_record"]
    return (
        f"{name} {label.lower()} is {below:.0f} % below its record of {usd(row['all_time_max'])} "
        f"set on {row['all_time_date']:%d %b %Y} (rank {row['rank']} of {row['days']} days)."
    )
