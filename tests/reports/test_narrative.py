from __future__ import annotations

from datetime import date

from reports.formatting import base_asset, usd
from reports.narrative import headline_levels, records_sentence, summary_sentences

SEED = {
    "p0": 95_300.0, "bin_size": 100.0,
    "round_below_1": 95_000.0, "round_below_2": 94_000.0, "round_below_3": 93_000.0,
    "round_above_1": 96_000.0, "round_above_2": 97_000.0, "round_above_3": 98_000.0,
    "cum_long_round_below_1": 1e8, "cum_long_round_below_2": 5e8, "cum_long_round_below_3": 1.062e9,
    "cum_short_round_above_1": 1e7, "cum_short_round_above_2": 2.48e8, "cum_short_round_above_3": 3e8,
    "cum_long_5pct": 1.3e9, "cum_short_5pct": 5e8, "imbalance_5pct": 2.6,
    "long_cluster_price": 89_050.0, "long_cluster_usd": 1.13e9, "long_cluster_distance_pct": -6.56,
    "short_cluster_price": 99_050.0, "short_cluster_usd": 2e8, "short_cluster_distance_pct": 3.93,
    "est_liquidated_usd": 4.77e8, "est_liquidated_long_usd": 3e8, "est_liquidated_short_usd": 1.77e8,
}  # fmt: skip


def test_money_formatting() -> None:
    assert [usd(v) for v in (1.062e9, 2.48e8, 12_345.0, 999.0, -3.2e6, float("nan"))] == [
        "$1.06B", "$248M", "$12.3K", "$999", "-$3.20M", "—",
    ]  # fmt: skip
    assert base_asset("BTCUSDT") == "BTC" and base_asset("ETHUSDC") == "ETH"


def test_the_seed_sentence_is_generated_from_the_numbers() -> None:
    levels = headline_levels(SEED)
    assert (levels.below, levels.above) == (93_000.0, 98_000.0)  # nearest 2.5 % from 95,300
    sentences = summary_sentences("BTCUSDT", SEED)
    assert sentences[0] == (
        "If BTC drops below 93,000, estimated long liquidation intensity reaches $1.06B; "
        "above 98,000 shorts hold $300M (±5 %: 2.6 : 1, long-heavy)."
    )
    assert sentences[1].startswith("Largest long cluster 89,000 ($1.13B, -6.6 %)")
    assert "$477M in the last 24 h" in sentences[2]


def test_the_lean_is_measured_at_the_same_distance_on_both_sides() -> None:
    """The quoted round levels sit at −2.4 % and +2.8 %; the lean is C_L : C_S at ±5 %, the
    ratio the key-level table and the terminal show, not the quoted figures' 3.5 : 1."""
    balanced = SEED | {"cum_long_5pct": 6e8, "cum_short_5pct": 5e8, "imbalance_5pct": 1.2}
    assert (
        "shorts hold $300M (±5 %: 1.2 : 1, balanced)." in summary_sentences("BTCUSDT", balanced)[0]
    )


def test_a_short_heavy_book_and_an_empty_side() -> None:
    short_heavy = SEED | {"cum_long_5pct": 1e8, "cum_short_5pct": 5e8, "imbalance_5pct": 0.2}
    assert "(±5 %: 1 : 5.0, short-heavy)" in summary_sentences("BTCUSDT", short_heavy)[0]
    no_shorts = SEED | {"cum_short_5pct": 0.0, "imbalance_5pct": float("nan")}
    assert "(no shorts at risk within +5 %)" in summary_sentences("BTCUSDT", no_shorts)[0]
    empty = SEED | {"cum_long_5pct": 0.0, "cum_short_5pct": 0.0}
    assert "(no estimated positions within ±5 %)" in summary_sentences("BTCUSDT", empty)[0]


def test_records_sentence() -> None:
    below = {
        "oi_usd": {
            "value": 7.5e9,
            "rank": 3,
            "days": 100,
            "pct_of_record": 88.0,
            "all_time_max": 8.52e9,
            "all_time_date": date(2024, 3, 1),
        }
    }
    assert records_sentence("BTCUSDT", below) == (
        "BTC open interest is 12 % below its record of $8.52B set on 01 Mar 2024 (rank 3 of 100 days)."
    )
    at = {"oi_usd": below["oi_usd"] | {"rank": 1, "pct_of_record": 100.0}}
    assert records_sentence("BTCUSDT", at) == "BTC open interest is at a record: $7.50B."
