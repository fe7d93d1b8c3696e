"""The venue REST sources through ccxt's real code path (aiohttp) against loopback stand-ins
speaking each venue's format: the lake ends with exactly the rows served, gaps are warned
about, the known pitfalls are handled, and the archive replaces Binance's REST days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import build_archive
from liqbrief.testing.venue_standin import OKX_OI_DEPTH, VenueStandin, synthetic_value
from sources.binance_archive.ingest import ingest as archive_ingest
from sources.retry_policy import RetryPolicy
from sources.venues.fetchers import SERIES
from sources.venues.ingest import ingest_venue_async
from sources.venues.report import VenueReport
from store.datasets import market_dataset
from store.lake import Lake

RETRY = RetryPolicy(attempts=5, initial_wait_s=0.01, max_wait_s=0.05)

pytestmark = pytest.mark.server

NOW = datetime(2026, 11, 25, 14, 7, 30, tzinfo=UTC)
START, END = date(2026, 11, 24), date(2026, 11, 25)
DATASETS = ("metrics", "klines_5m", "mark_klines_1m", "funding_rate")
CANDLE_PATHS = {  # OKX candles come from the recent or the history path (ccxt picks by age)
    "/api/v5/market/history-candles": "/api/v5/market/candles",
    "/api/v5/market/history-mark-price-candles": "/api/v5/market/mark-price-candles",
}


def fetch(lake: Lake, standin: VenueStandin, start=START, end=END, now=NOW, **kw) -> VenueReport:
    import asyncio

    return asyncio.run(
        ingest_venue_async(
            lake, standin.venue, standin.base_url, "BTCUSDT", start, end,
            now=now, policy=RETRY, **kw,
        )
    )  # fmt: skip


def served_times(standin: VenueStandin, name: str, now: datetime = NOW) -> set[int]:
    """Row times (ms) the stand-in served for a dataset, final at ``now`` (klines closed)."""
    path = SERIES[standin.venue][name].endpoint
    times = standin.served[path] | standin.served.get(CANDLE_PATHS.get(path, ""), set())
    step = {"klines_5m": 300_000, "mark_klines_1m": 60_000}.get(name)
    now_ms = int(now.timestamp() * 1000)
    return {t for t in times if (t + step <= now_ms if step else t <= now_ms)}


def stored_times(lake: Lake, venue: str, name: str, start=START, end=END) -> list[int]:
    ds = market_dataset(venue, name)
    column = lake.read_table(ds, "BTCUSDT", start, end).column(ds.time_column)
    return [int(v) // 1000 for v in column.cast("int64").to_pylist()]


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
def test_lake_ends_with_exactly_the_served_rows_through_every_fault(lake: Lake, venue: str) -> None:
    with VenueStandin(venue, NOW) as standin:
        standin.retry_after_s = 0
        paths = {name: SERIES[venue][name].endpoint for name in DATASETS}
        standin.fail_next(paths["metrics"], "429", "malformed", "envelope")
        standin.fail_next(paths["mark_klines_1m"], "418", "ok", "repeat", "empty")
        standin.fail_next(paths["klines_5m"], "malformed")
        report = fetch(lake, standin)
        assert report.failures == []
        for name in DATASETS:
            stored = stored_times(lake, venue, name)
            assert len(stored) == len(set(stored)), name  # the repeated page stored once
            assert set(stored) == served_times(standin, name), name
        # the repeated and the empty page each left a window of 1-minute marks unserved: warned
        mark_warnings = [w for w in report.warnings if "mark_klines_1m" in w]
        assert mark_warnings and all("missing after paging" in w for w in mark_warnings)
        due_ms = int(NOW.timestamp() * 1000) - 10 * 60_000  # a bar just due is no gap yet
        start_ms = int(datetime(2026, 11, 24, tzinfo=UTC).timestamp() * 1000)
        due = set(range(start_ms, due_ms - 60_000 + 1, 60_000))
        unserved = due - served_times(standin, "mark_klines_1m")
        assert len(unserved) >= 200  # two windows: the repeated page's and the empty one's
        missing = sum(int(w.split(": ")[1].split(" of")[0]) for w in mark_warnings)
        assert missing == len(unserved)
        ledger = lake.ledger_entry(market_dataset(venue, "metrics"), "BTCUSDT", START)
        assert ledger.source_url == f"rest:{venue}:{paths['metrics']}"
        assert ledger.rows == 288 and ledger.missing_rows == 0


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
def test_values_are_one_sided_base_units_and_a_rerun_asks_nothing(lake: Lake, venue: str) -> None:
    with VenueStandin(venue, NOW) as standin:
        report = fetch(lake, standin)
        assert report.failures == [] and report.days_stored == 8
        metrics = lake.read(market_dataset(venue, "metrics"), "BTCUSDT", START, END)
        times = [round(t.timestamp() * 1000) for t in metrics["create_time"]]
        expected = [synthetic_value("oi", t) for t in times]
        # Bybit sends both sides (openInterest) and one side; OKX sends contracts × 0.01
        np.testing.assert_allclose(metrics["sum_open_interest"], expected, rtol=1e-9)
        # the account ratio (Bybit sends buy and sell shares: their quotient, rounded)
        ratios = {"count_long_short_ratio": "account"} | (
            {"count_toptrader_long_short_ratio": "top_account",
             "sum_toptrader_long_short_ratio": "top_position",
             "sum_taker_long_short_vol_ratio": "taker"} if venue == "binance" else {}
        )  # fmt: skip
        for column, kind in ratios.items():
            want = [synthetic_value(kind, t) for t in times]
            np.testing.assert_allclose(metrics[column], want, rtol=1e-4, err_msg=column)
        if venue != "binance":
            assert metrics["sum_taker_long_short_vol_ratio"].isna().all()
        # the quote volume the engine's entry VWAP needs (ccxt's unified OHLCV drops it)
        klines = lake.read(market_dataset(venue, "klines_5m"), "BTCUSDT", START, END)
        assert (klines["volume"] > 0).all()
        np.testing.assert_allclose(
            klines["quote_volume"], klines["volume"] * klines["close"], rtol=1e-6
        )
        marks = lake.read(market_dataset(venue, "mark_klines_1m"), "BTCUSDT", START, END)
        first = int(marks["open_time"].iloc[0].timestamp() * 1000)
        assert marks["open"].iloc[0] == synthetic_value("price", first)
        asked = standin.total_requests
        again = fetch(lake, standin, start=START, end=START)  # a complete day: nothing to ask
        assert standin.total_requests == asked and again.days_stored == 0
        assert again.days_skipped == len(DATASETS)


def test_bybit_pages_open_interest_by_cursor_with_since_and_until(lake: Lake) -> None:
    with VenueStandin("bybit", NOW) as standin:
        fetch(lake, standin, datasets=("metrics",))
        # 458 bars in windows of 500 bars, 200 a page: 3 cursor pages (the stand-in refuses
        # startTime without endTime, as Bybit does); the account ratio in one page of 500
        assert standin.requests["/v5/market/open-interest"] == 3
        assert standin.requests["/v5/market/account-ratio"] == 1
        assert len(stored_times(lake, "bybit", "metrics")) == 288 + 14 * 12 + 2


def test_bybit_open_interest_without_the_one_side_field_is_halved(lake: Lake) -> None:
    class BothSidesOnly(VenueStandin):
        def answer(self, path, query):
            status, body, headers = super().answer(path, query)
            if path == "/v5/market/open-interest" and isinstance(body, dict):
                for row in body["result"].get("list", []):
                    del row["singleOpenInterest"]
            return status, body, headers

    with BothSidesOnly("bybit", NOW) as standin:
        report = fetch(lake, standin, datasets=("metrics",))
    metrics = lake.read(market_dataset("bybit", "metrics"), "BTCUSDT", START, START)
    t = int(metrics["create_time"].iloc[5].timestamp() * 1000)
    assert metrics["sum_open_interest"].iloc[5] == pytest.approx(synthetic_value("oi", t))
    assert any("openInterest / 2" in w for w in report.warnings)


def test_okx_keeps_what_its_short_open_interest_history_serves_and_says_so(lake: Lake) -> None:
    start = (NOW - timedelta(days=7)).date()
    with VenueStandin("okx", NOW) as standin:
        report = fetch(lake, standin, start=start, datasets=("metrics",))
    stored = stored_times(lake, "okx", "metrics", start=start)
    assert len(stored) == OKX_OI_DEPTH  # the latest 1,440 points, nothing older
    gap_days = [w for w in report.warnings if "okx metrics" in w]
    assert gap_days and all("1,440" in w for w in gap_days)
    # 7 days back: 18 and 19 November got nothing (stored empty, the gap in the ledger, so
    # a re-run does not ask again), the 20th only its last hours
    assert len(gap_days) == 3 and report.days_stored == 8
    ds = market_dataset("okx", "metrics")
    empty = lake.ledger_entry(ds, "BTCUSDT", date(2026, 11, 18))
    assert empty.rows == 0 and empty.missing_rows == 288
    with VenueStandin("okx", NOW) as standin:
        again = fetch(
            lake, standin, start=start, end=END - timedelta(days=1), datasets=("metrics",)
        )
        assert standin.total_requests == 0 and again.days_skipped == 7


def test_funding_every_hour_leaves_no_hole(lake: Lake) -> None:
    """ccxt's own Binance funding paging steps 8 h per row and leaves holes; ours does not."""
    start = date(2026, 11, 1)
    with VenueStandin("binance", NOW) as standin:
        standin.funding_ms = 3_600_000
        report = fetch(lake, standin, start=start, datasets=("funding_rate",))
    funding = lake.read(market_dataset("binance", "funding_rate"), "BTCUSDT", start, END)
    assert len(funding) == 24 * 24 + 15 and report.failures == []
    assert set(funding["funding_interval_hours"]) == {1}


def test_a_long_ban_fails_that_series_clearly_and_leaves_its_days_alone(lake: Lake) -> None:
    with VenueStandin("binance", NOW) as standin:
        standin.retry_after_s = 600
        standin.fail_next("/fapi/v1/klines", "418")
        report = fetch(lake, standin, datasets=("klines_5m", "metrics"))
    assert len(report.failures) == 1 and "Retry-After" in report.failures[0]
    assert "600 s" in report.failures[0]
    assert stored_times(lake, "binance", "klines_5m") == []
    assert len(stored_times(lake, "binance", "metrics")) > 0


def test_archive_rows_replace_binance_rest_rows_when_the_archive_publishes(lake: Lake) -> None:
    day = START
    with VenueStandin("binance", NOW) as standin:
        fetch(lake, standin, start=day, end=day, datasets=("klines_5m",))
    ds = market_dataset("binance", "klines_5m")
    assert lake.ledger_entry(ds, "BTCUSDT", day).source_url == "rest:binance:/fapi/v1/klines"
    with ArchiveMirror() as mirror:
        mirror.add(build_archive(["BTCUSDT"], ["klines_5m"], day, day))
        report = archive_ingest(
            lake, mirror.base_url, ["BTCUSDT"], ["klines_5m"], day, day,
            retry=RETRY, today=NOW.date(),
        )  # fmt: skip
        archive_url = mirror.base_url
    assert report.count("ingested") == 1  # the REST day did not block the archive
    entry = lake.ledger_entry(ds, "BTCUSDT", day)
    assert entry.source_url.startswith(archive_url)
    assert entry.replaces == "rest:binance:/fapi/v1/klines"
    stored = lake.read(ds, "BTCUSDT", day, day)
    assert len(stored) == 288 and stored["open"].iloc[0] != synthetic_value("price", 0)
    # and the REST side now leaves the archive's day alone
    with VenueStandin("binance", NOW) as standin:
        again = fetch(lake, standin, start=day, end=day, datasets=("klines_5m",))
        assert standin.total_requests == 0 and again.days_skipped == 1


def test_thirty_days_of_binance_open_interest_land_whole_in_bounded_pages(lake: Lake) -> None:
    """More pages than ccxt's 10 a call, every one with both bounds (a since alone is clamped
    to the latest window): 30 days of 5-minute OI, all 8,640 bars."""
    start = NOW.date() - timedelta(days=30)
    end = NOW.date() - timedelta(days=1)
    with VenueStandin("binance", NOW) as standin:
        report = fetch(lake, standin, start=start, end=end, datasets=("metrics",))
        oi = [q for p, q in standin.queries if p == "/futures/data/openInterestHist"]
    assert report.failures == [] and report.warnings == []
    assert len(stored_times(lake, "binance", "metrics", start, end)) == 30 * 288
    assert len(oi) == 18 and all("startTime" in q and "endTime" in q for q in oi)
    assert all(int(q["limit"]) <= 500 for q in oi)


@pytest.mark.parametrize("venue", ["bybit", "okx"])
def test_every_page_is_bounded_on_both_sides(lake: Lake, venue: str) -> None:
    bounds = {
        "bybit": (("start", "end"), ("startTime", "endTime")),
        "okx": (("before", "after"), ("begin", "end")),
    }
    with VenueStandin(venue, NOW) as standin:
        fetch(lake, standin, start=END, end=END, datasets=(*DATASETS, "klines_1m"))
        pages = [(p, q) for p, q in standin.queries if "instrument" not in p]
    assert len(pages) > len(DATASETS)  # every series paged, the ratio too
    for path, query in pages:
        assert any(set(pair) <= set(query) for pair in bounds[venue]), (path, query)
    assert len(stored_times(lake, venue, "klines_1m", END, END)) == 14 * 60 + 7


def test_a_429_waits_what_retry_after_says(lake: Lake) -> None:
    import time

    with VenueStandin("bybit", NOW) as standin:
        standin.retry_after_s = 1  # the policy's own back-off is 0.01 s
        standin.fail_next("/v5/market/funding/history", "429")
        t0 = time.perf_counter()
        report = fetch(lake, standin, start=END, end=END, datasets=("funding_rate",))
        waited = time.perf_counter() - t0
    assert report.failures == [] and standin.requests["/v5/market/funding/history"] == 2
    assert waited >= 1.0
    assert len(stored_times(lake, "bybit", "funding_rate", END, END)) == 2


def test_a_bad_venue_partition_names_the_command_that_refetches_it() -> None:
    from store.errors import repair_command

    assert repair_command("okx/mark_klines_1m", "BTCUSDT", START, END) == (
        "liqbrief extract --venues okx --symbols BTCUSDT --datasets mark_klines_1m "
        "--start 2026-11-24 --end 2026-11-25 --force"
    )


def test_bybit_sides_that_disagree_are_said_and_one_side_is_stored(lake: Lake) -> None:
    class Disagreeing(VenueStandin):
        def answer(self, path, query):
            status, body, headers = super().answer(path, query)
            if path == "/v5/market/open-interest" and isinstance(body, dict):
                for row in body["result"].get("list", []):
                    row["openInterest"] = row["singleOpenInterest"]  # one side twice over?
            return status, body, headers

    with Disagreeing("bybit", NOW) as standin:
        report = fetch(lake, standin, start=START, end=START, datasets=("metrics",))
    metrics = lake.read(market_dataset("bybit", "metrics"), "BTCUSDT", START, START)
    t = int(metrics["create_time"].iloc[0].timestamp() * 1000)
    assert metrics["sum_open_interest"].iloc[0] == pytest.approx(synthetic_value("oi", t))
    assert any("not twice singleOpenInterest" in w for w in report.warnings)


@pytest.mark.parametrize("venue", ["bybit", "okx"])
def test_an_instrument_list_that_is_not_json_is_retried_not_taken_for_an_unknown_symbol(
    lake: Lake, venue: str
) -> None:
    """An HTML page where the instrument list should be left ccxt with no markets, so open
    interest said "does not have market symbol" (a refusal, not retried). It is a malformed
    reply: retried (the list is loaded again and the rows land), and if it persists the
    failure says so, with no Python exception's text; klines need no instrument list."""
    path = "/v5/market/instruments-info" if venue == "bybit" else "/api/v5/public/instruments"
    with VenueStandin(venue, NOW) as standin:
        standin.fail_next(path, "malformed")
        report = fetch(lake, standin, datasets=("metrics",))
    assert not report.failures, report.failures
    assert stored_times(lake, venue, "metrics") == sorted(served_times(standin, "metrics"))
    with VenueStandin(venue, NOW) as standin:
        standin.fail_next(path, *["malformed"] * 50)
        report = fetch(
            lake, standin, start=END, end=END, datasets=("metrics", "klines_5m"), force=True
        )
    assert len(report.failures) == 1 and report.failures[0].startswith("metrics"), report
    assert "instrument list was empty or not the venue's JSON" in report.failures[0]
    assert "BadSymbol" not in report.failures[0] and "Error" not in report.failures[0]
    assert report.rows == {"klines_5m": len(served_times(standin, "klines_5m"))}
