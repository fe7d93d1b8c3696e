"""The lake's datasets: their names, explicit Arrow schemas and time columns.

One schema per dataset, so every reader gets the same types whatever file a
day came from: timestamps are UTC microseconds (lossless for both the
millisecond and the microsecond archive files), prices and amounts float64,
and no object columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

UTC_TIME = pa.timestamp("us", tz="UTC")

KLINE_SCHEMA = pa.schema(
    [
        ("open_time", UTC_TIME),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
        ("close_time", UTC_TIME),
        ("quote_volume", pa.float64()),
        ("count", pa.int64()),
        ("taker_buy_volume", pa.float64()),
        ("taker_buy_quote_volume", pa.float64()),
    ]
)

METRICS_SCHEMA = pa.schema(
    [
        ("create_time", UTC_TIME),
        ("sum_open_interest", pa.float64()),
        ("sum_open_interest_value", pa.float64()),
        ("count_toptrader_long_short_ratio", pa.float64()),
        ("sum_toptrader_long_short_ratio", pa.float64()),
        ("count_long_short_ratio", pa.float64()),
        ("sum_taker_long_short_vol_ratio", pa.float64()),
    ]
)

FUNDING_RATE_SCHEMA = pa.schema(
    [
        ("calc_time", UTC_TIME),
        ("funding_interval_hours", pa.int64()),
        ("last_funding_rate", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Dataset:
    """A lake dataset: where it lives and what its rows look like."""

    venue: str
    name: str
    schema: pa.Schema
    time_column: str
    bar_seconds: int | None  # expected spacing of rows, for gap detection; None if irregular
    unit: str | None = None  # datasets replaced together per symbol and date (store/units.py)

    @property
    def rows_per_day(self) -> int | None:
        return None if self.bar_seconds is None else 86_400 // self.bar_seconds


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset("binance", "klines_1m", KLINE_SCHEMA, "open_time", 60),
        Dataset("binance", "klines_5m", KLINE_SCHEMA, "open_time", 300),
        Dataset("binance", "mark_klines_1m", KLINE_SCHEMA, "open_time", 60),
        Dataset("binance", "metrics", METRICS_SCHEMA, "create_time", 300),
        Dataset("binance", "funding_rate", FUNDING_RATE_SCHEMA, "calc_time", None),
    ]
}


# -- derived datasets: the liquidation-map engine's outputs --------------------------------
_KEYS = [("date", pa.date32()), ("symbol", pa.string()), ("venue", pa.string())]

LIQMAP_BINS_SCHEMA = pa.schema(
    [
        *_KEYS,
        ("window", pa.string()),
        ("bin_lo", pa.float64()),
        ("bin_hi", pa.float64()),
        ("side", pa.string()),
        ("tier", pa.int64()),
        ("notional_usd", pa.float64()),
    ]
)

_LEVEL_COLUMNS = [
    f"cum_{side}_{pct}pct" for pct in (1, 2, 3, 5) for side in ("long", "short")
] + [
    name
    for k in (1, 2, 3)
    for name in (
        f"round_below_{k}", f"cum_long_round_below_{k}", f"round_above_{k}", f"cum_short_round_above_{k}"
    )
]  # fmt: skip
_CLUSTER_COLUMNS = [
    f"{side}_{what}"
    for side in ("long", "short")
    for what in ("cluster_price", "cluster_usd", "cluster_distance_pct", "total_usd")
]
LIQMAP_SUMMARY_SCHEMA = pa.schema(
    [
        *_KEYS,
        ("window", pa.string()),
        ("p0", pa.float64()),
        *[(c, pa.float64()) for c in _LEVEL_COLUMNS + _CLUSTER_COLUMNS],
        ("imbalance_5pct", pa.float64()),
        ("est_liquidated_long_usd", pa.float64()),
        ("est_liquidated_short_usd", pa.float64()),
        ("est_liquidated_usd", pa.float64()),
        ("p0_from_last_price", pa.bool_()),
        ("bin_size", pa.float64()),
        ("oi_missing_bars", pa.int64()),
        ("kline_missing_bars", pa.int64()),
        ("shrink_clamped_bars", pa.int64()),
        ("mark_fallback_minutes", pa.int64()),
        ("price_missing_minutes", pa.int64()),
        ("brackets_source", pa.string()),
    ]
)

LIQMAP_HEATMAP_SCHEMA = pa.schema(
    [
        *_KEYS,
        ("hour", UTC_TIME),
        ("bin_lo", pa.float64()),
        ("bin_hi", pa.float64()),
        ("side", pa.string()),
        ("notional_usd", pa.float64()),
    ]
)

for _d in [
    Dataset("binance", "liqmap_bins", LIQMAP_BINS_SCHEMA, "bin_lo", None, unit="liqmap"),
    Dataset("binance", "liqmap_summary", LIQMAP_SUMMARY_SCHEMA, "date", None, unit="liqmap"),
    Dataset("binance", "liqmap_heatmap", LIQMAP_HEATMAP_SCHEMA, "hour", None, unit="liqmap"),
]:
    DATASETS[_d.name] = _d


# -- macro data and context tables -----------------------------------------------------------
# One row per observation date and FRED real-time period (ALFRED vintage): the value FRED
# showed from realtime_start to realtime_end. vintage=False: a keyless-CSV row, the latest
# revision as first fetched on realtime_start (what was known before that is unknown).
FRED_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("value", pa.float64()),
        ("realtime_start", pa.date32()),
        ("realtime_end", pa.date32()),
        ("vintage", pa.bool_()),
    ]
)
MARKET_CONTEXT_SCHEMA = pa.schema(
    [
        *_KEYS,
        *[
            (c, pa.float64())
            for c in (
                "price", "oi_usd", "oi_change_1d_pct", "oi_change_7d_pct", "funding_last",
                "funding_avg_7d", "funding_annualised_pct", "long_short_account_ratio",
                "top_trader_ratio", "taker_buy_sell_ratio", "quote_volume_24h",
                "volume_vs_year_start", "realised_vol_7d_pct",
            )
        ],
    ]
)  # fmt: skip
MACRO_CONTEXT_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("series", pa.string()),
        ("label", pa.string()),
        ("obs_date", pa.date32()),
        ("value", pa.float64()),
        ("chg_1d", pa.float64()),
        ("chg_1w", pa.float64()),
        ("chg_1m", pa.float64()),
        ("chg_ytd", pa.float64()),
        ("days_since_obs", pa.int64()),
        ("stale", pa.bool_()),
        # the value is a revision fetched after the date (keyless CSV: no vintages), not
        # necessarily the one known then
        ("latest_revision", pa.bool_()),
    ]
)
MACRO_EVENTS_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("event_date", pa.date32()),
        ("event", pa.string()),
        ("days_until", pa.int64()),
        ("text", pa.string()),
    ]
)
RECORDS_SCHEMA = pa.schema(
    [
        *_KEYS,
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("all_time_max", pa.float64()),
        ("all_time_date", pa.date32()),
        ("ytd_max", pa.float64()),
        ("ytd_date", pa.date32()),
        ("pct_of_record", pa.float64()),
        ("rank", pa.int64()),
        ("days", pa.int64()),
        ("days_since_record", pa.int64()),
        ("history", pa.list_(pa.float64())),
    ]
)

for _d in [
    Dataset("fred", "fred_observations", FRED_SCHEMA, "date", None),
    Dataset("binance", "market_context", MARKET_CONTEXT_SCHEMA, "date", None),
    Dataset("macro", "macro_context", MACRO_CONTEXT_SCHEMA, "series", None),
    Dataset("macro", "macro_events", MACRO_EVENTS_SCHEMA, "event_date", None),
    Dataset("binance", "records", RECORDS_SCHEMA, "metric", None),
]:
    DATASETS[_d.name] = _d
