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
from itertools import pairwise

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
HOUR_US = 3_600_000_000


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
    # every map of a common date takes its grid from the reference venue: Binance first
    maps = [(day, i, w) for day in sorted(common) for i, w in enumerate(WINDOW_NAMES)]
    references = [rows[venues[0]][(day, window)] for day, _, window in maps]
    grid = _reference_grids(references, config)
    cells = _cells_by_venue(by_venue, venues, maps, out.tiers)
    summed_maps, blocks = _summed(cells, grid, out.tiers)
    for (day, window_index, window), reference, size, summed_cells, block in zip(
        maps, references, grid[0].tolist(), summed_maps, blocks, strict=True
    ):
        k, side, tier, usd = summed_cells
        out.bins.append((day, window_index, k * size, (k + 1) * size, side, tier, usd))
        summed = [rows[v][(day, window)] for v in venues]
        out.summary_rows.append(_summary_row(reference, summed, block, symbol, config))
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


def _cells_by_venue(by_venue, venues, maps, tiers) -> tuple[np.ndarray, ...]:
    """Every venue's cells in the maps asked for, as flat arrays (map number, bin_lo, side,
    union tier, notional), venue by venue in VENUES order: the order cells are added in."""
    number = {(day, window_index): m for m, (day, window_index, _) in enumerate(maps)}
    pieces = []
    for v in venues:
        union_tier = np.searchsorted(tiers, np.asarray(by_venue[v].tiers))  # venue → union
        for day, window_index, lo, _hi, side, tier, usd in by_venue[v].bins:
            m = number.get((day, window_index))
            if m is not None:
                pieces.append((np.full(len(lo), m), lo, side, union_tier[tier], usd))
    if not pieces:
        return np.zeros(0, np.int64), np.zeros(0), *[np.zeros(0, np.int64)] * 2, np.zeros(0)
    return tuple(np.concatenate([p[i] for p in pieces]) for i in range(5))


def _reference_grids(references, config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per map the reference bin size and the bins of its ±range around P0 (a map's curves
    span at least these, also where no venue has a cell)."""
    sizes = np.array([float(r["bin_size"]) for r in references])
    p0 = np.array([float(r["p0"]) for r in references])
    lo = [int(np.floor(p * (1 - config.range_pct) / s)) for p, s in zip(p0, sizes, strict=True)]
    hi = [int(np.floor(p * (1 + config.range_pct) / s)) for p, s in zip(p0, sizes, strict=True)]
    return sizes, np.array(lo, np.int64), np.array(hi, np.int64)


def _summed(cells, grid, tiers: np.ndarray) -> tuple[list, list]:
    """Per map, (bin index, side, tier, notional) of its non-empty summed cells in cell order,
    and its dense (bin, side, tier) block with the first bin's index.

    All maps in one bincount: each map owns a dense block of (bin, side, tier) slots from its
    lowest to its highest bin (at least its ±range), so a cell's slot is block offset + its
    place in the block; a slot adds its cells in input order (Binance, Bybit, OKX), as a
    per-map sum would; the blocks are the maps' cells for their key levels."""
    number, lo, side, tier, usd = cells
    sizes, first, last = (a.copy() for a in grid)
    n_tiers = max(len(tiers), 1)
    k = np.floor(np.asarray(lo, float) / sizes[number] + 1e-9).astype(np.int64)
    np.minimum.at(first, number, k)
    np.maximum.at(last, number, k)
    width = (last - first + 1) * 2 * n_tiers
    offset = np.concatenate([[0], np.cumsum(width)])
    key = offset[number] + ((k - first[number]) * 2 + side.astype(np.int64)) * n_tiers + tier
    total = np.bincount(key, weights=np.asarray(usd, float), minlength=int(offset[-1]))
    slots = np.flatnonzero(total)
    owner = np.searchsorted(offset, slots, side="right") - 1
    place = slots - offset[owner]
    columns = (first[owner] + place // (2 * n_tiers), (place // n_tiers) % 2, place % n_tiers)
    bounds = np.searchsorted(owner, np.arange(len(sizes) + 1), side="left").tolist()
    starts, ends = offset[:-1].tolist(), offset[1:].tolist()
    summed = [(*(c[a:b] for c in columns), total[slots[a:b]]) for a, b in pairwise(bounds)]
    blocks = [
        (int(f), total[a:b].reshape(-1, 2, n_tiers))
        for f, a, b in zip(first.tolist(), starts, ends, strict=True)
    ]
    return summed, blocks


def _summary_row(reference, rows, block, symbol, config) -> dict:
    """Key levels of the summed cells on the reference P0; coverage and estimates summed."""
    first, cells = block
    size, p0 = float(reference["bin_size"]), float(reference["p0"])
    edges = (first + np.arange(len(cells) + 1)) * size
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
        hours, hour_index = _hour_index(hour)
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


def _hour_index(hour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hours present and each cell's rank among them (np.unique's answer): the heatmaps
    are hourly, so arithmetic on the hour replaces sorting every cell's hour."""
    start = int(hour.min())
    offset = hour - start
    if (offset % HOUR_US).any():  # not on one hourly grid: sort
        return np.unique(hour, return_inverse=True)
    index = offset // HOUR_US
    present = np.zeros(int(index.max()) + 1, bool)
    present[index] = True
    return start + np.flatnonzero(present) * HOUR_US, (np.cumsum(present) - 1)[index]
