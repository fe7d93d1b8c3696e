"""Market-wide context and realised records from REAL Coinglass responses (saved v4 output in
../shared/data/liquidity-report/), checked against figures computed here with pandas,
independently of the records code.

Daily bars: the Binance liquidation file is a real 1d series (its last bar was still in
progress when saved, so it is dropped, as the source never stores it). All-market open
interest and OI-weighted funding exist only as real 4h bars; their daily bar is built from
the UTC days that have all six 4h bars: close = the last 4h close (the value at 00:00 of the
next day), open = the first open, high/low = the extremes. There is no real all-market
liquidation series: it is constructed from the Binance one (stated where used).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from store.datasets import DATASETS, MARKET_CONTEXT_SCHEMA
from store.lake import parquet_bytes
from tests.conftest import SHARED_DATA
from transforms.context.market import (
    MARKET_WIDE_COLUMNS,
    known_bars,
    market_context,
    market_wide,
)
from transforms.context.records import (
    ALL_MARKET,
    BINANCE,
    BINANCE_KEYS,
    MARKET_WIDE_KEYS,
    fold_records,
    realised_values,
    records_by_key,
    update_records,
)

REAL = SHARED_DATA / "liquidity-report"
DAY = pd.Timedelta(days=1)


# -- the real files, as the lake stores them --------------------------------------------------
def _times(frame: pd.DataFrame) -> pd.Series:
    ms = frame["time"].astype("float64").astype("int64")  # some files write 1.7e12 as float
    return pd.to_datetime(ms, unit="ms", utc=True).astype("datetime64[us, UTC]")


def _read(name: str) -> pd.DataFrame:
    return pd.read_parquet(REAL / f"{name}.parquet")


def binance_liquidations_1d() -> pd.DataFrame:
    """The real daily Binance BTC liquidations, 2022-08-17 .. 2025-05-11 (closed bars)."""
    raw = _read("20250512__api_futures_liquidation_aggregated_coin_history").iloc[:-1]
    return pd.DataFrame(
        {"time": _times(raw), "exchange_list": "Binance",
         "long_usd": raw["aggregated_long_liquidation_usd"].astype(float),
         "short_usd": raw["aggregated_short_liquidation_usd"].astype(float)}
    )  # fmt: skip


def all_market_liquidations_1d() -> pd.DataFrame:
    """CONSTRUCTED: the real Binance bars scaled per side (no real all-market file exists)."""
    binance = binance_liquidations_1d()
    return binance.assign(
        exchange_list="Binance,OKX,Bybit",
        long_usd=binance["long_usd"] * 3.0 + 1e6,
        short_usd=binance["short_usd"] * 4.5 + 2e6,
    )


def daily_from_4h(*names: str) -> pd.DataFrame:
    """Daily OHLC bars from real 4h files: only UTC days with all six bars (a later file's
    day replaces an earlier file's)."""
    days = {}
    for name in names:
        raw = _read(name)
        bars = pd.DataFrame({"time": _times(raw)}).assign(
            **{c: raw[c].astype(float) for c in ("open", "high", "low", "close")}
        )
        for day, g in bars.groupby(bars["time"].dt.floor("D")):
            if len(g) == 6:
                days[day] = {"time": day, "open": g["open"].iloc[0], "high": g["high"].max(),
                             "low": g["low"].min(), "close": g["close"].iloc[-1]}  # fmt: skip
    frame = pd.DataFrame([days[d] for d in sorted(days)])
    return frame.astype({"time": "datetime64[us, UTC]"})


def real_coinglass() -> dict[str, pd.DataFrame]:
    """The four daily datasets market context reads, in the lake's schemas."""
    return {
        "oi_aggregated_1d": daily_from_4h(
            "20250520__api_futures_openInterest_ohlc_aggregated_history_BTC",
            "20251114__api_futures_openInterest_ohlc_aggregated_history_BTC",
        ),
        "liquidations_binance_1d": binance_liquidations_1d(),
        "liquidations_all_1d": all_market_liquidations_1d(),
        "funding_oi_weighted_1d": daily_from_4h(
            "20250513__api_futures_fundingRate_oi_weight_ohlc_history_BTC",
            "20251114__api_futures_fundingRate_oi_weight_ohlc_history_BTC",
        ),
    }


def check_schemas(frames: dict[str, pd.DataFrame]) -> None:
    for name, frame in frames.items():
        pa.Table.from_pandas(frame, schema=DATASETS[name].schema, preserve_index=False)


# -- market context ---------------------------------------------------------------------------
def test_market_wide_is_the_bars_dated_the_day_before() -> None:
    frames = real_coinglass()
    check_schemas(frames)
    as_of, bar = date(2025, 5, 12), pd.Timestamp("2025-05-11", tz="UTC")
    got = market_wide(as_of, 12.5e9, frames)
    oi = frames["oi_aggregated_1d"].set_index("time").loc[bar, "close"]
    binance = frames["liquidations_binance_1d"].set_index("time").loc[bar]
    every = frames["liquidations_all_1d"].set_index("time").loc[bar]
    assert got["all_market_oi_usd"] == oi and 50e9 < oi < 120e9
    assert got["binance_oi_share_pct"] == pytest.approx(12.5e9 / oi * 100)
    assert (got["realised_liq_long_usd"], got["realised_liq_short_usd"]) == (
        binance["long_usd"], binance["short_usd"],
    )  # fmt: skip
    assert got["realised_liq_usd"] == binance["long_usd"] + binance["short_usd"]
    assert got["all_market_liq_usd"] == every["long_usd"] + every["short_usd"]
    funding = frames["funding_oi_weighted_1d"].set_index("time").loc[bar, "close"]
    assert got["oi_weighted_funding_pct"] == funding
    assert list(got) == list(MARKET_WIDE_COLUMNS)


def test_the_readme_figure_for_binance_liquidations_on_8_january_2025() -> None:
    """The data README: Binance-only BTC liquidations on 2025-01-08 (1d row) $47.9M."""
    got = market_wide(date(2025, 1, 9), math.nan, real_coinglass())
    assert got["realised_liq_usd"] == pytest.approx(47.9e6, rel=1e-3)


def test_known_bars_are_the_days_and_values_market_wide_gives() -> None:
    """The vectorised count that checks chained records agrees with ``market_wide`` day by
    day, a bar with a missing (NaN) field included."""
    frames = real_coinglass()
    liq = frames["liquidations_all_1d"].copy()
    liq.loc[liq.index[5], "short_usd"] = math.nan
    frames["liquidations_all_1d"] = liq
    first = min(f["time"].iloc[0] for f in frames.values()).date()
    days = [first + timedelta(days=k) for k in range(1, 1200)]
    for column in ("all_market_oi_usd", "realised_liq_usd", "all_market_liq_usd"):
        given = {d - timedelta(days=1): market_wide(d, math.nan, frames)[column] for d in days}
        valued = {d: v for d, v in given.items() if math.isfinite(v)}
        times, values = known_bars(frames, column)
        known = {pd.Timestamp(t).date(): v for t, v in zip(times, values, strict=True)}
        assert valued == {t: v for t, v in known.items() if t <= days[-1] - timedelta(days=1)}
        assert len(valued) > 300  # real bars (open interest: a year of them)


def test_a_missing_bar_is_nan_not_an_older_one() -> None:
    frames = real_coinglass()
    bar = pd.Timestamp("2025-05-11", tz="UTC")
    without = {name: f[f["time"] != bar] for name, f in frames.items()}  # 10 May is still there
    got = market_wide(date(2025, 5, 12), 12.5e9, without)
    assert all(np.isnan(v) for v in got.values()), got
    assert all(np.isnan(v) for v in market_wide(date(2025, 5, 12), 12.5e9, {}).values())


def _binance_frames(start: date):
    """Synthetic Binance inputs (10 days of 5-minute rows from ``start``)."""
    from tests.transforms.test_context import market_frames

    return market_frames(start=start)


def _row_bytes(as_of: date, binance, coinglass) -> bytes:
    metrics, klines, funding = binance
    row = market_context(as_of, "BTCUSDT", metrics, klines, funding, klines, coinglass=coinglass)
    table = pa.Table.from_pandas(row[MARKET_CONTEXT_SCHEMA.names], schema=MARKET_CONTEXT_SCHEMA)
    return parquet_bytes(table)


def _perturbed(frame: pd.DataFrame, column: str, t: pd.Timestamp) -> pd.DataFrame:
    """Every numeric value of rows at or after ``t`` changed."""
    out = frame.copy()
    later = (out[column] >= t).to_numpy()
    for c in out.columns:
        if c != column and pd.api.types.is_float_dtype(out[c]):
            out.loc[later, c] = out.loc[later, c] * 3.0 + 1.0
    return out


def test_market_context_row_has_no_look_ahead() -> None:
    """Perturb every Coinglass bar dated D or later and every Binance row from 00:00 of D:
    D's market-context row keeps every byte; perturbing the bar dated D − 1 does not."""
    as_of = date(2025, 5, 9)
    t = pd.Timestamp(as_of, tz="UTC")
    binance = _binance_frames(date(2025, 5, 1))  # rows until 10 May 23:55, after T too
    coinglass = real_coinglass()
    before = _row_bytes(as_of, binance, coinglass)
    row = market_context(as_of, "BTCUSDT", *binance, binance[1], coinglass=coinglass).iloc[0]
    assert all(np.isfinite(row[c]) for c in MARKET_WIDE_COLUMNS)

    later_binance = tuple(
        _perturbed(f, c, t)
        for f, c in zip(binance, ("create_time", "open_time", "calc_time"), strict=True)
    )
    later_coinglass = {n: _perturbed(f, "time", t) for n, f in coinglass.items()}
    assert all((f["time"] >= t).any() for f in later_coinglass.values())  # bars after D exist
    assert _row_bytes(as_of, later_binance, later_coinglass) == before

    yesterday_changed = {n: _perturbed(f, "time", t - DAY) for n, f in coinglass.items()}
    assert _row_bytes(as_of, binance, yesterday_changed) != before


# -- records ----------------------------------------------------------------------------------
def daily_values(frames: dict[str, pd.DataFrame], first: date, last: date):
    """(D, D's market-wide record values) for every D, as the flow computes them."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [(d, realised_values(market_wide(d, math.nan, frames))) for d in days]


def by_hand(values: pd.Series, as_of: pd.Timestamp) -> dict:
    """A records row as of ``as_of`` computed with pandas from the daily bar values (indexed
    by the bar's UTC day, known at 00:00 of the next): not the records code. Record dates are
    the bars' days."""
    as_of = as_of - DAY
    seen = values[values.index <= as_of].dropna()
    ytd = seen[seen.index.year == as_of.year]
    today = values.get(as_of, math.nan)
    ranks = seen.rank(ascending=False, method="min")
    return {
        "value": today, "all_time_max": seen.max(), "all_time_date": seen.idxmax().date(),
        "ytd_max": ytd.max() if len(ytd) else math.nan,
        "ytd_date": ytd.idxmax().date() if len(ytd) else None,
        "rank": int(ranks[as_of]) if as_of in ranks.index else -1, "days": len(seen),
        "pct_of_record": today / seen.max() * 100,
        "days_since_record": (as_of - seen.idxmax()).days,
    }  # fmt: skip


def series_by_day(frame: pd.DataFrame, value) -> pd.Series:
    """A daily bar series indexed by the bar's UTC day."""
    return pd.Series(value(frame).to_numpy(), index=frame["time"].dt.tz_localize(None))


def assert_row(row: dict, expected: dict) -> None:
    for field, want in expected.items():
        got = row[field]
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got), field
        elif isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-12), field
        else:
            assert got == want, field


def test_realised_records_from_the_real_files_equal_pandas_every_day() -> None:
    """Chained day by day over every real daily bar: each day's Binance and all-market
    realised rows equal the hand computation (running max, YTD max, rank, % of record)."""
    frames = real_coinglass()
    liq = frames["liquidations_binance_1d"]
    first, last = date(2022, 8, 18), liq["time"].iloc[-1].date() + timedelta(days=1)
    total = {
        key: series_by_day(frames[name], lambda f: f["long_usd"] + f["short_usd"])
        for key, name in (((BINANCE, "realised_liquidated_usd"), "liquidations_binance_1d"),
                          ((ALL_MARKET, "realised_liquidated_usd"), "liquidations_all_1d"))
    }  # fmt: skip
    records = None
    for day, values in daily_values(frames, first, last):
        records = update_records(records, values, day, "BTCUSDT", required=())
        rows = records_by_key(records)
        for key, series in total.items():
            assert_row(rows[key], by_hand(series, pd.Timestamp(day)))
    largest = records_by_key(records)[(BINANCE, "realised_liquidated_usd")]
    binance = total[(BINANCE, "realised_liquidated_usd")]
    assert largest["days"] == 999 == len(liq)
    assert largest["all_time_max"] == binance.max()
    # the record's date is the UTC day the liquidations happened (the bar's day)
    assert (
        largest["all_time_date"]
        == liq.loc[(liq["long_usd"] + liq["short_usd"]).idxmax(), "time"].date()
    )


def test_all_market_open_interest_record_from_the_real_files() -> None:
    """All-market OI's record over Nov 2024 .. Nov 2025 daily closes: the issue quotes
    "$94.1B of 6 Oct 2025" (the bar of 6 Oct, known at 00:00 of 7 Oct, dated 6 Oct)."""
    frames = real_coinglass()
    oi = frames["oi_aggregated_1d"]
    first = oi["time"].iloc[0].date() + timedelta(days=1)
    last = oi["time"].iloc[-1].date() + timedelta(days=1)
    records = fold_records(daily_values(frames, first, last), "BTCUSDT", required=())
    row = records_by_key(records)[(ALL_MARKET, "oi_usd")]
    closes = series_by_day(oi, lambda f: f["close"])
    assert_row(row, by_hand(closes, pd.Timestamp(last)))
    assert row["all_time_max"] == pytest.approx(94.1e9, rel=1e-3)
    assert row["all_time_date"] == date(2025, 10, 6)
    assert row["days"] == closes.notna().sum() == len(oi)


def test_chained_records_equal_folded_records() -> None:
    frames = real_coinglass()
    days = daily_values(frames, date(2024, 11, 20), date(2025, 5, 12))
    partial = fold_records(days[:-1], "BTCUSDT", required=())
    chained = update_records(partial, days[-1][1], days[-1][0], "BTCUSDT", required=())
    pd.testing.assert_frame_equal(chained, fold_records(days, "BTCUSDT", required=()))
    assert set(records_by_key(chained)) == set(MARKET_WIDE_KEYS)


def test_market_wide_rows_are_absent_without_data_and_appear_with_it() -> None:
    nothing = {key: math.nan for key in MARKET_WIDE_KEYS}
    binance = dict.fromkeys(BINANCE_KEYS, 1.0)
    first = update_records(None, binance | nothing, date(2025, 1, 1), "BTCUSDT")
    assert set(records_by_key(first)) == set(BINANCE_KEYS)  # no NaN rows for Coinglass
    with_oi = nothing | {(ALL_MARKET, "oi_usd"): 7e10}
    second = update_records(first, binance | with_oi, date(2025, 1, 2), "BTCUSDT")
    assert set(records_by_key(second)) == set(BINANCE_KEYS) | {(ALL_MARKET, "oi_usd")}
    third = update_records(second, binance | nothing, date(2025, 1, 3), "BTCUSDT")
    row = records_by_key(third)[(ALL_MARKET, "oi_usd")]  # kept on a day without a value
    assert math.isnan(row["value"]) and row["all_time_max"] == 7e10 and row["days"] == 1
    both_oi = records_by_key(third)
    assert both_oi[(BINANCE, "oi_usd")]["all_time_max"] == 1.0  # venues kept apart
