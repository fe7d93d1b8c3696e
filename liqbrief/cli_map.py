"""`liqbrief map`: one date's liquidation map computed from the lake, printed as key levels
or strict JSON. A date without a fresh price or open interest has no map (its P0 would be
an older price shown as current): the engine says so and which `extract` fills it."""

from __future__ import annotations

from datetime import date

import typer

from liqbrief.cli_params import Window
from liqbrief.json_output import strict_json
from liqbrief.settings import Settings


def print_map(
    symbol: str, snapshot_day: date, window: Window, as_json: bool, venue: str = "binance"
) -> None:
    from flows.liqmap import summary_of
    from store.lake import Lake

    lake = Lake(Settings.from_env().lake)
    row = summary_of(lake, symbol, snapshot_day, window.value, venue)
    if as_json:
        typer.echo(strict_json(row))
        return
    for line in map_lines(symbol, window.value, row):
        typer.echo(line)


def venue_coverage(row: dict) -> str:
    """Whose book the map holds: "Binance only", "Bybit only", "OKX only" or the aggregate
    ("Binance + Bybit + OKX", P0 from Binance)."""
    from transforms.liqmap.aggregate import AGGREGATE_VENUE, aggregate_label, map_members
    from transforms.venue_margin import VENUE_LABELS

    members = map_members(row)
    if row.get("venue") == AGGREGATE_VENUE:
        return f"{aggregate_label(members)}, P0 from {VENUE_LABELS[members[0]]}"
    return f"{VENUE_LABELS[members[0]]} only"


def map_lines(symbol: str, window: str, row: dict) -> list[str]:
    """The key levels of a map summary row, as `map` prints them."""
    lines = [
        f"{symbol} {row['date']} 00:00 UTC, {window} window, P0 {row['p0']:,.2f} "
        f"(estimated — relative intensity, {venue_coverage(row)})"
    ]
    for k in (1, 2, 3):
        lines.append(
            f"  below {row[f'round_below_{k}']:>10,.0f}: longs {row[f'cum_long_round_below_{k}'] / 1e6:10,.1f}M"
            f"   above {row[f'round_above_{k}']:>10,.0f}: shorts {row[f'cum_short_round_above_{k}'] / 1e6:10,.1f}M"
        )
    for pct in (1, 2, 3, 5):
        lines.append(
            f"  ±{pct}%: longs {row[f'cum_long_{pct}pct'] / 1e6:,.1f}M  shorts {row[f'cum_short_{pct}pct'] / 1e6:,.1f}M"
        )
    lines.append(
        f"  largest long cluster {_bin_range(row, 'long')} ({row['long_cluster_usd'] / 1e6:,.1f}M, "
        f"{row['long_cluster_distance_pct']:+.1f}%); short {_bin_range(row, 'short')} "
        f"({row['short_cluster_usd'] / 1e6:,.1f}M, {row['short_cluster_distance_pct']:+.1f}%)"
    )
    lines.append(f"  imbalance (±5%) {row['imbalance_5pct']:.2f} : 1 long/short")
    gaps = coverage_gaps(row, window)
    if gaps:
        lines.append(f"  warning: {gaps} in the {window} window — the map undercounts")
    return lines


def _bin_range(row: dict, side: str) -> str:
    """The largest bin as its price range (the briefing names its lower edge)."""
    centre, half = row[f"{side}_cluster_price"], row["bin_size"] / 2
    return f"{centre - half:,.0f}–{centre + half:,.0f}"


def coverage_gaps(row: dict, window: str) -> str:
    """The inputs missing from a map's window, in words ("" if none)."""
    from transforms.liqmap.aggregate import map_members
    from transforms.liqmap.config import WINDOWS

    days = WINDOWS[window] * len(map_members(row))  # an aggregated map sums its venues' counts
    parts = []
    if row.get("oi_missing_bars", 0):
        parts.append(f"{row['oi_missing_bars']:,} of {days * 288:,} open-interest readings missing")
    if row.get("price_missing_minutes", 0):
        parts.append(f"{row['price_missing_minutes']:,} of {days * 1440:,} price minutes missing")
    return "; ".join(parts)
