"""A complete lake for one briefing date, built through the real code paths (archive mirror →
ingest, liqmap engine, FRED replay → context) — for tests, benchmarks and offline demos."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from sources.fred import SERIES, FredClient
from sources.retry_policy import RetryPolicy
from store.lake import Lake

DATASETS = ["klines_1m", "klines_5m", "mark_klines_1m", "metrics", "funding_rate"]
FAST = RetryPolicy(attempts=2, initial_wait_s=0.01, max_wait_s=0.02)


def synthetic_fred(end: date) -> dict[str, pd.DataFrame]:
    """Plausible FRED series up to ``end`` (daily, weekly and monthly), fixed by seed."""
    days = pd.date_range(date(end.year - 1, 1, 1), end, freq="D")
    business = days[days.day_of_week < 5]
    months = pd.date_range(date(end.year - 1, 1, 1), end, freq="MS")
    levels = {
        "DFF": 5.33,
        "DFEDTARU": 5.5,
        "DFEDTARL": 5.25,
        "DGS2": 4.3,
        "DGS10": 4.1,
        "VIXCLS": 14.0,
        "SP500": 4800.0,
    }
    out = {}
    for k, (series, level) in enumerate(levels.items()):
        index = days if series.startswith("DFEDTAR") or series == "DFF" else business
        drift = (
            np.random.default_rng(k)
            .normal(0, 0.01 * (level if series in ("SP500", "VIXCLS") else 1), len(index))
            .cumsum()
        )
        values = np.full(len(index), level) if series.startswith("DFEDTAR") else level + drift
        out[series] = pd.DataFrame(
            {"date": index.strftime("%Y-%m-%d"), "value": np.round(values, 2)}
        )
    weekly = days[days.day_of_week == 4]
    out["DTWEXBGS"] = pd.DataFrame(
        {"date": weekly.strftime("%Y-%m-%d"), "value": 120 + np.linspace(0, 2, len(weekly))}
    )
    out["UNRATE"] = pd.DataFrame(
        {"date": months.strftime("%Y-%m-%d"), "value": 3.7 + 0.02 * np.arange(len(months))}
    )
    out["PAYEMS"] = pd.DataFrame(
        {"date": months.strftime("%Y-%m-%d"), "value": 156_000 + 180 * np.arange(len(months))}
    )
    return out


def build_demo_lake(
    root: str | Path, day: date, symbols: list[str], history_days: int = 40, map_days: int = 1
) -> Lake:
    """Everything a briefing for ``day`` needs, computed the way the flows compute it;
    ``map_days`` > 1 also maps the days before it (yesterday's map, for the realised overlay)."""
    from flows.context import macro_tables, store_fred_series, symbol_context
    from flows.liqmap import build_liquidation_maps

    previous = os.environ.get("LIQBRIEF_LAKE")
    os.environ["LIQBRIEF_LAKE"] = str(root)
    try:
        lake = Lake(str(root))
        start = day - timedelta(days=history_days)
        for symbol in symbols:
            with ArchiveMirror(
                build_archive([symbol], DATASETS, start, day - timedelta(days=1), monthly=False)
            ) as mirror:
                report = ingest(
                    lake,
                    mirror.base_url,
                    [symbol],
                    DATASETS,
                    start,
                    day - timedelta(days=1),
                    retry=FAST,
                    today=day + timedelta(days=365),
                )
            if report.problems:
                raise RuntimeError(f"demo lake: {report.problems[:3]}")
            build_liquidation_maps.fn(symbol, day - timedelta(days=map_days - 1), day, "last")
        with FredServer(synthetic_fred(day - timedelta(days=1))) as fred, httpx.Client() as http:
            client = FredClient(http, fred.base_url, fred.base_url, None, FAST)
            for series in SERIES:
                store_fred_series(lake, client, series, date(day.year - 1, 1, 1), day)
        for symbol in symbols:
            symbol_context.fn(symbol, day)
        macro_tables.fn(day)
        return lake
    finally:
        if previous is None:
            os.environ.pop("LIQBRIEF_LAKE", None)
        else:
            os.environ["LIQBRIEF_LAKE"] = previous
