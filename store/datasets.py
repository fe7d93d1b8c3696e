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

# Bybit and OKX market data (issue 14): the same five datasets as Binance's, in the same schemas
# (open interest in one-sided base-asset contracts), under <lake>/<venue>/…; keyed "<venue>/<name>".
MARKET_VENUES = ("binance", "bybit", "okx")
for _venue in MARKET_VENUES[1:]:
    for _name in ("klines_1m", "klines_5m", "mark_klines_1m", "metrics", "funding_rate"):
        _base = DATASETS[_name]
        DATASETS[f"{_venue}/{_name}"] = Dataset(
            _venue, _name, _base.schema, _base.time_column, _base.bar_seconds
        )


def market_dataset(venue: str, name: str) -> Dataset:
    """A market-data dataset of one venue (Binance's keep their bare names)."""
    return DATASETS[name if venue == "binance" else f"{venue}/{name}"]


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

# Bybit's and OKX's maps, and the aggregated map of all three ("all": Binance + Bybit + OKX),
# in the same schemas under <lake>/<venue>/liqmap_*; keyed "<venue>/liqmap_*", each venue's
# three files one unit ("<venue>/liqmap", store/units.py).
MAP_VENUES = ("binance", "bybit", "okx", "all")
for _venue in MAP_VENUES[1:]:
    for _name in ("liqmap_bins", "liqmap_summary", "liqmap_heatmap"):
        _base = DATASETS[_name]
        DATASETS[f"{_venue}/{_name}"] = Dataset(
            _venue, _name, _base.schema, _base.time_column, None, unit="liqmap"
        )


# The intraday snapshot's map (`daily --at 2026-11-25T14:00`, Binance's book as of a whole UTC
# hour): one unit per hour, "intraday/<HH>00/liqmap" under <lake>/intraday/<HH>00/liqmap_*/
# symbol=…/date=…, so an hour never touches the date's 00:00 map nor another hour's. Beside the
# three map tables, liqmap_sources: the source of each input day the map read (the ledger's at
# mapping time), so a re-render names the hours REST gave even after the archive replaced them.
LIQMAP_SOURCES_SCHEMA = pa.schema(
    [
        *_KEYS,
        ("input", pa.string()),  # "metrics", "klines_5m", "mark_klines_1m"
        ("input_date", pa.date32()),
        ("source_url", pa.string()),  # the ledger's: an archive URL or "rest:binance:…"
    ]
)
INTRADAY_HOURS = tuple(f"{hour:02d}00" for hour in range(24))
for _hour in INTRADAY_HOURS:
    for _name in ("liqmap_bins", "liqmap_summary", "liqmap_heatmap"):
        _base = DATASETS[_name]
        DATASETS[f"intraday/{_hour}/{_name}"] = Dataset(
            f"intraday/{_hour}", _name, _base.schema, _base.time_column, None, unit="liqmap"
        )
    DATASETS[f"intraday/{_hour}/liqmap_sources"] = Dataset(
        f"intraday/{_hour}", "liqmap_sources", LIQMAP_SOURCES_SCHEMA, "input_date", None,
        unit="liqmap",
    )  # fmt: skip


def intraday_venue(hour: int) -> str:
    """The lake's place for the map of a whole UTC hour: "intraday/1400"."""
    return f"intraday/{INTRADAY_HOURS[hour]}"


def map_dataset(venue: str, name: str) -> Dataset:
    """A map dataset of one venue or of "all" (Binance's keep their bare names)."""
    return DATASETS[name if venue == "binance" else f"{venue}/{name}"]


def unit_key(ds: Dataset) -> str:
    """The unit a dataset is replaced with: "liqmap" for Binance, "<venue>/liqmap" otherwise."""
    assert ds.unit is not None, f"{ds.name} is not replaced as part of a unit"
    return ds.unit if ds.venue == "binance" else f"{ds.venue}/{ds.unit}"


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
                # market-wide (Coinglass, NaN without COINGLASS_API_KEY): values at 00:00 UTC
                # of D, i.e. the daily bars dated D - 1
                "all_market_oi_usd", "binance_oi_share_pct",
                "realised_liq_long_usd", "realised_liq_short_usd", "realised_liq_usd",
                "all_market_liq_long_usd", "all_market_liq_short_usd", "all_market_liq_usd",
                "oi_weighted_funding_pct",
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

# the series a date's charts draw (transforms/context/chart_series.py), cut by the context step
CHART_SERIES_SCHEMA = pa.schema(
    [*_KEYS, ("series", pa.string()), ("time", UTC_TIME), ("value", pa.float64())]
)

for _d in [
    Dataset("fred", "fred_observations", FRED_SCHEMA, "date", None),
    Dataset("binance", "market_context", MARKET_CONTEXT_SCHEMA, "date", None),
    Dataset("macro", "macro_context", MACRO_CONTEXT_SCHEMA, "series", None),
    Dataset("macro", "macro_events", MACRO_EVENTS_SCHEMA, "event_date", None),
    Dataset("binance", "records", RECORDS_SCHEMA, "metric", None),
    Dataset("binance", "chart_series", CHART_SERIES_SCHEMA, "time", None),
]:
    DATASETS[_d.name] = _d


# -- Coinglass (optional, market-wide): <lake>/coinglass/<dataset>/symbol=<COIN>/date=… ------
# Bar histories: closed bars only (the in-progress last bar is never stored), one partition
# per calendar month (date = the month's first day), merged on ``time`` when re-fetched.
CG_OHLC_SCHEMA = pa.schema(
    [("time", UTC_TIME), *[(c, pa.float64()) for c in ("open", "high", "low", "close")]]
)
CG_LIQUIDATION_SCHEMA = pa.schema(
    [
        ("time", UTC_TIME),
        ("exchange_list", pa.string()),  # the exchanges Coinglass summed, as requested
        ("long_usd", pa.float64()),
        ("short_usd", pa.float64()),
    ]
)
# Snapshots: one partition per UTC fetch date, replaced by that day's latest fetch.
CG_OI_EXCHANGE_LIST_SCHEMA = pa.schema(
    [
        ("fetched_at", UTC_TIME),
        ("exchange", pa.string()),
        ("open_interest_usd", pa.float64()),
        ("open_interest_by_coin_margin", pa.float64()),
        ("open_interest_by_stable_coin_margin", pa.float64()),
        ("open_interest_change_percent_24h", pa.float64()),
    ]
)
CG_LIQUIDATION_EXCHANGE_LIST_SCHEMA = pa.schema(
    [
        ("fetched_at", UTC_TIME),
        ("range", pa.string()),
        ("exchange", pa.string()),
        ("liquidation_usd", pa.float64()),
        ("long_usd", pa.float64()),
        ("short_usd", pa.float64()),
    ]
)
CG_LIQUIDATION_MAP_SCHEMA = pa.schema(
    [
        ("fetched_at", UTC_TIME),
        ("scope", pa.string()),  # "aggregated" (all exchanges) or "binance" (the pair's map)
        ("range", pa.string()),
        ("price", pa.float64()),
        ("usd", pa.float64()),
        ("leverage", pa.float64()),  # NaN where Coinglass gives none
        ("last_price", pa.float64()),  # Coinglass's price at fetch time, NaN if not given
    ]
)
# What each fetch of a series got: the briefing's methods box says which Coinglass data the
# run had, and why not (plan, bad key, failure). One partition per UTC fetch date.
CG_FETCH_STATUS_SCHEMA = pa.schema(
    [
        ("fetched_at", UTC_TIME),
        ("series", pa.string()),  # a dataset name above
        ("outcome", pa.string()),  # "ok", "unavailable" (plan), "failed", "bad-key"
        ("message", pa.string()),  # one line, never the key's value
        ("rows", pa.int64()),
        ("first_time", UTC_TIME),  # first bar actually received (a plan truncates silently)
        ("last_time", UTC_TIME),  # last closed bar stored
    ]
)
CG_BAR_SECONDS = {"1d": 86_400, "4h": 14_400}
for _d in [
    *[
        Dataset("coinglass", f"{kind}_{interval}", schema, "time", seconds)
        for interval, seconds in CG_BAR_SECONDS.items()
        for kind, schema in (
            ("oi_aggregated", CG_OHLC_SCHEMA),
            ("liquidations_binance", CG_LIQUIDATION_SCHEMA),
            ("liquidations_all", CG_LIQUIDATION_SCHEMA),
        )
    ],
    Dataset("coinglass", "funding_oi_weighted_1d", CG_OHLC_SCHEMA, "time", 86_400),
    Dataset("coinglass", "oi_exchange_list", CG_OI_EXCHANGE_LIST_SCHEMA, "exchange", None),
    Dataset(
        "coinglass",
        "liquidations_exchange_list",
        CG_LIQUIDATION_EXCHANGE_LIST_SCHEMA,
        "exchange",
        None,
    ),
    Dataset("coinglass", "liquidation_map", CG_LIQUIDATION_MAP_SCHEMA, "price", None),
    Dataset("coinglass", "fetch_status", CG_FETCH_STATUS_SCHEMA, "series", None),
]:
    DATASETS[_d.name] = _d


# -- realised liquidations: <lake>/<venue>/realised_liquidations/symbol=…/date=… ------------
# One row per liquidation the venue reported (recorded from its public stream, or read from
# the Binance archive's liquidationSnapshot files), partitioned by the UTC day of ``time``.
REALISED_VENUES = ("binance", "bybit", "okx")
REALISED_LIQUIDATION_SCHEMA = pa.schema(
    [
        ("time", UTC_TIME),  # the venue's trade/event time of the liquidation
        ("received_at", UTC_TIME),  # when the recorder got the frame (null for archive rows)
        ("side", pa.string()),  # the position liquidated: "long" or "short"
        ("price", pa.float64()),  # the venue's price (see sources/liquidation_streams)
        ("quantity", pa.float64()),  # base units (OKX contracts × ctVal)
        ("notional_usd", pa.float64()),  # price × quantity
        ("source", pa.string()),  # "stream" or "archive"
        ("liq_id", pa.string()),  # the venue's identity of the liquidation (dedup key)
        ("raw", pa.string()),  # the venue's own item, as received (JSON or CSV line)
    ]
)
# The intervals a recorder was connected and subscribed for a symbol, split at UTC days:
# validation scores only hours these cover. Archive days are written as covering the day.
RECORDER_COVERAGE_SCHEMA = pa.schema(
    [
        ("start", UTC_TIME),
        ("end", UTC_TIME),
        ("source", pa.string()),  # "stream" or "archive"
    ]
)


# Frames the recorder received, per spool segment and UTC hour of receipt, under the one
# partition symbol=ALL (a frame carries many symbols): frame counts outlive the spool.
# Merged on (segment, hour), so compacting a segment twice never counts it twice.
MESSAGES_PARTITION = "ALL"
RECORDER_MESSAGES_SCHEMA = pa.schema(
    [
        ("segment", pa.string()),  # the spool segment's name without suffix: <start_us>-<pid>
        ("hour", UTC_TIME),  # the UTC hour the frames were received in
        ("frames", pa.int64()),  # every frame received (= data + control + malformed)
        ("data", pa.int64()),
        ("control", pa.int64()),  # acks, pongs, subscription answers
        ("malformed", pa.int64()),  # frames parse_frame could not read
        ("first_received", UTC_TIME),
        ("last_received", UTC_TIME),
    ]
)


def realised_dataset(venue: str) -> Dataset:
    """The realised-liquidation dataset of one venue."""
    return DATASETS[f"{venue}/realised_liquidations"]


def coverage_dataset(venue: str) -> Dataset:
    """The recorder-coverage dataset of one venue."""
    return DATASETS[f"{venue}/recorder_coverage"]


def messages_dataset(venue: str) -> Dataset:
    """The recorder-messages dataset of one venue (frames received per segment and hour)."""
    return DATASETS[f"{venue}/recorder_messages"]


for _venue in REALISED_VENUES:
    DATASETS[f"{_venue}/recorder_messages"] = Dataset(
        _venue, "recorder_messages", RECORDER_MESSAGES_SCHEMA, "hour", None
    )
    DATASETS[f"{_venue}/realised_liquidations"] = Dataset(
        _venue, "realised_liquidations", REALISED_LIQUIDATION_SCHEMA, "time", None
    )
    DATASETS[f"{_venue}/recorder_coverage"] = Dataset(
        _venue, "recorder_coverage", RECORDER_COVERAGE_SCHEMA, "start", None
    )


# -- the model's track record: <lake>/<venue>/validation{,_summary}/symbol=…/date=… ----------
# One row per scored day D and model variant: the 00:00 UTC map of D against what was
# liquidated during D (price level, recorded hours only) and the model's estimate of D's
# liquidations against the realised series (time level). NaN/"" where a level has no data.
VALIDATION_MODELS = ("exact", "naive", "single_side", "no_shrink")
VALIDATION_SCHEMA = pa.schema(
    [
        *_KEYS,
        ("model", pa.string()),  # one of VALIDATION_MODELS (the ablations of the design note)
        # price level: recorded liquidations of the same venue
        ("realised_source", pa.string()),  # "stream", "archive", "stream+archive" or ""
        ("covered_hours", pa.int64()),  # hours of D the recorder (or archive) covered
        ("events", pa.int64()),  # realised liquidations inside covered hours
        ("realised_long_usd", pa.float64()),
        ("realised_short_usd", pa.float64()),
        ("swept_bins", pa.int64()),
        ("swept_spearman", pa.float64()),
        ("capture_ratio", pa.float64()),
        ("top_bins", pa.int64()),
        ("top_hits", pa.int64()),
        ("top_precision", pa.float64()),
        ("top_precision_lower_95", pa.float64()),
        ("baseline_hit_share", pa.float64()),
        ("predicted_heavier", pa.string()),  # "long", "short" or ""
        ("realised_heavier", pa.string()),
        ("heavier_hit", pa.float64()),  # 1.0, 0.0 or NaN (not scored)
        ("headline_long_usd", pa.float64()),  # the map's C_L(day's covered low)
        ("headline_short_usd", pa.float64()),  # the map's C_S(day's covered high)
        ("map_bins", pa.int64()),  # bins with predicted notional (baseline denominator)
        ("map_bins_hit", pa.int64()),  # of those, bins a realised liquidation fell in
        ("nearest_hits", pa.int64()),  # hits of the top_bins bins nearest P0 (no-model baseline)
        ("nearest_precision", pa.float64()),  # nearest_hits / top_bins
        # time level: the model's own estimate of D's liquidations vs the realised series
        ("est_long_usd", pa.float64()),
        ("est_short_usd", pa.float64()),
        ("time_realised_source", pa.string()),  # "coinglass", "recorded" or ""
        ("time_realised_long_usd", pa.float64()),
        ("time_realised_short_usd", pa.float64()),
        ("est_4h_long_usd", pa.list_(pa.float64())),  # 6 values: 00-04, 04-08 … 20-24 UTC
        ("est_4h_short_usd", pa.list_(pa.float64())),
        ("realised_4h_long_usd", pa.list_(pa.float64())),
        ("realised_4h_short_usd", pa.list_(pa.float64())),
    ]
)
# As of date D (what a briefing of D may show): the scored days in [D - window, D - 1].
VALIDATION_SUMMARY_SCHEMA = pa.schema(
    [
        *_KEYS,
        ("model", pa.string()),
        ("window_days", pa.int64()),  # 30 or 90
        ("days_scored", pa.int64()),  # price-level days with enough events
        ("coverage_pct", pa.float64()),  # covered hours / (24 × window)
        ("events", pa.int64()),
        ("top_precision", pa.float64()),  # pooled top-decile hits / top-decile bins
        ("top_precision_lower_95", pa.float64()),  # Wilson 95 % lower bound of the above
        ("baseline_hit_share", pa.float64()),  # pooled share of all bins hit
        ("nearest_hit_share", pa.float64()),  # pooled hits of the bins nearest P0 / top_bins
        ("heavier_hit_rate", pa.float64()),  # price-level headline test
        ("swept_spearman_median", pa.float64()),
        ("time_realised_source", pa.string()),
        ("time_days", pa.int64()),
        ("time_spearman_1d", pa.float64()),
        ("time_spearman_1d_lo", pa.float64()),  # bootstrap 95 % interval
        ("time_spearman_1d_hi", pa.float64()),
        ("time_spearman_4h", pa.float64()),
        ("time_spearman_4h_lo", pa.float64()),
        ("time_spearman_4h_hi", pa.float64()),
        ("est_to_realised_ratio", pa.float64()),  # sum of estimates / sum realised
        ("time_heavier_hit_rate", pa.float64()),  # days the heavier estimated side lost more
    ]
)
for _d in [
    Dataset("binance", "validation", VALIDATION_SCHEMA, "model", None),
    Dataset("binance", "validation_summary", VALIDATION_SUMMARY_SCHEMA, "window_days", None),
]:
    DATASETS[_d.name] = _d
