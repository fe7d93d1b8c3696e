"""The market-wide sentences and lines from literal rows: the records line's wording in each
case, the exchange-list shares, and one line per reason Coinglass gave nothing."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd

from reports.market_wide import (
    BINANCE_ONLY,
    CoinglassSnapshots,
    coverage_lines,
    exchange_share_line,
    records_line,
)

DAY = date(2025, 11, 14)


def record(value: float, best: float, best_date: date, rank: int) -> dict:
    return {"value": value, "all_time_max": best, "all_time_date": best_date,
            "pct_of_record": value / best * 100, "rank": rank}  # fmt: skip


RECORDS = {
    ("all-market", "oi_usd"): record(67.1e9, 94.1e9, date(2025, 10, 6), 40),
    ("all-market", "realised_liquidated_usd"): record(620e6, 19.2e9, date(2025, 10, 10), 12),
    ("binance", "realised_liquidated_usd"): record(95e6, 2.1e9, date(2025, 10, 10), 15),
}
NO_STATUS = pd.DataFrame(columns=["series", "outcome", "message"])


def test_the_records_line_reads_like_the_desk_note() -> None:
    line = records_line("BTCUSDT", RECORDS, {"binance_oi_share_pct": 13.24}, "x", NO_STATUS)
    assert line == (
        "All-market BTC open interest $67.1B (Binance BTCUSDT 13.2 % — the book mapped here), "
        "29 % below its record $94.1B of 6 Oct 2025. Realised liquidations yesterday $620M "
        "(Binance $95.0M); the largest day on record $19.2B on 10 Oct 2025."
    )


def test_records_set_today_and_an_unknown_share() -> None:
    at_record = {
        ("all-market", "oi_usd"): record(99e9, 99e9, DAY, 1),
        ("all-market", "realised_liquidated_usd"): record(20e9, 20e9, DAY, 1),
    }
    line = records_line("BTCUSDT", at_record, {"binance_oi_share_pct": math.nan}, None, NO_STATUS)
    assert line == (
        "All-market BTC open interest $99.0B, at a record. Realised liquidations yesterday "
        "$20.0B, the largest day on record."
    )


def test_without_market_wide_rows_the_line_is_binance_only() -> None:
    binance = {("binance", "oi_usd"): record(5e9, 6e9, DAY, 3)}
    line = records_line("BTCUSDT", binance, None, "BTC open interest is 17 % below …", NO_STATUS)
    assert line == f"{BINANCE_ONLY} BTC open interest is 17 % below …"


def test_exchange_shares_are_of_the_all_row_with_the_fetch_time() -> None:
    frame = pd.DataFrame(
        {
            "fetched_at": pd.Timestamp("2025-11-14 16:10", tz="UTC"),
            "exchange": ["All", "CME", "Binance", "OKX"],
            "open_interest_usd": [200.0, 50.0, 40.0, 110.0],
        }
    )
    assert exchange_share_line("BTC", frame) == (
        "BTC: Coinglass exchange list at 14 Nov 2025 16:10 UTC ($200 in all): OKX 55.0 %, "
        "CME 25.0 %, Binance (all BTC futures) 20.0 %."
    )


def test_each_reason_gets_one_line_and_what_the_run_had_is_named() -> None:
    status = pd.DataFrame(
        {
            "series": ["liquidation_map:binance", "oi_aggregated_1d", "liquidation_map:aggregated",
                       "liquidations_all_1d"],
            "outcome": ["unavailable", "ok", "unavailable", "failed"],
            "message": ["Upgrade plan", "up to date", "Upgrade plan", "HTTP 500 Server Error"],
        }
    )  # fmt: skip
    market = {"all_market_oi_usd": 68e9, "binance_oi_share_pct": 6.8}
    lines = coverage_lines(
        "BTCUSDT", CoinglassSnapshots(status=status, fetched_on=DAY), market, {}, DAY
    )
    assert lines == [
        "BTC: Binance BTCUSDT, the book mapped here, held 6.8 % of all-market BTC open interest "
        "at 00:00 UTC 14 Nov 2025 (Coinglass aggregated open interest).",
        "BTC: Coinglass data this run had: all-market open interest (daily).",
        "BTC: no Coinglass all-market realised liquidations (daily): the fetch failed — HTTP 500 "
        "Server Error.",
        "BTC: no Coinglass liquidation map (all exchanges, Binance pair): not in the API plan — "
        "Upgrade plan.",
    ]


def test_no_key_no_data_is_one_binance_only_line() -> None:
    assert coverage_lines("BTCUSDT", CoinglassSnapshots(status=NO_STATUS), None, {}, DAY) == [
        f"BTC: {BINANCE_ONLY}"
    ]


def test_a_date_without_a_fetch_says_the_snapshots_are_live_only() -> None:
    """A backfilled date: market-wide figures from the bars, but no snapshot taken that day."""
    market = {"all_market_oi_usd": 68e9, "binance_oi_share_pct": 6.8}
    lines = coverage_lines("BTCUSDT", CoinglassSnapshots(status=NO_STATUS), market, {}, DAY)
    assert lines[-1] == (
        "BTC: no Coinglass fetch on 14 Nov 2025: its live snapshots (exchange list, liquidation "
        "map) exist only for the days they were taken."
    )
    assert len(lines) == 2 and "6.8 %" in lines[0]


def test_what_the_run_had_is_grouped_by_kind() -> None:
    status = pd.DataFrame(
        {
            "series": ["oi_aggregated_4h", "oi_aggregated_1d", "oi_exchange_list"],
            "outcome": ["ok", "ok", "ok"],
            "message": ["", "", ""],
        }
    )
    market = {"all_market_oi_usd": 68e9}
    lines = coverage_lines(
        "BTCUSDT", CoinglassSnapshots(status=status, fetched_on=DAY), market, {}, DAY
    )
    assert (
        "BTC: Coinglass data this run had: all-market open interest (daily, 4-hourly), open "
        "interest by exchange." in lines
    )


def test_a_backfilled_date_takes_the_reason_from_the_run_that_fetched() -> None:
    """A date before the history Coinglass gave, fetched by a later run: the line says
    Coinglass had nothing for the date (not 'set the key'); a refused key says so."""
    ok = pd.DataFrame(
        {"series": ["oi_aggregated_1d"], "outcome": ["ok"], "message": ["up to date"]}
    )
    line = records_line("BTCUSDT", {}, None, None, ok)
    assert line == "Binance only — Coinglass gave no all-market figures for this date."
    refused = ok.assign(outcome="bad-key", message="Coinglass refused COINGLASS_API_KEY")
    assert "the API key was refused" in records_line("BTCUSDT", {}, None, None, refused)
    later = CoinglassSnapshots(status=ok, fetched_on=DAY + timedelta(days=30))
    market = {"all_market_oi_usd": 68e9, "binance_oi_share_pct": 6.8}
    assert coverage_lines("BTCUSDT", later, market, {}, DAY)[-1].startswith(
        "BTC: no Coinglass fetch on 14 Nov 2025"
    )
