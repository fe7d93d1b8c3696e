"""The briefing's venue inputs for an aggregated map: each member venue's 7d bins of the
date and its open interest at the snapshot (the last 5-minute reading of D − 1)."""

from __future__ import annotations

import math
from datetime import date, timedelta

from reports.venues import VenueCoverage
from store.datasets import map_dataset, market_dataset
from store.lake import Lake

WINDOW = "7d"


def venue_coverage(lake: Lake, day: date, symbol: str, coverage: dict) -> VenueCoverage:
    """``coverage`` is the daily job's {"members": [...], "absent": {venue: why}}."""
    members = list(coverage["members"])
    bins, oi = {}, {}
    for venue in members:
        frame = lake.read(map_dataset(venue, "liqmap_bins"), symbol, day, day)
        bins[venue] = frame[frame["window"] == WINDOW]
        oi[venue] = snapshot_oi_usd(lake, venue, symbol, day)
    return VenueCoverage(members, dict(coverage.get("absent", {})), bins, oi)


def snapshot_oi_usd(lake: Lake, venue: str, symbol: str, day: date) -> float:
    """The venue's open interest in USD at 00:00 UTC of ``day`` (NaN when not stored)."""
    yesterday = day - timedelta(days=1)
    ds = market_dataset(venue, "metrics")
    frame = lake.read(ds, symbol, yesterday, yesterday, [ds.time_column, "sum_open_interest_value"])
    values = frame.sort_values(ds.time_column)["sum_open_interest_value"].dropna()
    return float(values.iloc[-1]) if len(values) else math.nan
