"""Market-wide context and records through the context flow's code, with Coinglass's daily
bars put in the lake directly (the real saved responses, in the lake's schemas and monthly
partitions) instead of fetched."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from flows.context import symbol_context
from flows.liqmap import build_liquidation_maps
from store.datasets import DATASETS
from store.lake import Lake
from store.ledger import LedgerEntry
from tests.conftest import demo_lake
from tests.transforms.test_context_coinglass import real_coinglass
from transforms.context.market import MARKET_WIDE_COLUMNS
from transforms.context.records import ALL_MARKET, BINANCE, MARKET_WIDE_KEYS, records_by_key

pytestmark = pytest.mark.server

SYMBOL, COIN = "BTCUSDT", "BTC"
DAY = date(2025, 3, 6)  # every real daily series covers it
DAYS = [DAY - timedelta(days=k) for k in (3, 2, 1, 0)]


def write_coinglass(lake: Lake, frames: dict[str, pd.DataFrame]) -> None:
    """Each dataset's bars in monthly partitions, as the Coinglass source stores them."""
    for name, frame in frames.items():
        ds = DATASETS[name]
        months = frame["time"].dt.tz_localize(None).dt.to_period("M")
        for month, rows in frame.groupby(months):
            first = month.start_time.date()
            table = pa.Table.from_pandas(rows, schema=ds.schema, preserve_index=False)
            entry = LedgerEntry(
                venue=ds.venue, dataset=name, symbol=COIN, date=first.isoformat(),
                source_url="test: saved Coinglass responses", source_sha256="",
                rows=table.num_rows, duplicates_dropped=0, missing_rows=0,
                ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )  # fmt: skip
            lake.write_day(ds, first, table, entry)


def forget_records(lake: Lake, days: list[date]) -> None:
    for day in days:
        Path(lake.ledger_path(DATASETS["records"], SYMBOL, day)).unlink(missing_ok=True)


def stored(lake: Lake, name: str, day: date = DAY) -> bytes:
    return Path(lake.data_path(DATASETS[name], SYMBOL, day)).read_bytes()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cg") / "lake"
    demo_lake(root, DAY, [SYMBOL], history_days=12)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIQBRIEF_LAKE", str(root))
        build_liquidation_maps.fn(SYMBOL, DAYS[0], DAY, "none")  # the est_* records' maps
    return root


@pytest.fixture
def lake(demo: Path, tmp_path: Path, monkeypatch) -> Lake:
    """A private copy of the demo lake (the Binance inputs; no Coinglass data yet)."""
    import shutil

    shutil.copytree(demo, tmp_path / "lake")
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    return Lake(str(tmp_path / "lake"))


def chained(lake: Lake) -> dict[str, bytes]:
    """D − 3 folds over the lake, then each day chains from the day before."""
    forget_records(lake, DAYS)
    for day in DAYS:
        symbol_context.fn(SYMBOL, day)
    return {name: stored(lake, name) for name in ("market_context", "records")}


def test_market_wide_values_and_records_chained_equal_folded(lake: Lake) -> None:
    frames = real_coinglass()
    write_coinglass(lake, frames)
    first = chained(lake)
    forget_records(lake, DAYS)  # D − 1 missing: D folds over the whole lake
    symbol_context.fn(SYMBOL, DAY)
    assert stored(lake, "records") == first["records"]

    market = lake.read(DATASETS["market_context"], SYMBOL, DAY, DAY).iloc[0]
    bar = pd.Timestamp(DAY - timedelta(days=1), tz="UTC")
    oi = frames["oi_aggregated_1d"].set_index("time").loc[bar, "close"]
    assert market["all_market_oi_usd"] == oi
    assert market["binance_oi_share_pct"] == pytest.approx(market["oi_usd"] / oi * 100)
    liq = frames["liquidations_binance_1d"].set_index("time").loc[bar]
    assert market["realised_liq_usd"] == liq["long_usd"] + liq["short_usd"]

    rows = records_by_key(lake.read(DATASETS["records"], SYMBOL, DAY, DAY))
    assert set(MARKET_WIDE_KEYS) <= set(rows)
    before = {n: f[f["time"] < pd.Timestamp(DAY, tz="UTC")] for n, f in frames.items()}
    binance = before["liquidations_binance_1d"]
    realised = rows[(BINANCE, "realised_liquidated_usd")]
    assert realised["days"] == len(binance)  # every bar from 2022-08-17 to D − 1
    assert realised["all_time_max"] == (binance["long_usd"] + binance["short_usd"]).max()
    all_oi = rows[(ALL_MARKET, "oi_usd")]
    assert all_oi["days"] == len(before["oi_aggregated_1d"])
    assert all_oi["all_time_max"] == before["oi_aggregated_1d"]["close"].max()
    assert rows[(BINANCE, "oi_usd")]["value"] == market["oi_usd"]  # the venues kept apart


def test_first_run_with_a_key_folds_the_history_the_records_lacked(lake: Lake) -> None:
    """D − 1's records were made without Coinglass data: D folds each market-wide metric
    over every Coinglass bar before D and ends where always-chained records end."""
    frames = real_coinglass()
    write_coinglass(lake, frames)
    expected = chained(lake)["records"]
    for name in frames:  # the same lake before the key was set
        for day in lake.stored_days(DATASETS[name], COIN):
            lake.delete_day(DATASETS[name], COIN, day)
    forget_records(lake, DAYS)
    for day in DAYS[:-1]:
        symbol_context.fn(SYMBOL, day)
    keys = set(records_by_key(lake.read(DATASETS["records"], SYMBOL, DAYS[-2], DAYS[-2])))
    assert not keys & set(MARKET_WIDE_KEYS)  # absent without data, not NaN rows
    write_coinglass(lake, frames)
    symbol_context.fn(SYMBOL, DAY)
    assert stored(lake, "records") == expected


def without_months(frame: pd.DataFrame, months: list[str]) -> pd.DataFrame:
    return frame[~frame["time"].dt.strftime("%Y-%m").isin(months)]


@pytest.mark.parametrize(
    "late", [["2024-11"], ["2022-08", "2022-09", "2022-10"]], ids=["failed-fetch", "plan-upgrade"]
)
def test_bars_that_arrive_late_are_folded_into_the_chained_records(
    lake: Lake, late: list[str]
) -> None:
    """D − 1's records were made while a month of all-market bars was missing (a failed
    fetch; or the first months, a plan that gave a shorter history); the bars arrive before
    D: D's records equal a fresh fold over the lake, byte for byte, not a chain that lost
    them."""
    frames = real_coinglass()
    name = "liquidations_all_1d"
    early = without_months(frames[name], late)
    assert len(frames[name]) - len(early) >= 28  # whole months of real bars held back
    write_coinglass(lake, frames | {name: early})
    forget_records(lake, DAYS)
    for day in DAYS[:-1]:
        symbol_context.fn(SYMBOL, day)
    write_coinglass(lake, {name: frames[name]})  # the late bars arrive
    symbol_context.fn(SYMBOL, DAY)  # chained from D − 1
    chained_bytes = stored(lake, "records")
    forget_records(lake, DAYS)
    symbol_context.fn(SYMBOL, DAY)  # folded afresh over the lake
    assert chained_bytes == stored(lake, "records")
    rows = records_by_key(lake.read(DATASETS["records"], SYMBOL, DAY, DAY))
    assert (
        rows[(ALL_MARKET, "realised_liquidated_usd")]["days"]
        == (frames[name]["time"] < pd.Timestamp(DAY, tz="UTC")).sum()
    )


def test_no_look_ahead_in_coinglass_bars(lake: Lake) -> None:
    """Every Coinglass bar dated D or later changed (and more bars added): D's market
    context and records keep every byte, chained or folded."""
    frames = real_coinglass()
    write_coinglass(lake, frames)
    before = chained(lake)
    t = pd.Timestamp(DAY, tz="UTC")
    later = {}
    for name, frame in frames.items():
        out = frame.copy()
        mask = (out["time"] >= t).to_numpy()
        for column in ("open", "high", "low", "close", "long_usd", "short_usd"):
            if column in out:
                out.loc[mask, column] = out.loc[mask, column] * 7.0 + 3.0
        later[name] = out
    assert all((f["time"] >= t).sum() > 30 for f in later.values())
    write_coinglass(lake, later)
    forget_records(lake, [DAY])
    symbol_context.fn(SYMBOL, DAY)  # chained from D − 1
    assert {n: stored(lake, n) for n in before} == before
    forget_records(lake, DAYS)
    symbol_context.fn(SYMBOL, DAY)  # folded
    assert {n: stored(lake, n) for n in before} == before


def test_without_coinglass_data_binance_only(lake: Lake) -> None:
    chained(lake)
    market = lake.read(DATASETS["market_context"], SYMBOL, DAY, DAY).iloc[0]
    assert all(math.isnan(market[c]) for c in MARKET_WIDE_COLUMNS)
    records = lake.read(DATASETS["records"], SYMBOL, DAY, DAY)
    assert set(records["venue"]) == {BINANCE} and len(records) == 5


@pytest.mark.flow
def test_context_json_carries_market_wide_fields_and_venues(prefect_harness, lake: Lake) -> None:
    from typer.testing import CliRunner

    from liqbrief.cli import app

    def run() -> dict:
        args = ["context", "--date", DAY.isoformat(), "--no-fetch-macro", "--no-fetch-coinglass"]
        result = CliRunner().invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))

    keyless = run()
    assert keyless["market_context"][0]["all_market_oi_usd"] is None  # NaN -> null
    assert {r["venue"] for r in keyless["records"]} == {"binance"}
    assert keyless["coinglass"] == {}
    write_coinglass(lake, real_coinglass())
    forget_records(lake, DAYS)
    payload = run()
    market = payload["market_context"][0]
    assert market["all_market_oi_usd"] > 5e10 and 0 < market["binance_oi_share_pct"] < 100
    assert set(MARKET_WIDE_COLUMNS) <= set(market)
    venues = {(r["venue"], r["metric"]) for r in payload["records"]}
    assert {("all-market", "oi_usd"), ("binance", "realised_liquidated_usd"),
            ("all-market", "realised_liquidated_usd"), ("binance", "oi_usd")} <= venues  # fmt: skip


@pytest.mark.flow
def test_context_flow_fetches_coinglass_and_goes_on_without_a_key(
    prefect_harness, lake: Lake, monkeypatch
) -> None:
    """The flow calls the Coinglass task (helper module flows.coinglass); without a key it
    is skipped and the tables are the Binance-only ones."""
    pytest.importorskip("flows.coinglass")
    from flows.context import context

    monkeypatch.delenv("COINGLASS_API_KEY", raising=False)
    result = context(DAY, [SYMBOL], fetch_macro=False)
    assert result["coinglass"] and all(
        o.startswith("skipped") for o in result["coinglass"].values()
    )
    assert len(lake.read(DATASETS["records"], SYMBOL, DAY, DAY)) == 5


def test_a_bar_revised_after_the_chain_is_folded_in(lake: Lake) -> None:
    """The same number of bars, one with another value (a revision, or the series refetched
    for another exchange list): D's records equal a fresh fold, not a chain on the old value."""
    frames = real_coinglass()
    name = "liquidations_all_1d"
    write_coinglass(lake, frames)
    forget_records(lake, DAYS)
    for day in DAYS[:-1]:
        symbol_context.fn(SYMBOL, day)
    revised = frames[name].copy()
    record_bar = (revised["long_usd"] + revised["short_usd"]).idxmax()
    revised.loc[record_bar, "long_usd"] *= 2  # the record day, revised upwards
    write_coinglass(lake, {name: revised})
    symbol_context.fn(SYMBOL, DAY)
    chained_bytes = stored(lake, "records")
    forget_records(lake, DAYS)
    symbol_context.fn(SYMBOL, DAY)
    assert chained_bytes == stored(lake, "records")
    row = records_by_key(lake.read(DATASETS["records"], SYMBOL, DAY, DAY))[
        (ALL_MARKET, "realised_liquidated_usd")
    ]
    assert (
        row["all_time_max"]
        == revised.loc[record_bar, "long_usd"] + revised.loc[record_bar, "short_usd"]
    )
