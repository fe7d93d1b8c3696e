"""Coinglass rows put into a demo lake directly, from the real saved responses in
shared/data/liquidity-report (no fetch): what a run with a key leaves for the briefing.

- records of the date: (all-market, oi_usd) from the aggregated OI history's daily closes
  (the last 4-hourly close of each complete UTC day) and (binance, realised_liquidated_usd)
  from the Binance liquidation history's daily sums, each folded over every day before the
  date as the plan describes (the files hold no all-exchange liquidation history);
- the date's market_context row with all_market_oi_usd, binance_oi_share_pct and the
  realised liquidations of the day before;
- the snapshots of the date: fetch_status, the real 2025-11-14 OI exchange list and,
  optionally, a liquidation map.
"""

from __future__ import annotations

import bisect
import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow as pa

from store.datasets import DATASETS
from store.lake import Lake
from store.ledger import LedgerEntry
from tests.conftest import SHARED_DATA

REPORT_DATA = SHARED_DATA / "liquidity-report"
SNAPSHOT = "20251114__api_futures_"
FETCHED_AT = pd.Timestamp("2025-11-14 16:10", tz="UTC")
BAR_SERIES = [
    "oi_aggregated_1d", "liquidations_binance_1d", "liquidations_all_1d", "funding_oi_weighted_1d",
    "oi_aggregated_4h", "liquidations_binance_4h", "liquidations_all_4h",
]  # fmt: skip


def _daily(name: str, how: dict) -> pd.DataFrame:
    """Complete UTC days (six 4-hourly bars) of a real history file."""
    frame = pd.read_parquet(REPORT_DATA / f"{SNAPSHOT}{name}.parquet")
    day = pd.to_datetime(frame["time"].astype("int64"), unit="ms", utc=True).dt.date
    out = frame.groupby(day).agg(bars=("time", "size"), **how)
    return out[out["bars"] == 6]


def daily_oi_close() -> pd.Series:
    return _daily("openInterest_ohlc_aggregated_history_BTC", {"close": ("close", "last")})["close"]


def daily_binance_liquidations() -> pd.DataFrame:
    return _daily(
        "liquidation_aggregated_coin_history_BTC",
        {"long": ("aggregated_long_liquidation_usd", "sum"), "short": ("aggregated_short_liquidation_usd", "sum")},
    )  # fmt: skip


def record_row(day: date, symbol: str, venue: str, metric: str, values: pd.Series) -> dict:
    """One records row as of ``day`` from the daily values before it (all time, by hand)."""
    before = values[[d < day for d in values.index]].dropna()
    value = (
        float(before.iloc[-1])
        if len(before) and before.index[-1] == day - timedelta(days=1)
        else math.nan
    )
    best_date = before.idxmax()
    year = before[[d.year == day.year for d in before.index]]
    history = sorted(float(v) for v in before)
    return {
        "date": day, "symbol": symbol, "venue": venue, "metric": metric, "value": value,
        "all_time_max": float(before.max()), "all_time_date": best_date,
        "ytd_max": float(year.max()), "ytd_date": year.idxmax(),
        "pct_of_record": value / float(before.max()) * 100,
        "rank": len(history) - bisect.bisect_right(history, value) + 1,
        "days": len(history), "days_since_record": (day - best_date).days, "history": history,
    }  # fmt: skip


def _write(lake: Lake, name: str, key: str, day: date, frame: pd.DataFrame) -> None:
    ds = DATASETS[name]
    table = pa.Table.from_pandas(frame[ds.schema.names], schema=ds.schema, preserve_index=False)
    entry = LedgerEntry(
        venue=ds.venue, dataset=name, symbol=key, date=day.isoformat(), source_url="test",
        source_sha256="", rows=table.num_rows, duplicates_dropped=0, missing_rows=0,
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    lake.write_day(ds, day, table, entry)


def add_market_wide(lake: Lake, day: date, symbol: str = "BTCUSDT") -> None:
    """The all-market records and market-context columns of ``day`` from the real files."""
    oi, liq = daily_oi_close(), daily_binance_liquidations()
    realised = liq["long"] + liq["short"]
    records = lake.read(DATASETS["records"], symbol, day, day)
    new = [
        record_row(day, symbol, "all-market", "oi_usd", oi),
        record_row(day, symbol, "binance", "realised_liquidated_usd", realised),
    ]
    _write(lake, "records", symbol, day, pd.concat([records, pd.DataFrame(new)], ignore_index=True))
    market = lake.read(DATASETS["market_context"], symbol, day, day)
    yesterday = day - timedelta(days=1)
    market["all_market_oi_usd"] = oi[yesterday]
    market["binance_oi_share_pct"] = market["oi_usd"] / oi[yesterday] * 100
    market["realised_liq_long_usd"] = liq.loc[yesterday, "long"]
    market["realised_liq_short_usd"] = liq.loc[yesterday, "short"]
    market["realised_liq_usd"] = realised[yesterday]
    _write(lake, "market_context", symbol, day, market)


def add_bars(
    lake: Lake, name: str, bars: pd.DataFrame, exchange_list: str | None = None, coin: str = "BTC"
) -> None:
    """Daily bars (index: the bar's UTC day) as the fetch stores them: one partition per
    calendar month, ``exchange_list`` on liquidation bars."""
    frame = bars.copy()
    frame["time"] = pd.to_datetime([pd.Timestamp(d) for d in frame.index], utc=True)
    if exchange_list is not None:
        frame["exchange_list"] = exchange_list
    month = frame["time"].dt.strftime("%Y-%m")
    for _, part in frame.groupby(month):
        first = part["time"].iloc[0].date().replace(day=1)
        _write(lake, name, coin, first, part.reset_index(drop=True))


def add_history_bars(lake: Lake, day: date, coin: str = "BTC") -> None:
    """The real daily OI closes and Binance liquidations before ``day`` as stored 1d bars."""
    oi = daily_oi_close()
    oi = oi[[d < day for d in oi.index]]
    add_bars(
        lake,
        "oi_aggregated_1d",
        pd.DataFrame({"open": oi, "high": oi, "low": oi, "close": oi}),
        coin=coin,
    )
    liq = daily_binance_liquidations()
    liq = liq[[d < day for d in liq.index]]
    frame = pd.DataFrame({"long_usd": liq["long"], "short_usd": liq["short"]})
    add_bars(lake, "liquidations_binance_1d", frame, "Binance", coin)


def add_exchange_list(lake: Lake, day: date, coin: str = "BTC") -> None:
    frame = pd.read_parquet(REPORT_DATA / f"{SNAPSHOT}openInterest_exchange_list_BTC.parquet")
    frame["fetched_at"] = FETCHED_AT
    _write(lake, "oi_exchange_list", coin, day, frame.astype({"open_interest_usd": float}))


def add_liquidation_map(
    lake: Lake, day: date, rows: list[tuple[float, float]], coin: str = "BTC"
) -> None:
    """A Binance-pair map snapshot: (price, usd) levels, leverage unknown (NaN)."""
    frame = pd.DataFrame(rows, columns=["price", "usd"]).assign(
        fetched_at=FETCHED_AT, scope="binance", range="7d", leverage=math.nan, last_price=math.nan
    )
    _write(lake, "liquidation_map", coin, day, frame)


def add_fetch_status(
    lake: Lake, day: date, outcomes: dict[str, tuple[str, str]], coin: str = "BTC"
) -> None:
    """fetch_status rows: series → (outcome, message)."""
    frame = pd.DataFrame(
        [
            {"fetched_at": FETCHED_AT, "series": s, "outcome": o, "message": m, "rows": 0,
             "first_time": FETCHED_AT.floor("D"), "last_time": FETCHED_AT.floor("D")}
            for s, (o, m) in outcomes.items()
        ]
    )  # fmt: skip
    _write(lake, "fetch_status", coin, day, frame)


def all_ok(map_outcome: tuple[str, str] = ("ok", "1 snapshot")) -> dict[str, tuple[str, str]]:
    outcomes = {s: ("ok", "up to date") for s in BAR_SERIES}
    outcomes |= {
        "oi_exchange_list": ("ok", "1 snapshot"),
        "liquidations_exchange_list": ("ok", "1 snapshot"),
    }
    return outcomes | {
        "liquidation_map:aggregated": map_outcome,
        "liquidation_map:binance": map_outcome,
    }
