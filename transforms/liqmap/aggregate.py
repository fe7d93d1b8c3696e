"""The aggregated map: the venues' bins summed on one price grid, key levels from the sums.

Every venue's map of a date uses bins k·size (size from the symbol's grid, $100 for BTC), so
the venues' bins already share edges and summing them bin by bin loses nothing. The date's P0,
round thresholds and ±range are the reference venue's: Binance's when it has that date's map
(the deepest book of the three and the archive the history comes from), else the first of
Bybit, OKX that has one. Bins of every venue are kept, also those just outside the reference
range (their P0s differ by dollars), so the aggregate's totals equal the venues' totals.
A date is aggregated only if every venue asked for has its map ("Binance + Bybit + OKX" must
hold all three) and every venue's P0 is within ``PRICE_AGREEMENT_PCT`` of the reference's
(one market: a venue whose price is further off has bad inputs, and its bins would sit far
from the grid the key levels are read on); otherwise it is missing, with the reason.

It sums the engine's MapParts (each map's grid, before any frame is built): a few array
additions per map, not a group-by over the venues' frames, and no venue's non-empty cells
are listed just to be summed (bench/venues_map.py).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from transforms.liqmap.config import WINDOWS, ModelConfig, grid_for
from transforms.liqmap.map_tables import MapGrid, MapParts
from transforms.venue_margin import VENUE_LABELS, VENUES

AGGREGATE_VENUE = "all"
SOURCES_SEPARATOR = "; "  # between the venues' "venue: tier file" in brackets_source
SUMMED_COLUMNS = (
    "est_liquidated_long_usd", "est_liquidated_short_usd", "est_liquidated_usd",
    "oi_missing_bars", "kline_missing_bars", "shrink_clamped_bars",
    "mark_fallback_minutes", "price_missing_minutes",
)  # fmt: skip
WINDOW_NAMES = list(WINDOWS)
PRICE_AGREEMENT_PCT = 2.0  # venues' marks differ by a few basis points, in a crash by ~1 %


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
    grids = {v: {(g.day, g.window_index): g for g in by_venue[v].grids} for v in venues}
    disagreeing = _price_disagreements(grids, venues, common)
    out.missing |= disagreeing
    common -= set(disagreeing)
    to_union = {v: _union_index(out.tiers, by_venue[v].tiers) for v in venues}
    for day in sorted(common):
        for window_index, window in enumerate(WINDOW_NAMES):
            placed = [(grids[v][(day, window_index)], to_union[v]) for v in venues]
            reference, summed = placed[0][0], [rows[v][(day, window)] for v in venues]
            size = summed[0]["bin_size"]
            edges, cells = _summed_grid(placed, reference, size, len(out.tiers), config)
            step = grid_for(symbol, reference.p0, config)[1]
            out.grids.append(MapGrid(day, window_index, edges, cells, reference.p0, step))
            out.summary_rows.append(_summary_row(summed, symbol))
    out.heat = _summed_heat(by_venue, venues, common, rows)
    return out


def _price_disagreements(grids: dict, venues: list[str], common: set[date]) -> dict[date, str]:
    """Each date a venue's P0 is more than PRICE_AGREEMENT_PCT from the reference venue's,
    naming it (the daily job leaves a named venue out and maps the others)."""
    if not venues:
        return {}
    reference = venues[0]
    missing: dict[date, str] = {}
    for day in sorted(common):
        p0 = grids[reference][(day, 0)].p0
        off = {v: (grids[v][(day, 0)].p0 / p0 - 1) * 100 for v in venues[1:]}
        far = [
            f"{v}: its price {grids[v][(day, 0)].p0:,.2f} is {pct:+.1f} % from "
            f"{VENUE_LABELS[reference]}'s {p0:,.2f}, not the same market: check {v}'s inputs"
            for v, pct in off.items()
            if abs(pct) > PRICE_AGREEMENT_PCT
        ]
        if far:
            missing[day] = f"no {aggregate_label(venues)} map: " + "; ".join(far)
    return missing


def _union_index(union: np.ndarray, tiers: np.ndarray) -> slice | np.ndarray:
    """Where a venue's tiers sit among the union's: all of them (a slice, the usual case:
    every venue runs the same mix) or their positions."""
    if np.array_equal(union, tiers):
        return slice(None)
    return np.searchsorted(union, np.asarray(tiers))


def _missing(by_venue, venues, dated, common) -> dict[date, str]:
    """Each date some venue lacks: which venue and why (its own reason if it gave one)."""
    missing: dict[date, str] = {}
    asked = set().union(*dated.values(), *(by_venue[v].missing for v in venues))
    for day in sorted(asked - common):
        absent = [v for v in venues if day not in dated[v]]
        reasons = [f"{v}: {by_venue[v].missing.get(day, 'no map')}" for v in absent]
        missing[day] = f"no {aggregate_label(venues)} map: " + "; ".join(reasons)
    return missing


def _summed_grid(
    placed: list, reference: MapGrid, size: float, n_tiers: int, config: ModelConfig
) -> tuple[np.ndarray, np.ndarray]:
    """One map's venues summed on the reference bins k·size: (edges, cells of shape (bins,
    2, tiers)), over the reference ±range and every venue's grid (their P0s differ by
    dollars, so a venue's edge bins are kept). A slot adds the venues in VENUES order."""
    size, p0 = float(size), reference.p0
    first = int(np.floor(p0 * (1 - config.range_pct) / size))
    last = int(np.floor(p0 * (1 + config.range_pct) / size))
    spans = []
    for grid, union_tier in placed:
        edges, cells = grid.edges, grid.cells
        if isinstance(union_tier, np.ndarray):  # this venue lacks some of the union's tiers
            widened = np.zeros((*cells.shape[:2], n_tiers))
            widened[:, :, union_tier] = cells
            cells = widened
        spans.append((_reference_bins(edges, size), cells))
    first, block = _summed_on_bins(spans, (2, n_tiers), at_least=(first, last))
    return (first + np.arange(len(block) + 1)) * size, block


def _reference_bins(edges: np.ndarray, size: float) -> np.ndarray:
    """The reference bin k (k·size … + size) each of a venue's bins lies in."""
    return np.floor(edges[:-1] / size + 1e-9).astype(np.int64)


def _summed_on_bins(spans: list, shape: tuple, at_least: tuple = ()) -> tuple[int, np.ndarray]:
    """(first bin, block): the spans (reference bins, cells with bins on axis 0) added in
    order into one block from the lowest to the highest bin of the spans and ``at_least``.

    With the reference bin size (every BTCUSDT map) a venue's bins are a run of reference
    bins, added as one slice; with another, several may share a reference bin (np.add.at)."""
    spans = [(k, cells) for k, cells in spans if len(k)]
    ends = [*at_least, *(int(k[0]) for k, _ in spans), *(int(k[-1]) for k, _ in spans)]
    first, last = (min(ends), max(ends)) if ends else (0, -1)
    block = np.zeros((last - first + 1, *shape))
    for k, cells in spans:
        if k[-1] - k[0] == len(k) - 1:
            block[k[0] - first : k[-1] - first + 1] += cells
        else:
            np.add.at(block, k - first, cells)
    return first, block


def _summary_row(rows: list[dict], symbol: str) -> dict:
    """The venues' rows of a map (the reference venue's first) summed: coverage and
    estimates; the key levels are read off the summed grid with the frames."""
    reference = rows[0]
    row = {"date": reference["date"], "symbol": symbol, "venue": AGGREGATE_VENUE}
    row["window"] = reference["window"]
    row |= {c: sum(r[c] for r in rows) for c in SUMMED_COLUMNS}
    size = float(reference["bin_size"])
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


def map_members(row: dict) -> list[str]:
    """The venues a stored summary row's map holds: its own, or an aggregated map's members
    as its brackets source names them (all three if it names none)."""
    venue = row.get("venue", "binance")
    if venue != AGGREGATE_VENUE:
        return [venue]
    return aggregate_members(str(row.get("brackets_source", ""))) or list(VENUES)


def _summed_heat(by_venue, venues, common, rows) -> list:
    """Each common date's 7-day heatmap summed over the venues on the reference venue's bins
    (a date some venue has no heatmap for is not summed). Every venue's heatmap of a date
    has the same hours: the 168 before its snapshot."""
    by_day: dict[date, list] = {}
    for v in venues:
        for part in by_venue[v].heat:
            if part[0] in common:
                by_day.setdefault(part[0], []).append(part)
    out = []
    for day, parts in sorted(by_day.items()):
        if len(parts) != len(venues):
            continue
        hours = parts[0][1]
        if any(not np.array_equal(p[1], hours) for p in parts):
            raise ValueError(f"the venues' heatmaps of {day} are not on the same hours")
        size = float(rows[venues[0]][(day, "7d")]["bin_size"])
        # bins on axis 0 for the sum: (bins, hours, side) views of (hours, bins, side)
        spans = [
            (_reference_bins(edges, size), cells.transpose(1, 0, 2)) for _, _, edges, cells in parts
        ]
        first, block = _summed_on_bins(spans, (len(hours), 2))
        edges = (first + np.arange(len(block) + 1)) * size
        out.append((day, hours, edges, np.ascontiguousarray(block.transpose(1, 0, 2))))
    return out
