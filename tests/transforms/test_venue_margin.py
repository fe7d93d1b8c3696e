"""Bybit's and OKX's isolated liquidation prices against hand-computed vectors, to the cent.

Bybit (Help Center, "Liquidation Price (USDT Contract)"): long LP = E − (IM − MM)/Q,
short LP = E + (IM − MM)/Q, IM = Q·E/L, MM = Q·E·mmr − deduction; per unit of E:
long E·(1 − 1/L + mmr − ded/N), short E·(1 + 1/L − mmr + ded/N).
OKX (Help Center, "Tiered maintenance margin ratio rules", isolated USDT-margined): liquidated
when margin + PnL = ctVal·|sz|·mark·(mmr + fee); long E·(1 − 1/L)/(1 − mmr − fee),
short E·(1 + 1/L)/(1 + mmr + fee). Fee 0 unless a test says otherwise (README, The model).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from sources.reference_data import ReferenceDataError, load_margin_rules
from transforms.liqmap.cohorts import open_cohorts
from transforms.liqmap.config import ModelConfig, TierMix
from transforms.liqmap.inputs import build_bars
from transforms.liquidation_price import bracket_for
from transforms.venue_margin import check_venue_brackets, tier_terms, venue_liquidation_price

E = 100_000.0
N = 10_000.0  # tier 1 on both venues

# Bybit tier 1 (mmr 0.5 %, deduction 0): by hand from the formula above
#   10x  long 100,000·(1 − 0.1 + 0.005) = 90,500.00    short ·(1 + 0.1 − 0.005) = 109,500.00
#   50x  long 100,000·(1 − 0.02 + 0.005) = 98,500.00   short 101,500.00
#   100x long 100,000·(1 − 0.01 + 0.005) = 99,500.00   short 100,500.00
BYBIT_VECTORS = [
    ("long", 10, 90_500.00),
    ("short", 10, 109_500.00),
    ("long", 50, 98_500.00),
    ("short", 50, 101_500.00),
    ("long", 100, 99_500.00),
    ("short", 100, 100_500.00),
]
# OKX BTC-USDT-SWAP tier 1 of the shipped 2025-07-23 table (0–1,000 contracts, mmr 0.4 %,
# imr 1 %, 100x; data/maintenance_brackets/README.md), by hand from the formula above:
#   10x  long 90,000/0.996 = 90,361.45;  short 110,000/1.004 = 109,561.75
#   50x  long 98,000/0.996 = 98,393.57;  short 102,000/1.004 = 101,593.63
#   100x long 99,000/0.996 = 99,397.59;  short 101,000/1.004 = 100,597.61
OKX_TIER_1_MMR = 0.004
OKX_VECTORS = [
    ("long", 10, 90_361.45),
    ("short", 10, 109_561.75),
    ("long", 50, 98_393.57),
    ("short", 50, 101_593.63),
    ("long", 100, 99_397.59),
    ("short", 100, 100_597.61),
]
OKX_DAY = np.array(["2025-08-01"], "datetime64[D]")  # the shipped OKX table starts 2025-07-23


@pytest.mark.parametrize(("side", "leverage", "expected"), BYBIT_VECTORS)
def test_bybit_vectors(side, leverage, expected) -> None:
    got = float(venue_liquidation_price("bybit", side, E, leverage, 0.005, 0.0, N))
    assert round(got, 2) == expected


@pytest.mark.parametrize(("side", "leverage", "expected"), OKX_VECTORS)
def test_okx_vectors(side, leverage, expected) -> None:
    rules, _ = load_margin_rules("BTCUSDT", "okx")
    mmr, cum, max_lev = tier_terms(rules, OKX_DAY, np.array([E]), N)  # 10 contracts: tier 1
    assert (mmr[0], cum[0], max_lev[0]) == (OKX_TIER_1_MMR, 0.0, 100.0)
    got = float(venue_liquidation_price("okx", side, E, leverage, mmr[0], cum[0], N))
    assert round(got, 2) == expected


def test_bybit_help_centre_worked_example() -> None:
    # "long entry of 1 BTC at 20,000 USDT with 50x leverage, MMR 0.5 %: LP = 19,700 USDT"
    assert float(venue_liquidation_price("bybit", "long", 20_000, 50, 0.005, 0, 20_000)) == 19_700


def test_bybit_large_position_pays_its_risk_limit_rate_on_the_whole_position() -> None:
    # Shipped table of 2022-04-17 (ccxt PR #12873; tier 2 verbatim in the SDK capture):
    # N = 3,000,000 falls in risk limit 2 (2M–4M): mmr 1 %, no deduction (cum 0), 57.14x cap.
    # 20x long 100,000·(1 − 0.05 + 0.01) = 96,000.00; short 100,000·(1 + 0.05 − 0.01) = 104,000.00
    rules, _ = load_margin_rules("BTCUSDT", "bybit")
    row = bracket_for(rules.brackets, date(2024, 1, 1), 3_000_000)
    assert (row["mmr"], row["cum"], row["max_leverage"]) == (0.01, 0, 57.14)
    sides = np.array([True, False])
    got = venue_liquidation_price("bybit", sides, E, 20, row["mmr"], row["cum"], 3_000_000)
    assert np.round(got, 2).tolist() == [96_000.00, 104_000.00]


def test_bybit_tiers_are_dated_and_the_earlier_table_serves_earlier_days() -> None:
    # N = 1,500,000 on 2022-03-01 is tier 2 of the 2022-02-24 table (1M steps, ccxt PR #12095):
    # mmr 1 %, 66.67x; on 2022-05-01 it is tier 1 of the 2022-04-17 table (2M steps): 0.5 %, 100x.
    # 20x long: 100,000·(1 − 0.05 + 0.01) = 96,000.00, then 100,000·(1 − 0.05 + 0.005) = 95,500.00
    rules, _ = load_margin_rules("BTCUSDT", "bybit")
    before = bracket_for(rules.brackets, date(2022, 3, 1), 1_500_000)
    after = bracket_for(rules.brackets, date(2022, 5, 1), 1_500_000)
    assert (before["mmr"], before["max_leverage"]) == (0.01, 66.67)
    assert (after["mmr"], after["max_leverage"]) == (0.005, 100)
    got = [
        float(venue_liquidation_price("bybit", "long", E, 20, row["mmr"], 0, 1_500_000))
        for row in (before, after)
    ]
    assert np.round(got, 2).tolist() == [96_000.00, 95_500.00]
    with pytest.raises(ValueError, match="snapshots start on 2022-02-24"):
        bracket_for(rules.brackets, date(2022, 2, 23), 10_000)


def test_bybit_file_matches_the_cited_captures() -> None:
    """Rows the sources quote verbatim: (cap, mmr, max leverage) of 2022-04-17 tiers 16–18
    (ccxt issue #17055, v5 API) and 29–30 (ccxt PR #12873); all 30 tiers, none skipped."""
    rules, _ = load_margin_rules("BTCUSDT", "bybit")
    table = rules.brackets[rules.brackets["effective_from"] == "2022-04-17"].set_index("bracket")
    assert table.index.tolist() == list(range(1, 31))
    assert (table["notional_floor"].iloc[1:].to_numpy() == table["notional_cap"].iloc[:-1]).all()
    quoted = {
        16: (32e6, 0.08, 8.16),
        17: (34e6, 0.085, 7.69),
        18: (36e6, 0.09, 7.27),
        29: (58e6, 0.145, 4.55),
        30: (60e6, 0.15, 4.4),
    }
    for tier, expected in quoted.items():
        assert tuple(table.loc[tier, ["notional_cap", "mmr", "max_leverage"]]) == expected
    cited = rules.brackets["source"][rules.brackets["effective_from"] < "2025-01-01"]
    assert cited.str.contains(r"https://github\.com/ccxt/ccxt/").all()


def test_bybit_2025_risk_limits_carry_their_deduction() -> None:
    """The v5 risk limits of 2025-12-29 (freqtrade's cache, mmDeduction included): 35 limits,
    the deduction following Bybit's rule, and a position's price using it.
    N = 3,000,000 is limit 3 (2.6M–3.2M): mmr 0.63 %, deduction 3,020, 80x;
    MM = 3,000,000·0.0063 − 3,020 = 15,880 = 0.52933 % of N.
    20x long 100,000·(1 − 0.05 + 0.0063 − 3,020/3,000,000) = 95,529.33; short 104,470.67"""
    rules, _ = load_margin_rules("BTCUSDT", "bybit")
    table = rules.brackets[rules.brackets["effective_from"] == "2025-12-29"].set_index("bracket")
    assert table.index.tolist() == list(range(1, 36))
    quoted = {  # riskLimitValue, maintenanceMargin, maxLeverage, mmDeduction
        1: (2_000_000, 0.005, 100, 0),
        2: (2_600_000, 0.0056, 90, 1_200),
        9: (10_000_000, 0.013, 45, 46_000),
        35: (1_200_000_000, 0.6, 1, 226_382_000),
    }
    for tier, expected in quoted.items():
        assert tuple(table.loc[tier, ["notional_cap", "mmr", "max_leverage", "cum"]]) == expected
    assert table["source"].str.contains("30f372055f2e4695ecd9d75d0d2cd39319579ce1").all()
    row = bracket_for(rules.brackets, date(2026, 1, 5), 3_000_000)
    assert (row["mmr"], row["cum"], row["max_leverage"]) == (0.0063, 3_020, 80)
    sides = np.array([True, False])
    got = venue_liquidation_price("bybit", sides, E, 20, row["mmr"], row["cum"], 3_000_000)
    assert np.round(got, 2).tolist() == [95_529.33, 104_470.67]
    # the day before the capture still uses the 2022 table: limit 2 (2M–4M), 1 %, no deduction
    before = bracket_for(rules.brackets, date(2025, 12, 28), 3_000_000)
    assert (before["mmr"], before["cum"]) == (0.01, 0)


def test_bybit_deduction_is_all_or_follows_the_rule() -> None:
    rules, _ = load_margin_rules("BTCUSDT", "bybit")
    broken = rules.brackets.copy()
    broken.loc[broken.index[3], "cum"] = 5
    with pytest.raises(ValueError, match="does not follow"):
        check_venue_brackets(broken, "bybit")


def test_okx_large_position_uses_its_tier_rate_on_the_whole_position() -> None:
    # 30,000 contracts of 0.01 BTC at 100,000 = N 30,000,000 USD: tier 4 (20,000.01–40,000),
    # mmr 1.25 %, 40x. 20x long 95,000/0.9875 = 96,202.53; short 105,000/1.0125 = 103,703.70
    rules, _ = load_margin_rules("BTCUSDT", "okx")
    mmr, cum, max_lev = tier_terms(rules, OKX_DAY, np.array([E]), 30_000_000)
    assert (mmr[0], cum[0], max_lev[0]) == (0.0125, 0.0, 40.0)
    got = venue_liquidation_price("okx", np.array([True, False]), E, 20, mmr[0], 0.0, 30e6)
    assert np.round(got, 2).tolist() == [96_202.53, 103_703.70]
    # a tier's maximum is inclusive: exactly 20,000 contracts is still tier 3 (0.75 %, 50x)
    at_cap = tier_terms(rules, OKX_DAY, np.array([E]), 20e6)
    assert (at_cap[0][0], at_cap[2][0]) == (0.0075, 50.0)


def test_okx_file_matches_the_cited_captures() -> None:
    """Rows both freqtrade caches print verbatim (maxSz contracts, mmr, maxLever), all 99 tiers
    contiguous, none skipped; earlier days have no OKX table and are refused, not guessed."""
    rules, _ = load_margin_rules("BTCUSDT", "okx")
    table = rules.brackets.set_index("bracket")
    assert table.index.tolist() == list(range(1, 100))
    assert set(table["effective_from"]) == {"2025-07-23"} and rules.contract_value == 0.01
    assert (table["notional_floor"].iloc[1:].to_numpy() == table["notional_cap"].iloc[:-1]).all()
    quoted = {
        1: (1_000, 0.004, 100),
        2: (5_000, 0.005, 66.66),
        3: (20_000, 0.0075, 50),
        11: (180_000, 0.0475, 16.66),
        52: (1_000_000, 0.2525, 3.77),
        99: (1_940_000, 0.4875, 2),
    }
    for tier, expected in quoted.items():
        assert tuple(table.loc[tier, ["notional_cap", "mmr", "max_leverage"]]) == expected
    assert rules.brackets["source"].str.contains("3bc2238fedb634cb97f08d5bfd81edd9d76011ae").all()
    with pytest.raises(ValueError, match="snapshots start on 2025-07-23"):
        tier_terms(rules, np.array(["2025-07-22"], "datetime64[D]"), np.array([E]), N)


def test_okx_vectors_at_btc_usdt_swap_tier_1_of_2022_02_11() -> None:
    # OKX's own position-tiers answer for BTC-USDT (SWAP), printed 2022-02-11T23:45:19Z in
    # ccxt/ccxt PR #11938: tier 1 = 0–500 contracts, mmr 0.004, imr 0.008, maxLever 125.
    # (The shipped okx/BTCUSDT.csv starts later, 2025-07-23: the 2022 table's middle tiers were
    # not printed, so it is not shipped; its tier 1 checks the formula at 125x.)
    # 100x long 99,000/0.996 = 99,397.59; short 101,000/1.004 = 100,597.61
    # 125x long 99,200/0.996 = 99,598.39; short 100,800/1.004 = 100,398.41
    sides = np.array([True, False, True, False])
    got = venue_liquidation_price("okx", sides, E, np.array([100, 100, 125, 125]), 0.004, 0, N)
    assert np.round(got, 2).tolist() == [99_397.59, 100_597.61, 99_598.39, 100_398.41]


def test_okx_taker_fee_moves_the_price_towards_entry() -> None:
    # fee 0.05 %: 10x long 90,000/(1 − 0.0055) = 90,497.74; short 110,000/1.0055 = 109,398.31
    got = venue_liquidation_price("okx", np.array([True, False]), E, 10, 0.005, 0, N, fee_rate=5e-4)
    assert np.round(got, 2).tolist() == [90_497.74, 109_398.31]


def test_venues_agree_on_ordering_and_ablations_are_shared() -> None:
    for venue in ("bybit", "okx"):
        for leverage in (3, 10, 50, 100):
            long, short = venue_liquidation_price(
                venue, np.array([True, False]), E, leverage, 0.005, 0, N
            )
            assert long < E < short
        naive = venue_liquidation_price(venue, "long", E, 10, 0.005, 0, N, "naive")
        assert float(naive) == 90_000.0


def test_okx_tiers_with_a_deduction_are_refused() -> None:
    rules, _ = load_margin_rules("BTCUSDT", "okx")
    broken = rules.brackets.copy()
    broken.loc[broken.index[1], "cum"] = 5
    with pytest.raises(ValueError, match="no maintenance deduction"):
        check_venue_brackets(broken, "okx")


def test_a_bad_okx_tier_file_names_the_file(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "maintenance_brackets" / "okx"
    folder.mkdir(parents=True)
    shipped, _ = load_margin_rules("BTCUSDT", "okx")
    shipped.brackets.drop(columns="contract_value").to_csv(folder / "BTCUSDT.csv", index=False)
    monkeypatch.setenv("LIQBRIEF_REFERENCE_DIR", str(tmp_path))
    with pytest.raises(ReferenceDataError, match=r"okx/BTCUSDT\.csv: OKX tiers need one positive"):
        load_margin_rules("BTCUSDT", "okx")


def _one_opening_bar() -> tuple[pd.DataFrame, pd.DataFrame]:
    times = pd.to_datetime(["2025-08-01 00:00", "2025-08-01 00:05"], utc=True)
    metrics = pd.DataFrame(
        {"create_time": times, "sum_open_interest": [100.0, 110.0], "sum_open_interest_value": 0.0}
    )
    klines = pd.DataFrame(
        {
            "open_time": times - pd.Timedelta(minutes=5),
            "close": E,
            "volume": 10.0,
            "quote_volume": 1e6,  # VWAP 100,000
            "taker_buy_quote_volume": 5e5,
        }
    )
    return metrics, klines


@pytest.mark.parametrize(
    ("venue", "long_10x", "long_100x"),
    [("bybit", 90_500.00, 99_500.00), ("okx", 90_361.45, 99_397.59)],
)
def test_the_engine_opens_each_venues_cohorts_at_its_own_price(venue, long_10x, long_100x) -> None:
    """The same engine, the venue's formula; the 125x share of the mix trades at the venue's
    100x cap there (Binance alone allows 125x)."""
    rules, _ = load_margin_rules("BTCUSDT", venue)
    config = ModelConfig(tiers=TierMix({10: 0.5, 100: 0.25, 125: 0.25}, {10: 1.0}))
    cohorts = open_cohorts(build_bars(*_one_opening_bar()), rules, config)
    longs = cohorts.is_long
    leverage = np.asarray(cohorts.tiers)[cohorts.tier_index]
    assert sorted(set(np.round(cohorts.liq_price[longs], 2).tolist())) == [long_10x, long_100x]
    assert set(leverage.tolist()) == {10, 100}
    assert cohorts.contracts.sum() == pytest.approx(20.0)  # 10 long + 10 short, nothing dropped
