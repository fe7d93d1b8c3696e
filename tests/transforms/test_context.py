"""Macro and market context and records on constructed series with known answers."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from transforms.context.macro import calendar_warning, macro_context, upcoming_events
from transforms.context.market import market_context
from transforms.context.records import BINANCE_KEYS, fold_records, update_records

CALENDAR = pd.DataFrame(
    {
        "date": ["2024-03-08", "2024-03-20", "2024-04-05"],
        "time": ["08:30", "14:00", "08:30"],
        "timezone": "America/New_York",
        "kind": ["jobs", "fomc", "jobs"],
        "event": ["US jobs report", "FOMC decision", "US jobs report"],
        "status": "confirmed",
        "source": "test",
    }
)


def daily_series(series: str, start: date, values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series": series,
            "date": [start + timedelta(days=i) for i in range(len(values))],
            "value": values,
        }
    )


# -- macro ----------------------------------------------------------------------------------
def test_macro_changes_use_values_known_at_each_point() -> None:
    # DGS2 every calendar day of 2024-01-01 … 2024-03-06: 4.00 + 0.01 per day, known the day after
    values = [4.0 + 0.01 * i for i in range(66)]
    obs = pd.concat(
        [
            daily_series("DGS2", date(2023, 12, 31), [3.9]),
            daily_series("DGS2", date(2024, 1, 1), values),
        ]
    )
    row = macro_context(obs, CALENDAR, date(2024, 3, 6), {"DGS2": "2y"}).iloc[0]
    assert row["obs_date"] == date(2024, 3, 5)  # the 2024-03-06 value is not known yet
    assert row["value"] == pytest.approx(4.0 + 0.01 * 64)
    assert row["chg_1d"] == pytest.approx(0.01)
    assert row["chg_1w"] == pytest.approx(0.07)
    assert row["chg_1m"] == pytest.approx(0.01 * 29)  # Feb 2024 has 29 days
    assert row["chg_ytd"] == pytest.approx(4.64 - 3.9)
    assert not row["stale"]


def test_weekends_carry_the_last_value_and_long_gaps_are_flagged() -> None:
    obs = daily_series("VIXCLS", date(2024, 3, 1), [14.0])  # a Friday
    monday = macro_context(obs, CALENDAR, date(2024, 3, 4), {"VIXCLS": "VIX"}).iloc[0]
    assert monday["value"] == 14.0 and not monday["stale"] and monday["chg_1d"] == 0.0
    later = macro_context(obs, CALENDAR, date(2024, 3, 12), {"VIXCLS": "VIX"}).iloc[0]
    assert later["stale"] and later["days_since_obs"] == 11


def test_a_series_with_no_observation_yet_has_no_age() -> None:
    """Not -1 days: a number a reader (or --json) would take for an age."""
    obs = daily_series("VIXCLS", date(2024, 3, 5), [14.0])  # first value after the date
    row = macro_context(obs, CALENDAR, date(2024, 3, 4), {"VIXCLS": "VIX"}).iloc[0]
    assert row["stale"] and row["obs_date"] is None and pd.isna(row["days_since_obs"])


def test_a_monthly_series_is_known_only_from_its_jobs_report_at_0830_new_york() -> None:
    obs = pd.DataFrame(
        {"series": "UNRATE", "date": [date(2024, 1, 1), date(2024, 2, 1)], "value": [3.7, 3.9]}
    )
    before = macro_context(obs, CALENDAR, date(2024, 3, 7), {"UNRATE": "u"}).iloc[0]
    # 00:00 UTC on release day is 19:00 the evening before in New York: not out yet
    release_day = macro_context(obs, CALENDAR, date(2024, 3, 8), {"UNRATE": "u"}).iloc[0]
    after = macro_context(obs, CALENDAR, date(2024, 3, 9), {"UNRATE": "u"}).iloc[0]
    assert math.isnan(before["value"]) and math.isnan(release_day["value"])
    assert after["value"] == 3.9 and after["obs_date"] == date(2024, 2, 1)


def test_release_day_context_does_not_change_when_the_release_does() -> None:
    """Perturb what is published after T (the February figure, out 2024-03-08 13:30 UTC):
    the table as of T = 2024-03-08 00:00 UTC stays byte-identical."""
    obs = pd.DataFrame(
        {"series": "UNRATE", "date": [date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1)],
         "value": [3.7, 3.7, 3.9]}
    )  # fmt: skip
    perturbed = obs.assign(value=[3.7, 3.7, 9.9])
    tables = [
        macro_context(frame, CALENDAR, date(2024, 3, 8), {"UNRATE": "u"}).to_parquet()
        for frame in (obs, perturbed)
    ]
    assert tables[0] == tables[1]


def test_no_look_ahead_future_observations_change_nothing() -> None:
    obs = daily_series("DFF", date(2024, 1, 1), [5.33] * 60)
    future = pd.concat([obs, daily_series("DFF", date(2024, 3, 1), [4.0] * 30)])
    as_of = date(2024, 2, 20)
    pd.testing.assert_frame_equal(
        macro_context(obs, CALENDAR, as_of, {"DFF": "ff"}),
        macro_context(future, CALENDAR, as_of, {"DFF": "ff"}),
    )


def test_events_in_the_next_week_read_naturally() -> None:
    events = upcoming_events(CALENDAR, date(2024, 3, 6))
    assert events["text"].tolist() == ["US jobs report in 2 days"]
    assert upcoming_events(CALENDAR, date(2024, 3, 19))["text"].tolist() == [
        "FOMC decision tomorrow"
    ]
    assert upcoming_events(CALENDAR, date(2024, 3, 20))["text"].tolist() == ["FOMC decision today"]


def test_a_calendar_that_ends_too_soon_warns() -> None:
    assert calendar_warning(CALENDAR, date(2024, 3, 1)) is None
    assert "calendar ends on 2024-04-05" in calendar_warning(CALENDAR, date(2024, 3, 20))


# -- market ---------------------------------------------------------------------------------
def market_frames(days: int = 10, start: date = date(2024, 1, 1)):
    t0 = pd.Timestamp(start, tz="UTC")
    readings = pd.date_range(t0, periods=days * 288, freq="5min")
    oi = np.linspace(1e9, 2e9, len(readings))
    metrics = pd.DataFrame(
        {
            "create_time": readings,
            "sum_open_interest_value": oi,
            "count_long_short_ratio": 1.5,
            "sum_toptrader_long_short_ratio": 2.0,
        }
    )
    klines = pd.DataFrame(
        {"open_time": readings, "close": 100.0 * np.exp(0.001 * np.resize([1, -1], len(readings)).cumsum()),
         "quote_volume": 1_000.0, "taker_buy_quote_volume": 600.0}
    )  # fmt: skip
    funding = pd.DataFrame(
        {
            "calc_time": pd.date_range(t0, periods=days * 3, freq="8h"),
            "funding_interval_hours": 8,
            "last_funding_rate": 0.0001,
        }
    )
    return metrics, klines, funding


def test_market_context_values() -> None:
    metrics, klines, funding = market_frames()
    as_of = date(2024, 1, 10)
    row = market_context(as_of, "BTCUSDT", metrics, klines, funding, klines).iloc[0]
    step = 1e9 / (10 * 288 - 1)
    last = 1e9 + step * (9 * 288 - 1)  # reading at 2024-01-09 23:55
    assert row["oi_usd"] == pytest.approx(last)
    assert row["oi_change_1d_pct"] == pytest.approx((last / (last - 288 * step) - 1) * 100)
    assert row["funding_annualised_pct"] == pytest.approx(0.0001 * 3 * 365 * 100)
    assert row["taker_buy_sell_ratio"] == pytest.approx(1.5)
    assert row["quote_volume_24h"] == pytest.approx(288_000.0)
    assert row["volume_vs_year_start"] == pytest.approx(1.0)
    assert row["realised_vol_7d_pct"] == pytest.approx(0.001 * math.sqrt(365 * 288) * 100, rel=1e-3)
    assert (row["long_short_account_ratio"], row["top_trader_ratio"]) == (1.5, 2.0)


def test_market_context_ignores_rows_after_the_snapshot() -> None:
    metrics, klines, funding = market_frames(20)
    cut = pd.Timestamp("2024-01-10", tz="UTC")
    past = (
        metrics[metrics["create_time"] < cut],
        klines[klines["open_time"] < cut],
        funding[funding["calc_time"] < cut],
    )
    metrics.loc[metrics["create_time"] >= cut, "sum_open_interest_value"] *= (
        7  # a future that must not leak
    )
    as_of = date(2024, 1, 10)
    pd.testing.assert_frame_equal(
        market_context(as_of, "BTCUSDT", *past, past[1]),
        market_context(as_of, "BTCUSDT", metrics, klines, funding, klines),
    )


def test_no_input_at_or_after_the_snapshot_changes_a_byte() -> None:
    """Perturb every input at or after T (OI, ratios, prices, volumes, funding, year-start
    klines): the row for T is byte-identical."""
    metrics, klines, funding = market_frames(20)
    as_of, cut = date(2024, 1, 10), pd.Timestamp("2024-01-10", tz="UTC")
    frames = (metrics, klines, funding, klines)
    columns = ("create_time", "open_time", "calc_time", "open_time")
    perturbed = []
    for frame, column in zip(frames, columns, strict=True):
        future = frame[column] >= cut
        numbers = frame.select_dtypes("number").columns
        changed = frame.copy()
        changed.loc[future, numbers] = changed.loc[future, numbers] * 3 + 1
        perturbed.append(changed)
    tables = [
        market_context(as_of, "BTCUSDT", *inputs).to_parquet() for inputs in (frames, perturbed)
    ]
    assert tables[0] == tables[1]


def test_realised_volatility_uses_only_returns_between_adjacent_bars() -> None:
    metrics, klines, funding = market_frames()
    gappy = klines[np.arange(len(klines)) % 3 != 2]  # every third bar missing
    as_of = date(2024, 1, 10)
    row = market_context(as_of, "BTCUSDT", metrics, gappy, funding, klines).iloc[0]
    # the remaining adjacent pairs still move 0.1 % per 5 minutes
    assert row["realised_vol_7d_pct"] == pytest.approx(0.001 * math.sqrt(365 * 288) * 100, rel=1e-2)


def test_levels_are_not_carried_over_a_missing_day() -> None:
    """With no rows on the day before T, "now" levels are unknown, not the older values."""
    metrics, klines, funding = market_frames()
    as_of = date(2024, 1, 10)
    last_day = pd.Timestamp("2024-01-09", tz="UTC")
    row = market_context(
        as_of, "BTCUSDT",
        metrics[metrics["create_time"] < last_day], klines[klines["open_time"] < last_day],
        funding[funding["calc_time"] < last_day], klines,
    ).iloc[0]  # fmt: skip
    for column in ("price", "oi_usd", "oi_change_1d_pct", "funding_last", "long_short_account_ratio",
                   "top_trader_ratio", "quote_volume_24h"):  # fmt: skip
        assert np.isnan(row[column]), column


# -- records --------------------------------------------------------------------------------
def daily_values(
    values: list[float], start: date = date(2024, 12, 28)
) -> list[tuple[date, dict[tuple[str, str], float]]]:
    return [
        (start + timedelta(days=i), dict.fromkeys(BINANCE_KEYS, v)) for i, v in enumerate(values)
    ]


def folded(daily: list[tuple[date, dict[tuple[str, str], float]]], symbol: str) -> pd.DataFrame:
    records = fold_records(daily, symbol)
    assert records is not None
    return records


def test_a_new_record_today() -> None:
    records = folded(daily_values([5, 7, 6, 9]), "BTCUSDT").set_index("metric").loc["oi_usd"]
    assert (records["all_time_max"], records["all_time_date"]) == (9, date(2024, 12, 31))
    assert (records["rank"], records["pct_of_record"], records["days_since_record"]) == (
        1,
        100.0,
        0,
    )


def test_rank_percent_and_year_to_date_reset() -> None:
    records = folded(daily_values([5, 9, 7, 6, 8]), "BTCUSDT").set_index("metric").loc["oi_usd"]
    # 2025-01-01: 8 is the YTD high (2025 began with 8, after 6 on 2024-12-31? no: 2025-01-01 is day 5)
    assert records["date"] == date(2025, 1, 1)
    assert (records["ytd_max"], records["ytd_date"]) == (8, date(2025, 1, 1))
    assert (records["all_time_max"], records["all_time_date"]) == (9, date(2024, 12, 29))
    assert records["rank"] == 2 and records["pct_of_record"] == pytest.approx(800 / 9)
    assert records["days_since_record"] == 3 and records["days"] == 5


def test_estimated_liquidations_are_dated_by_the_day_they_sum() -> None:
    """The 7d map's 24 h estimate known at 00:00 UTC of D sums the UTC day D − 1, the day
    the realised (Coinglass) rows of D describe: its record and year-to-date dates are that
    day, while a reading at the instant (open interest) keeps D."""
    records = folded(daily_values([5, 9, 7, 6, 8]), "BTCUSDT").set_index("metric")
    est, oi = records.loc["est_liquidated_usd"], records.loc["oi_usd"]
    assert est["date"] == oi["date"] == date(2025, 1, 1)
    assert est["all_time_date"] == date(2024, 12, 28) and oi["all_time_date"] == date(2024, 12, 29)
    assert est["days_since_record"] == oi["days_since_record"] == 3
    # the 8 known on 1 Jan 2025 is 31 Dec 2024's total: 2025 has no estimate yet
    assert (oi["ytd_max"], oi["ytd_date"]) == (8, date(2025, 1, 1))
    assert (est["ytd_max"], est["ytd_date"]) == (9, date(2024, 12, 28))


def test_incremental_updates_equal_a_full_recompute() -> None:
    values = [3.0, 1.0, math.nan, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    full = folded(daily_values(values), "BTCUSDT")
    partial = folded(daily_values(values[:-1]), "BTCUSDT")
    step = update_records(partial, dict.fromkeys(BINANCE_KEYS, 6.0), date(2025, 1, 5), "BTCUSDT")
    pd.testing.assert_frame_equal(full, step)
    row = step.set_index("metric").loc["oi_usd"]
    assert row["days"] == 8 and row["rank"] == 2  # NaN days are not counted


def test_records_refuse_previous_rows_from_the_same_or_a_later_date() -> None:
    records = folded(daily_values([1.0, 2.0]), "BTCUSDT")
    with pytest.raises(ValueError, match="not before"):
        update_records(records, {}, date(2024, 12, 29), "BTCUSDT")


# -- release times (siblings of the jobs-report look-ahead) ---------------------------------
def test_october_2025_payrolls_are_known_only_from_the_december_release() -> None:
    """No October 2025 report: October's payrolls came out on 2025-12-16 with November's,
    not at the first release after October ended (2025-11-20, September's)."""
    from sources.reference_calendar import load_calendar

    obs = pd.DataFrame(
        {"series": "PAYEMS", "date": [date(2025, 9, 1), date(2025, 10, 1)], "value": [1.0, 2.0]}
    )
    calendar = load_calendar()
    after_september = macro_context(obs, calendar, date(2025, 11, 21), {"PAYEMS": "p"}).iloc[0]
    after_october = macro_context(obs, calendar, date(2025, 12, 17), {"PAYEMS": "p"}).iloc[0]
    assert after_september["obs_date"] == date(2025, 9, 1)
    assert after_october["obs_date"] == date(2025, 10, 1)


def test_the_weekly_dollar_index_is_known_from_the_monday_after_its_week() -> None:
    """H.10 comes out on Mondays at 16:15 New York: Monday 4 March's value is not known at
    00:00 UTC on Monday 11 March (a week after, as the old rule had it)."""
    obs = daily_series("DTWEXBGS", date(2024, 2, 26), [120.0, 0, 0, 0, 0, 0, 0, 121.0])[
        lambda f: pd.to_datetime(f["date"]).dt.day_of_week == 0
    ]
    row = macro_context(obs, CALENDAR, date(2024, 3, 11), {"DTWEXBGS": "usd"}).iloc[0]
    assert row["obs_date"] == date(2024, 2, 26) and row["value"] == 120.0
    assert (
        macro_context(obs, CALENDAR, date(2024, 3, 12), {"DTWEXBGS": "usd"}).iloc[0]["value"]
        == 121.0
    )


def test_fridays_fed_funds_rate_is_not_known_before_monday_morning_new_york() -> None:
    """The NY Fed publishes the rate for a day at about 09:00 the next business day."""
    obs = daily_series("DFF", date(2024, 3, 7), [5.31, 5.32, 5.33])  # Thu, Fri, Sat
    monday = macro_context(obs, CALENDAR, date(2024, 3, 11), {"DFF": "ff"}).iloc[0]
    tuesday = macro_context(obs, CALENDAR, date(2024, 3, 12), {"DFF": "ff"}).iloc[0]
    assert monday["obs_date"] == date(2024, 3, 7)
    assert tuesday["obs_date"] == date(2024, 3, 9)  # Friday's publication covers the weekend


def test_a_csv_value_fetched_on_the_briefing_date_is_not_flagged_but_one_fetched_later_is() -> None:
    obs = daily_series("DGS2", date(2024, 3, 4), [4.1]).assign(
        realtime_end=date(9999, 12, 31), vintage=False
    )
    same_day = obs.assign(realtime_start=date(2024, 3, 5))
    later = obs.assign(realtime_start=date(2024, 3, 6))
    as_of = date(2024, 3, 5)
    assert not macro_context(same_day, CALENDAR, as_of, {"DGS2": "2y"}).iloc[0]["latest_revision"]
    assert macro_context(later, CALENDAR, as_of, {"DGS2": "2y"}).iloc[0]["latest_revision"]


def test_events_are_past_or_ahead_by_their_instant_not_their_local_date() -> None:
    """An event at 21:00 New York on 7 March is at 02:00 UTC on 8 March: still ahead at
    00:00 UTC on the 8th ("today"); an FOMC decision at 14:00 New York on the 7th is past."""
    late = pd.DataFrame(
        {"date": ["2024-03-07", "2024-03-07"], "time": ["21:00", "14:00"],
         "timezone": "America/New_York", "kind": ["speech", "fomc"],
         "event": ["Evening testimony", "FOMC decision"], "status": "confirmed", "source": "test"}
    )  # fmt: skip
    events = upcoming_events(late, date(2024, 3, 8))
    assert events["text"].tolist() == ["Evening testimony today"]
    assert events["event_date"].tolist() == [date(2024, 3, 8)]


def test_a_long_weekend_is_not_a_gap_but_missed_publications_are() -> None:
    """Memorial Day 2024 (Monday 27 May): on Tuesday 00:00 UTC the newest fed funds rate
    known is Thursday's (Friday's comes out Tuesday 09:00 New York) — current, not stale."""
    obs = daily_series("DFF", date(2024, 5, 1), [5.33] * 23)  # 1 … 23 May
    tuesday = macro_context(obs, CALENDAR, date(2024, 5, 28), {"DFF": "ff"}).iloc[0]
    assert tuesday["obs_date"] == date(2024, 5, 23) and not tuesday["stale"]
    thursday = macro_context(obs, CALENDAR, date(2024, 5, 30), {"DFF": "ff"}).iloc[0]
    assert thursday["stale"]  # Friday's and Tuesday's rates are missing


def test_volume_needs_the_whole_day_and_the_year_start_counts_per_bar() -> None:
    metrics, klines, funding = market_frames()
    as_of, last_day = date(2024, 1, 10), pd.Timestamp("2024-01-09", tz="UTC")
    in_last_day = (klines["open_time"] >= last_day).to_numpy()
    gappy = klines[~(in_last_day & (np.arange(len(klines)) % 10 == 0))]  # 10 % of the day gone
    row = market_context(as_of, "BTCUSDT", metrics, gappy, funding, klines).iloc[0]
    assert np.isnan(row["quote_volume_24h"]) and np.isnan(row["taker_buy_sell_ratio"])
    # half of 1 January missing from the year's start: still the same volume per bar
    half = klines[~(klines["open_time"] < pd.Timestamp("2024-01-01 12:00", tz="UTC"))]
    row = market_context(as_of, "BTCUSDT", metrics, klines, funding, half).iloc[0]
    assert row["volume_vs_year_start"] == pytest.approx(1.0)


def test_two_hours_of_bars_give_no_seven_day_volatility() -> None:
    metrics, klines, funding = market_frames()
    recent = klines[klines["open_time"] >= pd.Timestamp("2024-01-09 22:00", tz="UTC")]
    row = market_context(date(2024, 1, 10), "BTCUSDT", metrics, recent, funding, klines).iloc[0]
    assert np.isnan(row["realised_vol_7d_pct"])


def test_the_oi_chart_is_dated_like_the_records() -> None:
    """A record set on D (the briefing of D: open interest at 00:00 UTC, the last reading of
    D − 1) must sit at D on the chart, not a day earlier."""
    from transforms.context.market import daily_closing_oi

    times = pd.to_datetime(["2024-01-01 12:00", "2024-01-01 23:55", "2024-01-02 23:55"], utc=True)
    chart = daily_closing_oi(
        pd.DataFrame({"create_time": times, "sum_open_interest_value": [1.0, 2.0, 3.0]})
    )
    assert chart["day"].tolist() == [date(2024, 1, 2), date(2024, 1, 3)]
    assert chart["oi_usd"].tolist() == [2.0, 3.0]
