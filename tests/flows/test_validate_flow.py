"""The validate flow on the demo lake with realised liquidations written the way the recorder
writes them (store.realised.merge_realised / merge_coverage), and `liqbrief validate` run as
a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from flows.validate import validate
from liqbrief.cli_validate import table_lines
from store.datasets import DATASETS
from store.lake import Lake
from store.ledger import LedgerEntry
from store.realised import liquidation_id, merge_coverage, merge_realised
from tests.conftest import cli_env, demo_lake

pytestmark = [pytest.mark.flow, pytest.mark.server]

DAY = date(2024, 3, 6)  # the briefing date: the flow scores the three days before it
SCORED = [DAY - timedelta(days=k) for k in (3, 2, 1)]
PER_DAY = 300


def realised_rows(lake: Lake, day: date, seed: int) -> pd.DataFrame:
    """Liquidations of one day just beyond the mark price of their minute."""
    mark = lake.read(DATASETS["mark_klines_1m"], "BTCUSDT", day, day)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(mark), PER_DAY)
    side = np.where(rng.random(PER_DAY) < 0.5, "long", "short")
    price = mark["close"].to_numpy()[pick] * np.where(side == "long", 0.996, 1.004)
    quantity = rng.gamma(2.0, 0.05, PER_DAY)
    times = (mark["open_time"].iloc[pick] + pd.Timedelta("30s")).reset_index(drop=True)
    ids = [liquidation_id("binance", (t, s, p, q)) for t, s, p, q in zip(times, side, price, quantity, strict=True)]  # fmt: skip
    return pd.DataFrame({
        "time": times, "received_at": times,
        "side": side, "price": price, "quantity": quantity, "notional_usd": price * quantity,
        "source": "stream", "liq_id": ids, "raw": "{}",
    })  # fmt: skip


def coinglass_day(lake: Lake, day: date, long_usd: float, short_usd: float) -> None:
    """One Binance daily liquidation bar, as the Coinglass ingest stores it."""
    ds = DATASETS["liquidations_binance_1d"]
    frame = pd.DataFrame({"time": [pd.Timestamp(day, tz="UTC")], "exchange_list": ["Binance"],
                          "long_usd": [long_usd], "short_usd": [short_usd]})  # fmt: skip
    table = pa.Table.from_pandas(frame, schema=ds.schema, preserve_index=False)
    month = day.replace(day=1)
    entry = LedgerEntry(venue=ds.venue, dataset=ds.name, symbol="BTC", date=month.isoformat(),
                        source_url="test", source_sha256="", rows=1, duplicates_dropped=0,
                        missing_rows=0, ingested_at="2024-03-06T00:00:00+00:00")  # fmt: skip
    lake.write_day(ds, month, table, entry)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo lake, realised liquidations of the three scored days, the recorder's
    coverage (the middle day only until noon) and one Coinglass daily bar."""
    root = tmp_path_factory.mktemp("validate")
    lake = demo_lake(root / "lake", DAY, ["BTCUSDT"])
    for k, day in enumerate(SCORED):
        merge_realised(lake, "binance", "BTCUSDT", realised_rows(lake, day, k), "test")
    midnight = [pd.Timestamp(d, tz="UTC") for d in SCORED]
    merge_coverage(lake, "binance", "BTCUSDT", pd.DataFrame({
        "start": midnight, "end": [midnight[0] + pd.Timedelta("1D"), midnight[1] + pd.Timedelta("12h"), midnight[2] + pd.Timedelta("1D")],
        "source": "stream",
    }))  # fmt: skip
    coinglass_day(lake, SCORED[0], 5e6, 7e6)
    return root


def stored_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for name in ("validation", "validation_summary")
        for p in sorted((root / "lake" / "binance" / name).rglob("*.parquet"))
    }


def test_validate_scores_covered_hours_and_rewrites_nothing_new_on_a_rerun(
    prefect_harness, demo: Path, monkeypatch
) -> None:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(demo / "lake"))
    result = validate(["BTCUSDT"], SCORED[0], SCORED[-1])
    assert result["BTCUSDT"]["days"] == 3
    lake = Lake(str(demo / "lake"))
    rows = lake.read(DATASETS["validation"], "BTCUSDT", SCORED[0], SCORED[-1])
    assert len(rows) == 3 * 4 and set(rows["model"]) == {"exact", "naive", "single_side", "no_shrink"}  # fmt: skip
    exact = rows[rows["model"] == "exact"].set_index("date")
    assert exact["covered_hours"].tolist() == [24, 12, 24]
    realised = lake.read(DATASETS["binance/realised_liquidations"], "BTCUSDT", SCORED[1], SCORED[1])
    morning = realised[realised["time"] < pd.Timestamp(SCORED[1], tz="UTC") + pd.Timedelta("12h")]
    assert 0 < exact.loc[SCORED[1], "events"] == len(morning) < PER_DAY  # the afternoon: ignored
    assert exact.loc[SCORED[1], "realised_long_usd"] == pytest.approx(
        morning.loc[morning["side"] == "long", "notional_usd"].sum()
    )
    assert exact["realised_source"].tolist() == ["stream"] * 3
    # time level: Coinglass's bar where stored, recorded totals of a whole day, else nothing
    assert exact["time_realised_source"].tolist() == ["coinglass", "", "recorded"]
    assert exact.loc[SCORED[0], "time_realised_short_usd"] == 7e6
    assert (exact["top_bins"] > 0).all() and exact["est_long_usd"].notna().all()
    summary = lake.read(DATASETS["validation_summary"], "BTCUSDT", DAY, DAY)
    assert len(summary) == 4 * 2
    thirty = summary[(summary["model"] == "exact") & (summary["window_days"] == 30)].iloc[0]
    assert thirty["days_scored"] == 3 and thirty["events"] == exact["events"].sum()
    assert thirty["coverage_pct"] == pytest.approx(60 / (24 * 30) * 100)
    # one series per window, never mixed: one Coinglass day and one recorded day, a tie: recorded
    assert thirty["time_realised_source"] == "recorded" and thirty["time_days"] == 1
    before = stored_files(demo)
    validate(["BTCUSDT"], SCORED[0], SCORED[-1])
    assert stored_files(demo) == before  # same rows, same bytes: nothing duplicated
    lines = table_lines("BTCUSDT", SCORED[0], SCORED[-1], [dict(thirty, model="exact")])
    assert lines[0].startswith("BTCUSDT binance") and lines[2].lstrip().startswith("exact")


def test_a_month_without_inputs_is_skipped_with_the_extract_that_fills_it(
    prefect_harness, demo: Path, tmp_path: Path, monkeypatch, caplog
) -> None:
    """Each month is scored from its own pass (transforms/liqmap/passes.py): May's reads
    2024-04-01..05-03, where the lake has nothing, so May is skipped and named; March and
    April (whose pass reads the lake's last days) are scored."""
    lake = demo_lake(tmp_path / "lake", DAY, ["BTCUSDT"])  # inputs up to 2024-03-05
    merge_realised(lake, "binance", "BTCUSDT", realised_rows(lake, SCORED[0], 0), "test")
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    end = date(2024, 5, 3)
    result = validate(["BTCUSDT"], SCORED[0], end)
    assert result["BTCUSDT"]["days"] == (date(2024, 4, 30) - SCORED[0]).days + 1
    rows = lake.read(DATASETS["validation"], "BTCUSDT", SCORED[0], end)
    assert max(rows["date"]) == date(2024, 4, 30) and set(rows["model"]) == {
        "exact", "naive", "single_side", "no_shrink"
    }  # fmt: skip
    assert (
        "cannot score BTCUSDT 2024-05-01..2024-05-03: BTCUSDT: not enough open-interest or "
        "price data to build a map; run `liqbrief extract --symbols BTCUSDT --start "
        "2024-04-01 --end 2024-05-03` first"
    ) in caplog.text


def strict_loads(text: str):
    def refuse(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_validate_command_prints_strict_json_with_every_model(demo: Path) -> None:
    env = cli_env(demo)
    args = ["validate", "--start", str(SCORED[0]), "--end", str(SCORED[-1]), "--json"]
    result = subprocess.run([sys.executable, "-m", "liqbrief.cli", *args], env=env, cwd=demo,
                            capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = strict_loads(result.stdout)["symbols"]["BTCUSDT"]
    assert [m["model"] for m in report["models"]] == ["exact", "naive", "single_side", "no_shrink"]
    assert report["models"][0]["days_scored"] == 3 and len(report["days"]) == 12
    assert len(report["days"][0]["est_4h_long_usd"]) == 6


def test_each_symbol_is_scored_and_printed_whatever_fails_before_it(demo: Path) -> None:
    """ETHUSDT has liquidations but no map inputs, SOLUSDT nothing at all; both come before
    BTCUSDT: BTCUSDT is still scored and printed, and the exit (1) names the two others."""
    lake = Lake(str(demo / "lake"))
    merge_realised(lake, "binance", "ETHUSDT", realised_rows(lake, SCORED[0], 7), "test")
    env = cli_env(demo)
    args = ["validate", "--symbols", "ETHUSDT,SOLUSDT,BTCUSDT", "--start", str(SCORED[0]), "--end", str(SCORED[-1])]  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "liqbrief.cli", *args], env=env, cwd=demo,
                            capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(f"BTCUSDT binance {SCORED[0]}..{SCORED[-1]}: 3 day(s) scored")
    assert "ETHUSDT" not in result.stdout and "SOLUSDT" not in result.stdout
    failure = [line for line in result.stderr.splitlines() if line.startswith("liqbrief validate:")]
    assert len(failure) == 1 and "Traceback" not in result.stderr
    assert failure[0].startswith(
        "liqbrief validate: ETHUSDT, SOLUSDT not scored (BTCUSDT scored and stored): no realised "
        "liquidations stored for SOLUSDT on binance"
    )
    assert f"; cannot score ETHUSDT {SCORED[0]}..{SCORED[-1]}: " in failure[0]


PERFECT = [DAY - timedelta(days=k) for k in (6, 5, 4)]  # liquidations in the top decile only
RANDOM = [DAY - timedelta(days=k) for k in (9, 8, 7)]  # liquidations in bins drawn at random


def liquidations_in_bins(day: date, bins: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One liquidation in the middle of each given (side, bin) row, at a random time of day."""
    rng = np.random.default_rng(seed)
    times = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 86_000, len(bins))), "s")  # fmt: skip
    price = ((bins["bin_lo"] + bins["bin_hi"]) / 2).to_numpy()
    ids = [liquidation_id("binance", (day.isoformat(), k)) for k in range(len(bins))]
    return pd.DataFrame({
        "time": times, "received_at": times, "side": bins["side"].to_numpy(), "price": price,
        "quantity": 0.01, "notional_usd": price * 0.01, "source": "stream", "liq_id": ids, "raw": "{}",
    })  # fmt: skip


def test_the_command_scores_a_perfect_map_perfectly_and_a_random_one_at_the_baseline(
    demo: Path, monkeypatch
) -> None:
    """End to end: the maps as `liqmap` stores them, liquidations placed in their top-decile
    bins (or in bins drawn at random), then `liqbrief validate` as a user runs it and the
    briefing's line from the summary it wrote."""
    from flows.liqmap import build_liquidation_maps
    from reports.overlay_chart import top_decile_bins
    from reports.track_record import track_record_line

    monkeypatch.setenv("LIQBRIEF_LAKE", str(demo / "lake"))
    lake = Lake(str(demo / "lake"))
    build_liquidation_maps.fn("BTCUSDT", RANDOM[0], PERFECT[-1], "none")
    rng = np.random.default_rng(3)
    for k, day in enumerate(RANDOM + PERFECT):
        bins = lake.read(DATASETS["liqmap_bins"], "BTCUSDT", day, day)
        per_bin = bins[bins["window"] == "7d"].groupby(["side", "bin_lo", "bin_hi"], as_index=False)["notional_usd"].sum()  # fmt: skip
        per_bin = per_bin[per_bin["notional_usd"] > 0].reset_index(drop=True)
        if day in PERFECT:
            chosen = per_bin[top_decile_bins(per_bin)]
        else:
            chosen = per_bin.iloc[rng.choice(len(per_bin), size=len(per_bin) // 4, replace=False)]
        merge_realised(lake, "binance", "BTCUSDT", liquidations_in_bins(day, chosen, k), "test")
    t0 = pd.Timestamp(RANDOM[0], tz="UTC")
    merge_coverage(lake, "binance", "BTCUSDT", pd.DataFrame({"start": [t0], "end": [t0 + pd.Timedelta(days=6)], "source": ["stream"]}))  # fmt: skip
    args = ["validate", "--start", str(RANDOM[0]), "--end", str(PERFECT[-1]), "--json"]
    result = subprocess.run([sys.executable, "-m", "liqbrief.cli", *args], env=cli_env(demo),
                            cwd=demo, capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr
    days = pd.DataFrame(strict_loads(result.stdout)["symbols"]["BTCUSDT"]["days"])
    exact = days[days["model"] == "exact"].set_index("date")
    perfect, random = exact.loc[[d.isoformat() for d in PERFECT]], exact.loc[[d.isoformat() for d in RANDOM]]  # fmt: skip
    assert (perfect["top_bins"] >= 10).all() and (perfect["top_hits"] == perfect["top_bins"]).all()
    assert (perfect["top_precision"] == 1.0).all()
    pooled = random["top_hits"].sum() / random["top_bins"].sum()
    baseline = random["map_bins_hit"].sum() / random["map_bins"].sum()
    assert baseline == pytest.approx(0.25, abs=0.01) and abs(pooled - baseline) < 0.12
    summary = lake.read(DATASETS["validation_summary"], "BTCUSDT", PERFECT[-1] + timedelta(days=1), PERFECT[-1] + timedelta(days=1))  # fmt: skip
    line = track_record_line("BTCUSDT", summary)
    share = (exact["top_hits"].sum() / exact["top_bins"].sum()) * 100
    assert line.startswith(f"BTC: {share:.0f} % of top-decile bins hit (95 % lower bound ")
    assert f"6 of 30 days scored, {exact['events'].sum():,} liquidations" in line
    assert "of all bins and " in line and "of the bins nearest the price" in line
