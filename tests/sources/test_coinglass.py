"""Coinglass → lake through the real httpx client, against the loopback stand-in built from
the real saved responses: exactly the served closed bars are stored (no loss, no duplicate,
the real values), a re-run asks for nothing new, the in-progress bar is stored only once
closed (with its final value), and every failure leaves the lake as it was."""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from flows.coinglass import fetch_coinglass
from liqbrief.settings import DEFAULT_COINGLASS_EXCHANGES, Settings
from liqbrief.testing.coinglass_standin import (
    HISTORY_PATHS,
    LIVE_SCALE,
    MAP_PATHS,
    NOW_2025_11_14,
    STANDIN_KEY,
    CoinglassStandin,
    real_btc,
    real_rows,
    synthetic_btc,
)
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import FAST_RETRY, lake_files

pytestmark = pytest.mark.server

NOW = NOW_2025_11_14
DATA = real_btc(DEFAULT_COINGLASS_EXCHANGES)
OHLC = ("open", "high", "low", "close")
LIQ = ("aggregated_long_liquidation_usd", "aggregated_short_liquidation_usd")
SERIES = {
    f"{kind}_{interval}": (key, fields, {"1d": 86_400_000, "4h": 14_400_000}[interval])
    for interval in ("1d", "4h")
    for kind, key, fields in (
        ("oi_aggregated", ("oi", "BTC", interval, None), OHLC),
        ("liquidations_binance", ("liquidation", "BTC", interval, "Binance"), LIQ),
        ("liquidations_all", ("liquidation", "BTC", interval, DEFAULT_COINGLASS_EXCHANGES), LIQ),
    )
} | {"funding_oi_weighted_1d": (("funding", "BTC", "1d", None), OHLC, 86_400_000)}
HISTORY_COUNT = len(SERIES)
JUNE_2025_MS = 1_748_736_000_000  # 2025-06-01 00:00 UTC


@pytest.fixture(scope="module")
def server():
    with CoinglassStandin(DATA, NOW) as standin:
        yield standin


@pytest.fixture
def standin(server: CoinglassStandin) -> CoinglassStandin:
    server.reset(NOW, DATA)
    return server


def run(lake: Lake, standin: CoinglassStandin, now: datetime = NOW, key: str = STANDIN_KEY,
        url: str | None = None) -> dict[str, str]:  # fmt: skip
    standin.now = now  # the stand-in's clock is the run's
    settings = Settings(COINGLASS_API_KEY=key, coinglass_url=url or standin.url)
    return fetch_coinglass(lake, settings, ["BTC"], now, FAST_RETRY)


def stored(lake: Lake, dataset: str) -> pd.DataFrame:
    ds = DATASETS[dataset]
    days = lake.stored_days(ds, "BTC")
    return lake.read(ds, "BTC", days[0], days[-1]) if days else ds.schema.empty_table().to_pandas()


def stored_tuples(lake: Lake, dataset: str) -> list[tuple]:
    frame = stored(lake, dataset)
    columns = [c for c in frame.columns if c not in ("time", "exchange_list")]
    ms = [round(t.timestamp() * 1000) for t in frame["time"]]
    return [
        (m, *values) for m, values in zip(ms, frame[columns].itertuples(index=False), strict=True)
    ]


def served_tuples(standin: CoinglassStandin, dataset: str, now: datetime = NOW) -> list[tuple]:
    """What Coinglass holds of a series closed at ``now``, coerced as the lake keeps it."""
    key, fields, step = SERIES[dataset]
    now_ms = int(now.timestamp() * 1000)
    return [
        (int(float(r["time"])), *(float(r[f]) for f in fields))
        for r in standin.data[key]
        if int(float(r["time"])) + step <= now_ms
    ]


def status(lake: Lake, day: date | None = None) -> pd.DataFrame:
    ds, day = DATASETS["fetch_status"], day or NOW.date()
    return lake.read(ds, "BTC", day, day).set_index("series")


def test_a_cold_fetch_stores_exactly_the_served_closed_bars(lake: Lake, standin) -> None:
    outcomes = run(lake, standin)
    for dataset in SERIES:
        rows = stored_tuples(lake, dataset)
        assert rows == served_tuples(standin, dataset), dataset
        assert len({r[0] for r in rows}) == len(rows)  # no duplicate time
        assert outcomes[f"BTC/{dataset}"].startswith(f"ok: {len(rows)} bars")
    # the values are the real files' (the last bar of each file was in progress when saved)
    oi = real_rows("20251114__api_futures_openInterest_ohlc_aggregated_history_BTC")
    assert stored_tuples(lake, "oi_aggregated_4h") == [
        (r["time"], *(float(r[f]) for f in OHLC)) for r in oi[:-1]
    ]
    daily = real_rows("20250512__api_futures_liquidation_aggregated_coin_history")
    assert stored_tuples(lake, "liquidations_binance_1d")[:999] == [
        (r["time"], *(r[f] for f in LIQ)) for r in daily[:-1]
    ]
    assert set(stored(lake, "liquidations_all_1d")["exchange_list"]) == {
        DEFAULT_COINGLASS_EXCHANGES
    }
    # monthly partitions, each with its ledger record
    ds = DATASETS["oi_aggregated_4h"]
    assert lake.stored_days(ds, "BTC") == [date(2025, m, 1) for m in range(5, 12)]
    assert lake.ledger_entry(ds, "BTC", date(2025, 11, 1)).source_url.startswith(
        f"{standin.url}/api/futures/open-interest/aggregated-history?symbol=BTC&interval=4h"
    )


def test_the_all_market_series_is_no_constant_multiple_of_binances(lake, standin) -> None:
    """Stand-in data: all-market liquidations differ from Binance's day by day (ranks and
    long/short mix), so a Binance/all-market mix-up downstream changes the results."""
    run(lake, standin)
    binance, market = (
        stored(lake, f"liquidations_{v}_1d").set_index("time") for v in ("binance", "all")
    )
    ratio = (market["long_usd"] + market["short_usd"]) / (
        binance["long_usd"] + binance["short_usd"]
    )
    assert ratio.round(6).nunique() > len(ratio) // 2 and (ratio > 1).all()
    total = {name: f["long_usd"] + f["short_usd"] for name, f in (("b", binance), ("a", market))}
    assert (total["a"].rank() != total["b"].rank()).mean() > 0.5  # other ranks
    share_of_record = {k: (t / t.max()).round(6) for k, t in total.items()}
    assert (share_of_record["a"] != share_of_record["b"]).mean() > 0.5
    assert not (market["long_usd"] / market["short_usd"]).equals(
        binance["long_usd"] / binance["short_usd"]
    )
    four_h = stored(lake, "liquidations_all_4h").set_index("time")  # days still add up
    day = pd.Timestamp("2025-11-10", tz="UTC")
    in_day = four_h.loc[day : day + pd.Timedelta(hours=20), "long_usd"]
    assert len(in_day) == 6 and in_day.sum() == pytest.approx(market.loc[day, "long_usd"])
    synthetic = synthetic_btc(DEFAULT_COINGLASS_EXCHANGES, NOW, 1, 1)
    rows = {
        v: synthetic[("liquidation", "BTC", "1d", v)]
        for v in ("Binance", DEFAULT_COINGLASS_EXCHANGES)
    }
    ratios = {
        round(a["aggregated_long_liquidation_usd"] / b["aggregated_long_liquidation_usd"], 6)
        for a, b in zip(rows[DEFAULT_COINGLASS_EXCHANGES], rows["Binance"], strict=True)
    }
    assert len(ratios) > 100


def test_fetch_status_reports_the_first_bar_received_and_the_last_stored(lake, standin) -> None:
    run(lake, standin)
    rows = status(lake)
    oi = rows.loc["oi_aggregated_4h"]
    assert oi["outcome"] == "ok" and oi["rows"] == 1079
    assert oi["first_time"] == pd.Timestamp("2025-05-18 20:00", tz="UTC")
    assert oi["last_time"] == pd.Timestamp("2025-11-14 12:00", tz="UTC")  # 16:00 is in progress
    assert "history starts 2025-05-18 20:00" in oi["message"]
    assert rows.loc["oi_exchange_list", "outcome"] == "ok"
    assert set(rows["outcome"]) == {"ok", "unavailable"}


def test_a_rerun_with_nothing_new_asks_for_no_bars(lake: Lake, standin) -> None:
    run(lake, standin)
    before = {name: (lake_files_bytes(lake, name)) for name in SERIES}
    standin.clear_counts()
    outcomes = run(lake, standin, NOW + timedelta(minutes=20))
    assert sum(standin.counts[path] for path in HISTORY_PATHS) == 0
    assert sum(standin.counts.values()) <= len(outcomes)  # at most one per series
    assert all(outcomes[f"BTC/{name}"] == "ok: up to date" for name in SERIES)
    assert {name: lake_files_bytes(lake, name) for name in SERIES} == before


def lake_files_bytes(lake: Lake, dataset: str) -> dict[str, bytes]:
    ds = DATASETS[dataset]
    return {
        str(d): open(lake.data_path(ds, "BTC", d), "rb").read() for d in lake.stored_days(ds, "BTC")
    }


def test_the_in_progress_bar_is_stored_once_closed_with_its_final_value(lake, standin) -> None:
    run(lake, standin)
    live_time = pd.Timestamp("2025-11-14 16:00", tz="UTC")
    assert live_time not in set(stored(lake, "oi_aggregated_4h")["time"])
    later = datetime(2025, 11, 15, 0, 10, tzinfo=NOW.tzinfo)  # 16:00 and the day have closed
    standin.clear_counts()
    run(lake, standin, later)
    oi = stored(lake, "oi_aggregated_4h").set_index("time")
    final = real_rows("20251114__api_futures_openInterest_ohlc_aggregated_history_BTC")[-1]
    assert oi.loc[live_time, "close"] == final["close"] != final["close"] * LIVE_SCALE
    daily = stored(lake, "oi_aggregated_1d").set_index("time")
    assert daily.index[-1] == pd.Timestamp("2025-11-14", tz="UTC")
    for dataset in SERIES:
        assert stored_tuples(lake, dataset) == served_tuples(standin, dataset, later), dataset
    # one request per history, from the last stored bar (asked again, in case it was revised)
    assert sum(standin.counts[path] for path in HISTORY_PATHS) == HISTORY_COUNT
    starts = {int(p["start_time"]) for path, p in standin.requests if path in HISTORY_PATHS}
    last_stored = (live_time - pd.Timedelta(hours=4), pd.Timestamp("2025-11-13", tz="UTC"))
    assert starts == {round(t.timestamp() * 1000) for t in last_stored}


def test_a_live_bar_is_not_stored_when_our_clock_runs_ahead_of_coinglass(lake, standin) -> None:
    """Coinglass at 23:55, we at 00:05 of the next day: its Date header says the day's bar
    is still in progress, so it is not stored; once Coinglass passes the close, the final
    value is."""
    day = pd.Timestamp("2025-11-14", tz="UTC")
    server_now = datetime(2025, 11, 14, 23, 55, tzinfo=NOW.tzinfo)
    client_now = datetime(2025, 11, 15, 0, 5, tzinfo=NOW.tzinfo)
    standin.now = server_now
    settings = Settings(COINGLASS_API_KEY=STANDIN_KEY, coinglass_url=standin.url)
    fetch_coinglass(lake, settings, ["BTC"], client_now, FAST_RETRY)
    assert day not in set(stored(lake, "liquidations_binance_1d")["time"])
    assert day not in set(stored(lake, "oi_aggregated_1d")["time"])
    later = datetime(2025, 11, 15, 0, 10, tzinfo=NOW.tzinfo)
    outcome = run(lake, standin, later)["BTC/liquidations_binance_1d"]
    assert outcome.startswith("ok: 1 bars")  # not "up to date"
    for dataset in SERIES:
        assert stored_tuples(lake, dataset) == served_tuples(standin, dataset, later), dataset
    final = DATA[("liquidation", "BTC", "1d", "Binance")][-1]
    liq = stored(lake, "liquidations_binance_1d").set_index("time")
    assert liq.loc[day, "long_usd"] == final["aggregated_long_liquidation_usd"]


def test_a_changed_exchange_list_refetches_the_series_and_replaces_it(lake, standin) -> None:
    """LIQBRIEF_COINGLASS_EXCHANGES changed: the all-market liquidations are refetched from
    the history start and replace the stored rows; no series mixes two exchange lists."""
    run(lake, standin)
    fewer = "Binance,OKX"
    halved = {
        ("liquidation", "BTC", iv, fewer): [
            {k: v if k == "time" else float(v) / 2 for k, v in r.items()}
            for r in DATA[("liquidation", "BTC", iv, DEFAULT_COINGLASS_EXCHANGES)]
            if r["time"] >= JUNE_2025_MS
        ]
        for iv in ("1d", "4h")
    }  # fewer exchanges, and a history starting later: the stored months before go
    standin.data = DATA | halved
    standin.clear_counts()
    later = NOW + timedelta(hours=1)
    standin.now = later
    settings = Settings(
        COINGLASS_API_KEY=STANDIN_KEY, coinglass_url=standin.url, coinglass_exchanges=fewer
    )
    outcomes = fetch_coinglass(lake, settings, ["BTC"], later, FAST_RETRY)
    for interval in ("1d", "4h"):
        dataset = f"liquidations_all_{interval}"
        assert outcomes[f"BTC/{dataset}"].startswith("ok: exchange list changed: refetched; ")
        assert "exchange list changed: refetched" in status(lake).loc[dataset, "message"]
        frame = stored(lake, dataset)
        assert set(frame["exchange_list"]) == {fewer}
        step = SERIES[dataset][2]
        expected = [
            (int(float(r["time"])), float(r[LIQ[0]]), float(r[LIQ[1]]))
            for r in halved[("liquidation", "BTC", interval, fewer)]
            if r["time"] + step <= round(later.timestamp() * 1000)
        ]
        assert stored_tuples(lake, dataset) == expected
        assert lake.stored_days(DATASETS[dataset], "BTC")[0] == date(2025, 6, 1)
    starts = [int(p["start_time"]) for path, p in standin.requests
              if p.get("exchange_list") == fewer and p["interval"] == "1d"]  # fmt: skip
    assert min(starts) == round(pd.Timestamp("2019-01-01", tz="UTC").timestamp() * 1000)
    assert outcomes["BTC/liquidations_binance_1d"] == "ok: up to date"  # other series untouched
    again = fetch_coinglass(lake, settings, ["BTC"], later, FAST_RETRY)
    assert not again["BTC/liquidations_all_1d"].startswith("ok: exchange list changed")


def test_a_bar_revised_after_its_close_is_replaced_by_the_next_fetch(lake, standin) -> None:
    run(lake, standin)
    key = ("oi", "BTC", "4h", None)
    revised = [dict(r) for r in DATA[key]]
    revised[-2] = revised[-2] | {"close": revised[-2]["close"] + 1e6}  # 12:00, stored at 16:10
    standin.data = DATA | {key: revised}
    later = datetime(2025, 11, 14, 20, 10, tzinfo=NOW.tzinfo)
    outcome = run(lake, standin, later)["BTC/oi_aggregated_4h"]
    assert outcome.startswith("ok: 1 bars")  # 16:00 is new; 12:00 re-fetched, not counted
    assert stored_tuples(lake, "oi_aggregated_4h") == served_tuples(
        standin, "oi_aggregated_4h", later
    )
    oi = stored(lake, "oi_aggregated_4h").set_index("time")
    assert oi.loc[pd.Timestamp("2025-11-14 12:00", tz="UTC"), "close"] == revised[-2]["close"]
    assert len(oi) == 1080 and oi.index.is_unique


def test_upgrade_plan_marks_the_series_unavailable_once_and_goes_on(lake, standin) -> None:
    standin.min_interval_ms = 86_400_000  # a plan without 4h bars, and without maps
    outcomes = run(lake, standin)
    for dataset in SERIES:
        expected = "unavailable" if dataset.endswith("4h") else "ok"
        assert outcomes[f"BTC/{dataset}"].startswith(expected), dataset
        assert status(lake).loc[dataset, "outcome"] == expected
    for scope in ("aggregated", "binance"):
        assert "Upgrade plan" in outcomes[f"BTC/liquidation_map:{scope}"]
    assert all(standin.counts[path] == 1 for path in MAP_PATHS)  # asked once, not retried
    assert stored(lake, "oi_aggregated_4h").empty
    assert lake.stored_days(DATASETS["liquidation_map"], "BTC") == []
    assert stored_tuples(lake, "oi_aggregated_1d") == served_tuples(standin, "oi_aggregated_1d")


def test_maps_of_both_shapes_are_stored_by_scope(lake, standin) -> None:
    standin.plan_gated_paths.clear()
    run(lake, standin)
    maps = lake.read(DATASETS["liquidation_map"], "BTC", NOW.date(), NOW.date())
    aggregated, binance = (maps[maps["scope"] == s] for s in ("aggregated", "binance"))
    assert len(aggregated) == 41 and (aggregated["usd"] == 6e6).all()  # summed over 3 books
    assert (aggregated["last_price"] == 96_500.0).all() and aggregated["leverage"].isna().all()
    assert len(binance) == 41 * 3 and set(binance["leverage"]) == {10.0, 25.0, 50.0}
    assert (maps["range"] == "7d").all()
    standin.plan_gated_paths.add(MAP_PATHS[1])  # later that day the pair map is refused:
    run(lake, standin, NOW + timedelta(hours=1))  # the day's stored maps stay as they were
    again = lake.read(DATASETS["liquidation_map"], "BTC", NOW.date(), NOW.date())
    assert len(again[again["scope"] == "binance"]) == 41 * 3
    assert again[again["scope"] == "aggregated"]["fetched_at"].iloc[0] == pd.Timestamp(
        NOW + timedelta(hours=1)
    )


def test_a_429_is_retried_after_retry_after_and_logs_the_usage(lake, standin, caplog) -> None:
    standin.rate_limits.extend(["1", ""])
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="liqbrief.coinglass"):
        outcomes = run(lake, standin)
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 honoured (the back-off is 0.05 s)
    assert outcomes["BTC/oi_aggregated_1d"].startswith("ok")
    assert "used 31 of 30 requests this minute" in caplog.text
    for dataset in SERIES:
        assert stored_tuples(lake, dataset) == served_tuples(standin, dataset), dataset


def test_server_errors_are_retried_then_reported_without_touching_the_lake(lake, standin) -> None:
    standin.server_errors[HISTORY_PATHS and "/api/futures/open-interest/exchange-list"] = 2
    assert run(lake, standin)["BTC/oi_exchange_list"] == "ok: 22 rows"
    before = lake_files(lake_root(lake))
    standin.server_errors["/api/futures/open-interest/exchange-list"] = 99
    outcome = run(lake, standin, NOW + timedelta(minutes=5))["BTC/oi_exchange_list"]
    assert outcome.startswith("failed: oi_exchange_list BTC: Coinglass kept failing (HTTP 500)")
    assert "nothing was stored" in outcome
    assert lake_files(lake_root(lake)) == before
    snapshot = lake.read(DATASETS["oi_exchange_list"], "BTC", NOW.date(), NOW.date())
    assert (snapshot["fetched_at"] == pd.Timestamp(NOW)).all()  # the earlier fetch's rows


def test_a_series_that_kept_failing_stops_the_other_requests(lake, standin) -> None:
    """A 5xx outage: the first series uses up its retries; the rest are not asked, each
    reported as skipped (the lake untouched)."""
    standin.server_errors["/api/futures/open-interest/aggregated-history"] = 99
    outcomes = run(lake, standin)
    first = outcomes.pop("BTC/oi_aggregated_1d")
    assert first.startswith("failed: oi_aggregated_1d BTC: Coinglass kept failing (HTTP 500)")
    assert set(outcomes.values()) == {"failed: skipped: Coinglass kept failing"}
    assert sum(standin.counts.values()) == FAST_RETRY.attempts  # nothing asked after it
    assert set(status(lake)["outcome"]) == {"failed"}
    assert all(stored(lake, name).empty for name in SERIES)


def test_a_burst_of_429s_logs_one_warning(lake, standin, caplog) -> None:
    standin.rate_limits.extend(["", ""])  # two 429s in a row, then the answer
    with caplog.at_level(logging.WARNING, logger="liqbrief.coinglass"):
        outcomes = run(lake, standin)
    assert outcomes["BTC/oi_aggregated_1d"].startswith("ok")
    warnings = [r for r in caplog.records if "rate limit" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    standin.rate_limits.append("")  # a later, separate burst is worth its own warning
    with caplog.at_level(logging.WARNING, logger="liqbrief.coinglass"):
        run(lake, standin, NOW + timedelta(hours=5))
    assert len([r for r in caplog.records if "rate limit" in r.getMessage()]) == 2


def lake_root(lake: Lake):
    from pathlib import Path

    return Path(lake.root)


def test_a_bad_key_stops_coinglass_and_keeps_the_lake(lake, standin, caplog) -> None:
    run(lake, standin)
    before = {name: lake_files_bytes(lake, name) for name in SERIES}
    standin.clear_counts()
    later = datetime(2025, 11, 15, 0, 10, tzinfo=NOW.tzinfo)
    wrong = "wrong-key-0123456789"
    with caplog.at_level(logging.DEBUG):
        outcomes = run(lake, standin, later, key=wrong)
    assert sum(standin.counts.values()) == 1  # the first refusal stops the rest
    first = outcomes["BTC/oi_aggregated_1d"]
    assert first.startswith("bad-key: Coinglass refused COINGLASS_API_KEY ('Invalid API key")
    assert "unset COINGLASS_API_KEY" in first and wrong not in first
    assert all(o.startswith("bad-key") for o in outcomes.values())
    assert set(status(lake, later.date())["outcome"]) == {"bad-key"}
    assert {name: lake_files_bytes(lake, name) for name in SERIES} == before
    assert_key_absent(lake, caplog.text, outcomes, wrong)


def assert_key_absent(lake: Lake, logs: str, outcomes: dict[str, str], key: str) -> None:
    root = lake_root(lake)
    for name in lake_files(root):
        assert key.encode() not in (root / name).read_bytes(), name
    assert key not in logs and key not in repr(outcomes)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "without its JSON envelope"),
        (b'{"code": "0", "msg": "success"}', "success without data"),
        (b'{"code": "0", "msg": "success", "data": {"list": []}}', "expected a list of rows"),
        (b'{"code": "0", "data": [{"time": 1763136000000, "open": "x"}]}', "is not a number"),
        (f'{{"code": "500x", "msg": "bad {STANDIN_KEY}"}}'.encode(), "code 500x"),
    ],
)  # fmt: skip
def test_a_malformed_body_fails_the_series_and_stores_nothing(
    lake, standin, caplog, body, problem
) -> None:
    run(lake, standin)
    before = lake_files_bytes(lake, "oi_aggregated_4h"), lake_files_bytes(lake, "oi_aggregated_1d")
    standin.malformed["/api/futures/open-interest/aggregated-history"] = body
    later = datetime(2025, 11, 15, 0, 10, tzinfo=NOW.tzinfo)
    with caplog.at_level(logging.DEBUG):
        outcomes = run(lake, standin, later)
    for name in ("oi_aggregated_1d", "oi_aggregated_4h"):
        assert outcomes[f"BTC/{name}"].startswith("failed: ") and problem in outcomes[f"BTC/{name}"]
        assert status(lake, later.date()).loc[name, "outcome"] == "failed"
    assert (
        lake_files_bytes(lake, "oi_aggregated_4h"),
        lake_files_bytes(lake, "oi_aggregated_1d"),
    ) == before
    # the other series went on
    assert stored_tuples(lake, "liquidations_all_4h") == served_tuples(
        standin, "liquidations_all_4h", later
    )
    assert_key_absent(lake, caplog.text, outcomes, STANDIN_KEY)


def test_an_empty_answer_fails_the_series_and_keeps_what_is_stored(lake, standin) -> None:
    run(lake, standin)
    before = lake_files_bytes(lake, "liquidations_binance_1d")
    standin.empty_paths.add("/api/futures/liquidation/aggregated-history")
    later = datetime(2025, 11, 15, 0, 10, tzinfo=NOW.tzinfo)
    outcomes = run(lake, standin, later)
    assert outcomes["BTC/liquidations_binance_1d"].startswith(
        "failed: liquidations_binance_1d BTC: Coinglass answered no bars from 2025-11-13 00:00"
    )
    assert lake_files_bytes(lake, "liquidations_binance_1d") == before
    standin.empty_paths.clear()  # the next run fills the gap
    run(lake, standin, later)
    assert stored_tuples(lake, "liquidations_binance_1d") == served_tuples(
        standin, "liquidations_binance_1d", later
    )


def test_a_plan_depth_cut_is_reported_as_the_first_bar_received(lake, standin) -> None:
    standin.depth_bars["4h"] = 500  # a plan keeping 500 4h bars: cut without a word
    outcomes = run(lake, standin)
    first = pd.Timestamp("2025-11-14 16:00", tz="UTC") - pd.Timedelta(hours=4 * 499)
    assert status(lake).loc["oi_aggregated_4h", "first_time"] == first
    assert f"history starts {first:%Y-%m-%d %H:%M}" in outcomes["BTC/oi_aggregated_4h"]
    assert stored_tuples(lake, "oi_aggregated_4h") == [
        r
        for r in served_tuples(standin, "oi_aggregated_4h")
        if r[0] >= round(first.timestamp() * 1000)
    ]


def test_without_a_key_nothing_is_requested(lake, standin) -> None:
    settings = Settings(coinglass_url=standin.url)
    assert settings.coinglass_api_key is None or pytest.skip(
        "COINGLASS_API_KEY set in the environment"
    )
    assert fetch_coinglass(lake, settings, ["BTC"], NOW) == {
        "coinglass": "skipped: COINGLASS_API_KEY is not set"
    }
    assert sum(standin.counts.values()) == 0 and lake_files(lake_root(lake)) == []


def test_an_unreachable_server_fails_once_and_skips_the_rest(lake, standin) -> None:
    outcomes = run(lake, standin, url="http://127.0.0.1:9")
    first = outcomes.pop("BTC/oi_aggregated_1d")
    assert first.startswith("failed: unreachable: oi_aggregated_1d BTC: Coinglass kept failing")
    assert set(outcomes.values()) == {"failed: skipped: Coinglass unreachable"}
    assert set(status(lake)["outcome"]) == {"failed"}


def test_a_crash_mid_series_is_completed_by_the_rerun_without_duplicates(
    lake, standin, monkeypatch
) -> None:
    writes, real_write = [], Lake.write_day

    def crash_on_the_fourth_month(self, ds, day, table, entry):
        writes.append(ds.name)
        if ds.name == "oi_aggregated_4h" and writes.count(ds.name) == 4:
            raise RuntimeError("killed")  # the process dies between two month partitions
        return real_write(self, ds, day, table, entry)

    monkeypatch.setattr(Lake, "write_day", crash_on_the_fourth_month)
    with pytest.raises(RuntimeError):
        run(lake, standin)
    assert len(stored(lake, "oi_aggregated_4h")) > 0  # three months made it
    monkeypatch.setattr(Lake, "write_day", real_write)
    run(lake, standin)
    for dataset in SERIES:
        assert stored_tuples(lake, dataset) == served_tuples(standin, dataset), dataset


def test_a_crash_while_replacing_a_relisted_series_is_refetched_by_the_rerun(
    lake, standin, monkeypatch
) -> None:
    run(lake, standin)
    fewer, key = "Binance,OKX", ("liquidation", "BTC", "1d", DEFAULT_COINGLASS_EXCHANGES)
    standin.data = DATA | {("liquidation", "BTC", "1d", fewer): DATA[key]}
    settings = Settings(
        COINGLASS_API_KEY=STANDIN_KEY, coinglass_url=standin.url, coinglass_exchanges=fewer
    )
    writes, real_write = [], Lake.write_day

    def crash_on_the_second_month(self, ds, day, table, entry):
        writes.append(ds.name)
        if ds.name == "liquidations_all_1d" and writes.count(ds.name) == 2:
            raise RuntimeError("killed")
        return real_write(self, ds, day, table, entry)

    monkeypatch.setattr(Lake, "write_day", crash_on_the_second_month)
    with pytest.raises(RuntimeError):
        fetch_coinglass(lake, settings, ["BTC"], NOW, FAST_RETRY)
    assert len(set(stored(lake, "liquidations_all_1d")["exchange_list"])) == 2  # mixed
    monkeypatch.setattr(Lake, "write_day", real_write)
    outcome = fetch_coinglass(lake, settings, ["BTC"], NOW, FAST_RETRY)["BTC/liquidations_all_1d"]
    assert outcome.startswith("ok: exchange list changed: refetched")
    assert set(stored(lake, "liquidations_all_1d")["exchange_list"]) == {fewer}
    assert stored_tuples(lake, "liquidations_all_1d") == served_tuples(
        standin, "liquidations_all_1d"
    )


def test_the_task_fetches_each_coin_once_from_the_environment(
    standin, monkeypatch, tmp_path
) -> None:
    from datetime import UTC

    from flows.coinglass import extract_coinglass

    standin.now = datetime.now(UTC)  # the task runs at the real now: every served bar is closed
    monkeypatch.setenv("COINGLASS_API_KEY", STANDIN_KEY)
    monkeypatch.setenv("LIQBRIEF_COINGLASS_URL", standin.url)
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("LIQBRIEF_HTTP_ATTEMPTS", "1")
    outcomes = extract_coinglass.fn(["BTCUSDT", "BTCUSDC"])
    assert set(outcomes) == {f"BTC/{name}" for name in SERIES} | {
        "BTC/oi_exchange_list", "BTC/liquidations_exchange_list",
        "BTC/liquidation_map:aggregated", "BTC/liquidation_map:binance",
    }  # fmt: skip
    assert outcomes["BTC/oi_aggregated_1d"].startswith("ok: 180 bars")  # 2025-11-14 closed too
    lake = Lake(str(tmp_path / "lake"))
    assert stored_tuples(lake, "oi_aggregated_4h")[-1][0] == 1763136000000


def test_a_damaged_fetch_status_file_is_replaced_not_raised(lake, standin) -> None:
    run(lake, standin)
    path = lake.data_path(DATASETS["fetch_status"], "BTC", NOW.date())
    with open(path, "wb") as damaged:
        damaged.write(b"not parquet")
    outcomes = run(lake, standin, NOW + timedelta(minutes=1))
    assert outcomes["BTC/oi_aggregated_4h"] == "ok: up to date"
    assert set(status(lake).index) == {name.removeprefix("BTC/") for name in outcomes}
