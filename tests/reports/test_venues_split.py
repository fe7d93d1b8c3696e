"""The aggregated map's venues in the briefing (reports/venues.py): the split's rows sum to
the bands, the coverage sentence never sums a part of the book's open interest."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from reports.venues import VenueCoverage, band_totals, coverage_sentence, split_table

P0 = 100_000.0


def bins(rows: list[tuple[float, str, float]]) -> pd.DataFrame:
    """(bin_lo, side, notional) rows of $1,000 bins."""
    frame = pd.DataFrame(rows, columns=["bin_lo", "side", "notional_usd"])
    return frame.assign(bin_hi=frame["bin_lo"] + 1_000)


def test_bands_follow_the_key_levels_rule_and_the_rows_sum_to_the_total() -> None:
    binance = bins([(98_000, "long", 10.0), (97_000, "long", 1.0), (95_000, "long", 5.0),
                    (100_000, "short", 7.0), (101_000, "short", 3.0), (104_000, "short", 2.0),
                    (94_000, "long", 99.0), (105_000, "short", 99.0), (100_000, "long", 50.0)])  # fmt: skip
    bybit = bins([(98_000, "long", 4.0), (101_000, "short", 6.0)])
    # −2 %: bins starting in [98,000, 100,000); +2 %: ending in (100,000, 102,000]
    assert band_totals(binance, P0) == {
        "long_2": 10.0, "short_2": 10.0, "long_5": 16.0, "short_5": 12.0
    }  # fmt: skip
    table = split_table(
        VenueCoverage(["binance", "bybit"], bins={"binance": binance, "bybit": bybit}), P0
    )
    assert [r[0] for r in table.rows] == ["Binance", "Bybit", "Binance + Bybit"]
    assert table.rows[-1][1:5] == ["$14", "$20", "$16", "$18"]
    assert table.rows[0][5] == "74 %" and table.rows[1][5] == "26 %" and table.rows[2][5] == "100 %"


@pytest.mark.parametrize(
    ("oi", "all_market", "expected"),
    [
        ({"binance": 6e9, "bybit": 2e9}, 20e9, "($8.00B open interest, 40.0 % of all-market BTC open interest)."),
        ({"binance": 6e9, "bybit": 2e9}, math.nan, "($8.00B open interest)."),
        ({"binance": 6e9, "bybit": math.nan}, 20e9, "Book mapped: Binance + Bybit BTCUSDT perpetuals."),
    ],
)  # fmt: skip
def test_the_coverage_sentence_names_the_venues_and_their_share(oi, all_market, expected) -> None:
    coverage = VenueCoverage(["binance", "bybit"], {"okx": "HTTP 503"}, oi_usd=oi)
    text = coverage_sentence("BTCUSDT", coverage, all_market)
    assert text.startswith("Book mapped: Binance + Bybit BTCUSDT perpetuals")
    assert expected in text and "Missing: OKX" in text
