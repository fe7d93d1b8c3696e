"""The backfill's batched context (each input read once) writes exactly the tables the
day-by-day tasks write, across a year boundary, a gap and a records chain."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from flows.context import (
    MACRO_SYMBOL,
    MarketHistory,
    context_for_days,
    macro_tables,
    symbol_context,
)
from flows.liqmap import build_liquidation_maps
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import demo_lake
from tests.flows.test_context_coinglass import write_coinglass
from tests.transforms.test_context_coinglass import real_coinglass

pytestmark = pytest.mark.server

SYMBOL = "BTCUSDT"
OUTPUTS = {
    "market_context": SYMBOL,
    "records": SYMBOL,
    "chart_series": SYMBOL,
    "macro_context": MACRO_SYMBOL,
    "macro_events": MACRO_SYMBOL,
}
# a gap on 1 Jan: 2 Jan's records cannot chain in memory and must be read from the lake
DAYS = [date(2023, 12, 29), date(2023, 12, 30), date(2023, 12, 31), date(2024, 1, 2),
        date(2024, 1, 3), date(2024, 1, 6)]  # fmt: skip


def forget_context(lake: Lake) -> None:
    """Unstore every context table of DAYS (a day counts as stored only with its ledger)."""
    for name, symbol in OUTPUTS.items():
        for day in DAYS:
            path = lake.ledger_path(DATASETS[name], symbol, day)
            if Path(path).exists():
                lake.fs.delete_file(path)


def context_tables(lake: Lake) -> dict[tuple[str, date], pd.DataFrame]:
    return {
        (name, day): lake.read(DATASETS[name], symbol, day, day)
        for name, symbol in OUTPUTS.items()
        for day in DAYS
    }


@pytest.mark.parametrize("coinglass", [False, True], ids=["binance-only", "coinglass"])
def test_batched_context_equals_the_day_by_day_tables(
    tmp_path: Path, monkeypatch, coinglass: bool
) -> None:
    lake = demo_lake(tmp_path / "lake", DAYS[-1], [SYMBOL], history_days=40)
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    build_liquidation_maps.fn(SYMBOL, DAYS[0], DAYS[-1], "none")
    if coinglass:  # the real daily liquidation bars (2022-08-17 on) in the lake
        write_coinglass(lake, real_coinglass())
    forget_context(lake)
    for day in DAYS:
        symbol_context.fn(SYMBOL, day)
        macro_tables.fn(day)
    expected = context_tables(lake)

    forget_context(lake)
    reads = count_coinglass_reads(monkeypatch)
    folds = count_folds(monkeypatch)
    assert context_for_days.fn(DAYS, [SYMBOL]) == {}
    batched = context_tables(lake)
    # the batch reads each Coinglass dataset once (its dates' values, the check of each
    # chained day's market-wide rows and the fold all slice that read), not once per day,
    # and folds the market-wide history only for a day after a gap (its records are folded
    # over the lake without it), never for a day chained from the day before
    assert bool(reads) == coinglass and all(n == 1 for n in reads.values())
    after_gap = [d for d in DAYS if d - timedelta(days=1) not in DAYS]
    assert folds == (after_gap if coinglass else [])

    assert all(len(f) for (name, _), f in expected.items() if name != "macro_events")
    assert any(len(f) for (name, _), f in expected.items() if name == "macro_events")
    for key, frame in expected.items():
        pd.testing.assert_frame_equal(batched[key], frame, obj=str(key))
    records = batched[("records", DAYS[-1])].set_index(["venue", "metric"])
    # every mapped date counts once, the gap days (1, 4, 5 Jan) folded in from the lake
    assert records.loc[("binance", "est_liquidated_usd"), "days"] == (DAYS[-1] - DAYS[0]).days + 1
    realised = ("binance", "realised_liquidated_usd")
    assert (realised in records.index) == coinglass
    if coinglass:  # every real daily bar before the last day
        assert records.loc[realised, "days"] == (DAYS[-1] - date(2022, 8, 17)).days


def count_folds(monkeypatch) -> list[date]:
    """The dates whose market-wide history was folded over the Coinglass bars from now on."""
    folds: list[date] = []
    original = MarketHistory.realised_history

    def counting(self, last, keys):
        folds.append(last + timedelta(days=1))
        return original(self, last, keys)

    monkeypatch.setattr(MarketHistory, "realised_history", counting)
    return folds


def count_coinglass_reads(monkeypatch) -> dict[str, int]:
    """Calls of Lake.read per Coinglass dataset from now on."""
    reads: dict[str, int] = {}
    original = Lake.read

    def counting(self, ds, *args, **kwargs):
        if ds.venue == "coinglass":
            reads[ds.name] = reads.get(ds.name, 0) + 1
        return original(self, ds, *args, **kwargs)

    monkeypatch.setattr(Lake, "read", counting)
    return reads


def test_a_failing_day_is_reported_and_the_rest_are_written(tmp_path: Path, monkeypatch) -> None:
    lake = demo_lake(tmp_path / "lake", DAYS[-1], [SYMBOL], history_days=40)
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    build_liquidation_maps.fn(SYMBOL, DAYS[0], DAYS[-1], "none")
    summary = Path(lake.data_path(DATASETS["liqmap_summary"], SYMBOL, DAYS[-1]))
    summary.write_bytes(summary.read_bytes()[:100])  # a truncated map of the last day
    forget_context(lake)
    failures = context_for_days.fn(DAYS, [SYMBOL])
    assert list(failures) == [DAYS[-1]] and "Parquet" in failures[DAYS[-1]]
    written = context_tables(lake)
    assert all(len(written[("records", day)]) == 5 for day in DAYS[:-1])
    assert written[("records", DAYS[-1])].empty


def test_a_day_after_the_lakes_data_fails_in_a_batch_and_writes_nothing(
    tmp_path: Path, monkeypatch
) -> None:
    lake = demo_lake(tmp_path / "lake", DAYS[-1], [SYMBOL], history_days=40)
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    beyond = [DAYS[-1], date(2024, 1, 8)]  # the demo lake's data end on 5 Jan
    forget_context(lake)
    failures = context_for_days.fn(beyond, [SYMBOL])
    assert list(failures) == [date(2024, 1, 8)] and "ContextDateError" in failures[date(2024, 1, 8)]
    for name, symbol in OUTPUTS.items():
        assert lake.read(DATASETS[name], symbol, date(2024, 1, 8), date(2024, 1, 8)).empty
