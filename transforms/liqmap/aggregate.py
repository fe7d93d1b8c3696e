"""The aggregated map: the venues' bins summed on one price grid, key levels from the sums.

Every venue's map of a date uses bins k·size (size from the symbol's grid, $100 for BTC), so
the venues' bins already share edges and summing them bin by bin loses nothing. The date's P0,
round thresholds and ±range are the reference venue's: Binance's when it has that date's map
(the deepest book of the three and the archive the history comes from), else the first of
Bybit, OKX that has one. Bins of every venue are kept, also those just outside the reference
range (their P0s differ by dollars), so the aggregate's totals equal the venues' totals.
A date is aggregated only if every venue asked for has its map ("Binance + Bybit + OKX" must
hold all three); otherwise it is missing, with the reason.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from transforms.liqmap.config import ModelConfig, grid_for
from transforms.liqmap.key_levels import key_levels
from transforms.liqmap.map_tables import LiquidationMaps
from transforms.liqmap.snapshots import SIDES
from transforms.venue_margin import VENUE_LABELS, VENUES

AGGREGATE_VENUE = "all"
SUMMED_COLUMNS = (
    "est_liquidated_long_usd", "est_liquidated_short_usd", "est_liquidated_usd",
    "oi_missing_bars", "kline_missing_bars", "shrink_clamped_bars",
    "mark_fallback_minutes", "price_missing_minutes",
)  # fmt: skip


def aggregate_label(venues: list[str] | tuple[str, ...] = VENUES) -> str:
    """ "Binance + Bybit + OKX": how the aggregated map is named everywhere."""
    return " + ".join(VENUE_LABELS[v] for v in VENUES if v in venues)


def aggregate_maps(
    by_venue: dict[str, LiquidationMaps], symbol: str, config: ModelConfig | None = None
) -> LiquidationMaps:
    """The venues' maps of each date every venue has, summed bin by bin (pure)."""
    config = config or ModelConfig()
    venues = [v for v in VENUES if v in by_venue]
    dated = {
        v: set(by_venue[v].summary["date"]) if len(by_venue[v].summary) else set() for v in venues
    }
    common = set.intersection(*dated.values()) if venues else set()
    missing = _missing(by_venue, venues, dated, common)
    reference = {
        day: next(v for v in venues if day in dated[v]) for day in common
    }  # Binance first (VENUES order)
    ref_rows = pd.concat(
        [_rows_of(by_venue[v].summary, [d for d, r in reference.items() if r == v]) for v in venues]
    ) if venues else pd.DataFrame()  # fmt: skip
    size = (
        ref_rows.drop_duplicates("date").set_index("date")["bin_size"].to_dict()
        if len(ref_rows)
        else {}
    )
    bins = _summed_bins(by_venue, venues, common, size, symbol)
    heat = _summed_heatmap(by_venue, venues, common, size, symbol)
    summary = _summary(bins, ref_rows, by_venue, venues, common, symbol, config)
    return LiquidationMaps(bins, summary, heat, missing)


def _rows_of(frame: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    return frame[frame["date"].isin(days)] if len(frame) else frame


def _missing(by_venue, venues, dated, common) -> dict[date, str]:
    """Each date some venue lacks: which venue and why (its own reason if it gave one)."""
    missing: dict[date, str] = {}
    for day in sorted(
        set().union(*dated.values(), *(by_venue[v].missing for v in venues)) - common
    ):
        absent = [v for v in venues if day not in dated[v]]
        reasons = [f"{v}: {by_venue[v].missing.get(day, 'no map')}" for v in absent]
        missing[day] = f"no {aggregate_label(venues)} map: " + "; ".join(reasons)
    return missing


def _on_grid(frame: pd.DataFrame, size: dict) -> pd.DataFrame:
    """Each row's bin index on its date's grid (exact when the venues share the bin size)."""
    step = frame["date"].map(size).astype(float)
    return frame.assign(k=np.floor(frame["bin_lo"] / step + 1e-9).astype(np.int64), step=step)


def _summed_bins(by_venue, venues, common, size, symbol) -> pd.DataFrame:
    parts = [_rows_of(by_venue[v].bins, list(common)) for v in venues]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if not len(frame):
        return frame
    keys = ["date", "window", "k", "side", "tier"]
    summed = (
        _on_grid(frame, size)
        .groupby(keys, sort=True, as_index=False)
        .agg(notional_usd=("notional_usd", "sum"), step=("step", "first"))
    )
    return pd.DataFrame(
        {
            "date": summed["date"], "symbol": symbol, "venue": AGGREGATE_VENUE,
            "window": summed["window"], "bin_lo": summed["k"] * summed["step"],
            "bin_hi": (summed["k"] + 1) * summed["step"], "side": summed["side"],
            "tier": summed["tier"], "notional_usd": summed["notional_usd"],
        }
    )  # fmt: skip


def _summed_heatmap(by_venue, venues, common, size, symbol) -> pd.DataFrame:
    parts = [_rows_of(by_venue[v].heatmap, list(common)) for v in venues]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame()
    keys = ["date", "hour", "k", "side"]
    summed = (
        _on_grid(pd.concat(parts, ignore_index=True), size)
        .groupby(keys, sort=True, as_index=False)
        .agg(notional_usd=("notional_usd", "sum"), step=("step", "first"))
    )
    return pd.DataFrame(
        {
            "date": summed["date"], "symbol": symbol, "venue": AGGREGATE_VENUE,
            "hour": summed["hour"], "bin_lo": summed["k"] * summed["step"],
            "bin_hi": (summed["k"] + 1) * summed["step"], "side": summed["side"],
            "notional_usd": summed["notional_usd"],
        }
    )  # fmt: skip


def _summary(bins, ref_rows, by_venue, venues, common, symbol, config) -> pd.DataFrame:
    """One row per date and window: key levels of the summed cells on the reference P0."""
    if not len(ref_rows):
        return pd.DataFrame()
    all_rows = pd.concat([_rows_of(by_venue[v].summary, list(common)) for v in venues])
    sums = all_rows.groupby(["date", "window"])[list(SUMMED_COLUMNS)].sum()
    sources = "; ".join(
        f"{v}: {s}"
        for v in venues
        for s in by_venue[v].summary.get("brackets_source", pd.Series()).unique()[:1]
    )
    tiers = np.sort(bins["tier"].unique()) if len(bins) else np.zeros(0, np.int64)
    by_key = dict(tuple(bins.groupby(["date", "window"]))) if len(bins) else {}
    rows = []
    for ref in ref_rows.itertuples(index=False):
        cells, edges = _dense(by_key.get((ref.date, ref.window)), tiers, ref, config)
        round_step = grid_for(symbol, ref.p0, config)[1]
        row = {"date": ref.date, "symbol": symbol, "venue": AGGREGATE_VENUE, "window": ref.window}
        row |= key_levels(cells, edges, ref.p0, round_step)
        row |= sums.loc[(ref.date, ref.window)].to_dict()
        row |= {"p0_from_last_price": ref.p0_from_last_price, "bin_size": ref.bin_size}
        row["brackets_source"] = sources
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["date", "window"], kind="stable", ignore_index=True)


def _dense(cells_frame, tiers, ref, config) -> tuple[np.ndarray, np.ndarray]:
    """(bin, side, tier) cells from the reference P0 ± range, widened to every summed bin."""
    size = float(ref.bin_size)
    lo = int(np.floor(ref.p0 * (1 - config.range_pct) / size))
    hi = int(np.floor(ref.p0 * (1 + config.range_pct) / size))
    if cells_frame is not None and len(cells_frame):
        k = np.floor(cells_frame["bin_lo"].to_numpy(float) / size + 1e-9).astype(np.int64)
        lo, hi = min(lo, int(k.min())), max(hi, int(k.max()))
    cells = np.zeros((hi - lo + 1, 2, max(len(tiers), 1)))
    if cells_frame is not None and len(cells_frame):
        side = np.where(cells_frame["side"].to_numpy() == SIDES[0], 0, 1)
        tier = np.searchsorted(tiers, cells_frame["tier"].to_numpy())
        np.add.at(cells, (k - lo, side, tier), cells_frame["notional_usd"].to_numpy(float))
    return cells, (lo + np.arange(hi - lo + 2)) * size
