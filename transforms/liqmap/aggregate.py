"""The aggregated map: the venues' bins summed on one price grid, key levels from the sums.

Every venue's map of a date uses bins k·size (size from the symbol's grid, $100 for BTC), so
the venues' bins already share edges and summing them bin by bin loses nothing. The date's P0,
round thresholds and ±range are the reference venue's: Binance's when it has that date's map
(the deepest book of the three and the archive the history comes from), else the first of
Bybit, OKX that has one. Bins of every venue are kept, also those just outside the reference
range (their P0s differ by dollars), so the aggregate's totals equal the venues' totals.
A date is aggregated only if every venue asked for has its map ("Binance + Bybit + OKX" must
hold all three); otherwise it is missing, with the reason.

It sums the engine's MapParts (arrays per snapshot), before any frame is built: the cost is
a few array operations per map, not a group-by over the venues' frames (bench/venues_map.py).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from transforms.liqmap.config import WINDOWS, ModelConfig, grid_for
from transforms.liqmap.key_levels import key_levels
from transforms.liqmap.map_tables import MapParts
from transforms.venue_margin import VENUE_LABELS, VENUES

AGGREGATE_VENUE = "all"
SOURCES_SEPARATOR = "; "  # between the venues' "venue: tier file" in brackets_source
SUMMED_COLUMNS = (
    "est_liquidated_long_usd", "est_liquidated_short_usd", "est_liquidated_usd",
    "oi_missing_bars", "kline_missing_bars", "shrink_clamped_bars",
    "mark_fallback_minutes", "price_missing_minutes",
)  # fmt: skip
WINDOW_NAMES = list(WINDOWS)


def aggregate_label(venues: list[str] | tuple[str, ...] = VENUES) -> str:
    """How the aggregated map is named everywhere: "Binance + Bybit + OKX"."""
    return " + ".join(VENUE_LABELS[v] for v in VENUES if v in venues)


def aggregate_parts(
    by_venue: dict[str, MapParts], symbol: str, config: ModelConfig | None = None
) -> MapParts:
    """The venues' maps of each date every venue has, summed bin by bin (pure); build the
    frames with ``.frames(symbol, "all")``."""
    config = config or ModelConfig()
    venues = [v for v in VENUES if v in by_venue]
    rows = {v: {(r["date"], r["window"]): r for r in by_venue[v].summary_rows} for v in venues}
    dated = {v: {day for day, _ in rows[v]} for v in venues}
    common = set.intersection(*dated.values()) if venues else set()
    tiers = np.unique(np.concatenate([by_venue[v].tiers for v in venues])) if venues else []
    out = MapParts(np.asarray(tiers, np.int64))
    out.missing = _missing(by_venue, venues, dated, common)
    bins = _bins_by_map(by_venue, venues, common, out.tiers)
    for day in sorted(common):
        ref = next(v for v in venues if day in dated[v])  # Binance first (VENUES order)
        for window_index, window in enumerate(WINDOW_NAMES):
            reference = rows[ref][(day, window)]
            size = float(reference["bin_size"])
            k, side, tier, usd = _summed(bins.get((day, window_index), []), size, len(out.tiers))
            out.bins.append((day, window_index, k * size, (k + 1) * size, side, tier, usd))
            summed = [rows[v][(day, window)] for v in venues]
            out.summary_rows.append(
                _summary_row(
                    reference, summed, (k, side, tier, usd), len(out.tiers), symbol, config
                )
            )
    out.heat = _summed_heat(by_venue, venues, common, rows)
    return out


def _missing(by_venue, venues, dated, common) -> dict[date, str]:
    """Each date some venue lacks: which venue and why (its own reason if it gave one)."""
    missing: dict[date, str] = {}
    asked = set().union(*dated.values(), *(by_venue[v].missing for v in venues))
    for day in sorted(asked - common):
        absent = [v for v in venues if day not in dated[v]]
        reasons = [f"{v}: {by_venue[v].missing.get(day, 'no map')}" for v in absent]
        missing[day] = f"no {aggregate_label(venues)} map: " + "; ".join(reasons)
    return missing


def _bins_by_map(by_venue, venues, common, tiers) -> dict[tuple, list]:
    """Each (date, window) map's cells of every venue: (bin_lo, side, union tier, notional)."""
    by_map: dict[tuple, list] = {}
    for v in venues:
        venue_tiers = np.asarray(by_venue[v].tiers)
        for day, window_index, lo, _hi, side, tier, usd in by_venue[v].bins:
            if day in common:
                union_tier = np.searchsorted(tiers, venue_tiers[np.asarray(tier, np.int64)])
                by_map.setdefault((day, window_index), []).append((lo, side, union_tier, usd))
    return by_map


def _summed(parts: list, size: float, n_tiers: int) -> tuple[np.ndarray, ...]:
    """(bin index, side, tier, notional) of the non-empty summed cells, in cell order."""
    empty = np.zeros(0, np.int64)
    lo, side, tier, usd = (
        (np.concatenate([p[i] for p in parts]) for i in range(4)) if parts else [empty] * 4
    )
    if not len(lo):  # no venue has a cell in this map
        return empty, empty, empty, np.zeros(0)
    k = np.floor(np.asarray(lo, float) / size + 1e-9).astype(np.int64)
    first = int(k.min())
    key = ((k - first) * 2 + np.asarray(side, np.int64)) * n_tiers + np.asarray(tier, np.int64)
    total = np.bincount(key, weights=np.asarray(usd, float))  # dense over the map's bins
    cells = np.flatnonzero(total)
    return first + cells // (2 * n_tiers), (cells // n_tiers) % 2, cells % n_tiers, total[cells]


def _summary_row(reference, rows, summed, n_tiers, symbol, config) -> dict:
    """Key levels of the summed cells on the reference P0; coverage and estimates summed."""
    k, side, tier, usd = summed
    size, p0 = float(reference["bin_size"]), float(reference["p0"])
    lo = int(np.floor(p0 * (1 - config.range_pct) / size))
    hi = int(np.floor(p0 * (1 + config.range_pct) / size))
    if len(k):
        lo, hi = min(lo, int(k.min())), max(hi, int(k.max()))
    cells = np.zeros((hi - lo + 1, 2, max(n_tiers, 1)))
    cells[k - lo, side, tier] = usd  # the cells are distinct
    edges = (lo + np.arange(hi - lo + 2)) * size
    row = {"date": reference["date"], "symbol": symbol, "venue": AGGREGATE_VENUE}
    row["window"] = reference["window"]
    row |= key_levels(cells, edges, p0, grid_for(symbol, p0, config)[1])
    row |= {c: sum(r[c] for r in rows) for c in SUMMED_COLUMNS}
    row |= {"p0_from_last_price": reference["p0_from_last_price"], "bin_size": size}
    sources = [f"{r['venue']}: {r['brackets_source']}" for r in rows if "brackets_source" in r]
    if sources:
        row["brackets_source"] = SOURCES_SEPARATOR.join(sources)
    return row


def aggregate_members(brackets_source: str) -> list[str]:
    """The venues an aggregated summary row sums, read back from its ``brackets_source``
    ("binance: BTCUSDT.csv; bybit: bybit/BTCUSDT.csv": one "venue: file" per venue, as
    ``_summary_row`` writes it), in the aggregate's order."""
    named = {part.split(": ", 1)[0] for part in brackets_source.split(SOURCES_SEPARATOR)}
    return [v for v in VENUES if v in named]


def _summed_heat(by_venue, venues, common, rows) -> list:
    """Each common date's 7-day heatmap summed over the venues that have it for that date,
    on the reference bin size (a date a venue has no heatmap for is not summed)."""
    by_day: dict[date, list] = {}
    for v in venues:
        for part in by_venue[v].heat:
            if part[0] in common:
                by_day.setdefault(part[0], []).append(part)
    out = []
    for day, parts in sorted(by_day.items()):
        if len(parts) != len(venues):
            continue
        size = float(
            next(rows[v][(day, "7d")]["bin_size"] for v in venues if (day, "7d") in rows[v])
        )
        hour, lo, side, usd = (np.concatenate([p[i] for p in parts]) for i in (1, 2, 4, 5))
        if not len(hour):
            continue
        k = np.floor(lo / size + 1e-9).astype(np.int64)
        hours, hour_index = np.unique(hour, return_inverse=True)  # 168 hours: cheap
        k0, width = int(k.min()), int(k.max() - k.min() + 1)
        key = (hour_index * width + (k - k0)) * 2 + np.asarray(side, np.int64)
        total = np.bincount(key, weights=usd)
        cells = np.flatnonzero(total)
        k_cells = k0 + (cells // 2) % width
        out.append(
            (day, hours[cells // (2 * width)], k_cells * size, (k_cells + 1) * size, cells % 2,
             total[cells])
        )  # fmt: skip
    return out
