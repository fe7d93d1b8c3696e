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
    map_comparison,
    market_rows,
    records_line,
    records_note,
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
NO_SNAPS = CoinglassSnapshots(status=NO_STATUS)
TEN = [
    "Binance",
    "OKX",
    "Bybit",
    "Bitget",
    "Gate",
    "HTX",
    "Hyperliquid",
    "Bitmex",
    "CoinEx",
    "Bitfinex",
]
KEYED = CoinglassSnapshots(
    status=NO_STATUS,
    history_start={"oi_aggregated_1d": date(2022, 8, 17), "liquidations_binance_1d": date(2021, 1, 3),
                   "liquidations_all_1d": date(2026, 1, 30)},
    liquidation_exchanges=TEN,
)  # fmt: skip


def snaps(status: pd.DataFrame, fetched_on: date | None) -> CoinglassSnapshots:
    return CoinglassSnapshots(status=status, fetched_on=fetched_on)


def test_the_records_line_reads_like_the_desk_note() -> None:
    line = records_line("BTCUSDT", RECORDS, {"binance_oi_share_pct": 13.24}, "x", KEYED)
    assert line == (
        "All-market BTC open interest $67.1B (Binance BTCUSDT 13.2 % — the book mapped here), "
        "29 % below its record since 17 Aug 2022 (Coinglass history) $94.1B of 6 Oct 2025. "
        "Realised liquidations yesterday, 10 exchanges, $620M (Binance $95.0M); the largest "
        "day since 30 Jan 2026 (Coinglass history) $19.2B on 10 Oct 2025."
    )


def test_the_records_note_says_where_history_starts_and_what_is_summed() -> None:
    assert records_note(RECORDS, KEYED) == (
        "Market-wide records start with Coinglass history: open interest 17 Aug 2022, Binance "
        "liquidations 3 Jan 2021, all-market liquidations 30 Jan 2026. All-market liquidations: "
        "10 exchanges (see Methods)."
    )
    assert records_note(RECORDS, NO_SNAPS) == ""  # no Coinglass bars stored: nothing to say


def test_records_set_today_and_an_unknown_share() -> None:
    at_record = {
        ("all-market", "oi_usd"): record(99e9, 99e9, DAY, 1),
        ("all-market", "realised_liquidated_usd"): record(20e9, 20e9, DAY, 1),
    }
    line = records_line("BTCUSDT", at_record, {"binance_oi_share_pct": math.nan}, None, KEYED)
    assert line == (
        "All-market BTC open interest $99.0B, at its record since 17 Aug 2022 (Coinglass "
        "history). Realised liquidations yesterday, 10 exchanges, $20.0B, the largest day "
        "since 30 Jan 2026 (Coinglass history)."
    )


def test_without_market_wide_rows_the_line_is_binance_only() -> None:
    binance = {("binance", "oi_usd"): record(5e9, 6e9, DAY, 3)}
    line = records_line("BTCUSDT", binance, None, "BTC open interest is 17 % below …", NO_SNAPS)
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
        "BTC: no Coinglass all-market realised liquidations (daily): the fetch failed.",
        "BTC: no Coinglass liquidation map (all exchanges, Binance pair): not in the API plan.",
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
    line = records_line("BTCUSDT", {}, None, None, snaps(ok, DAY))
    assert line == "Binance only — Coinglass gave no all-market figures for this date."
    refused = ok.assign(outcome="bad-key", message="Coinglass refused COINGLASS_API_KEY")
    assert "the API key was refused" in records_line("BTCUSDT", {}, None, None, snaps(refused, DAY))
    later = CoinglassSnapshots(status=ok, fetched_on=DAY + timedelta(days=30))
    market = {"all_market_oi_usd": 68e9, "binance_oi_share_pct": 6.8}
    assert coverage_lines("BTCUSDT", later, market, {}, DAY)[-1].startswith(
        "BTC: no Coinglass fetch on 14 Nov 2025"
    )


def test_a_fetch_on_another_day_speaks_only_of_the_dates_bars() -> None:
    """P2-6: a backfilled date lists what its bars gave, never the other day's snapshots."""
    status = pd.DataFrame(
        {
            "series": ["oi_aggregated_1d", "oi_exchange_list", "liquidation_map:binance"],
            "outcome": ["ok", "ok", "unavailable"],
            "message": ["", "", "Upgrade plan"],
        }
    )
    market = {"all_market_oi_usd": 68e9, "realised_liq_usd": 1e8, "binance_oi_share_pct": 6.8}
    lines = coverage_lines("BTCUSDT", snaps(status, DAY + timedelta(days=3)), market, {}, DAY)
    text = " ".join(lines)
    assert "this run had" not in text and "open interest by exchange" not in text
    assert "liquidation map (" not in text
    assert (
        "BTC: Coinglass daily bars for 14 Nov 2025: all-market open interest, Binance realised "
        "liquidations." in lines
    )
    assert lines[-1].startswith("BTC: no Coinglass fetch on 14 Nov 2025")


def test_a_refused_key_is_said_once_without_what_was_merely_up_to_date() -> None:
    """P2-5/P2-7: bars up to date ("ok" without a request) beside a refused key: one line,
    no "data this run had", no operator instructions."""
    status = pd.DataFrame(
        {
            "series": ["oi_aggregated_1d", "liquidations_all_1d", "oi_exchange_list"],
            "outcome": ["ok", "bad-key", "bad-key"],
            "message": ["up to date", "Coinglass refused COINGLASS_API_KEY (HTTP 401): check the "
                        "key set in the environment or unset COINGLASS_API_KEY", "skipped"],
        }
    )  # fmt: skip
    lines = coverage_lines("BTCUSDT", snaps(status, DAY), {"all_market_oi_usd": 68e9}, {}, DAY)
    assert lines == [
        "BTC: Coinglass refused the API key on 14 Nov 2025; market-wide figures are those "
        "stored before."
    ]


def test_the_methods_box_names_the_summed_exchanges() -> None:
    lines = coverage_lines("BTCUSDT", KEYED, {"all_market_oi_usd": 68e9}, RECORDS, DAY)
    assert (
        "BTC: all-market realised liquidations sum 10 exchanges (Binance, OKX, Bybit, Bitget, "
        "Gate, HTX, Hyperliquid, Bitmex, CoinEx, Bitfinex); all-market open interest is all "
        "exchanges." in lines
    )


def test_the_share_row_names_the_symbols_book() -> None:
    rows = market_rows("BTCUSDT", {"all_market_oi_usd": 68e9, "binance_oi_share_pct": 11.2})
    assert rows[0][2] == "Binance BTCUSDT share of all-market OI"
    assert all("Binance share" not in cell for row in rows for cell in row)


SUMMARY = {"p0": 100_000.0} | {
    f"cum_{side}_{x}pct": 1e6 * x for side in ("long", "short") for x in (2, 3, 5)
}


def cg_map(prices: list[float], last_price: float = math.nan) -> CoinglassSnapshots:
    frame = pd.DataFrame(
        {
            "fetched_at": pd.Timestamp("2025-11-14 16:10", tz="UTC"),
            "scope": "binance",
            "range": "7d",
            "price": prices,
            "usd": 5e6,
            "last_price": last_price,
        }
    )
    return CoinglassSnapshots(status=NO_STATUS, liquidation_map=frame)


def test_a_map_without_levels_near_the_price_says_so_instead_of_zeros() -> None:
    table, note = map_comparison(SUMMARY, cg_map([50_000.0, 150_000.0]))
    assert table is None
    assert note == "No Coinglass levels (Binance pair map) within ±5 % of our 00:00 mark 100,000."


def test_the_reference_price_is_attributed_to_whoever_gave_it() -> None:
    _, ours = map_comparison(SUMMARY, cg_map([98_000.0, 102_000.0]))
    assert "summed around our 00:00 mark 100,000" in ours and "its price" not in ours
    table, theirs = map_comparison(SUMMARY, cg_map([98_000.0, 102_000.0], last_price=99_500.0))
    assert table is not None and "summed around its last price 99,500" in theirs


def test_a_refused_key_with_nothing_stored_does_not_claim_earlier_figures() -> None:
    status = pd.DataFrame({"series": ["oi_aggregated_1d"], "outcome": ["bad-key"], "message": [""]})
    lines = coverage_lines("BTCUSDT", snaps(status, DAY), None, {}, DAY)
    assert lines == [
        "BTC: Coinglass refused the API key on 14 Nov 2025; no market-wide figures are stored "
        "for this date."
    ]
