"""Which Coinglass series liqbrief keeps: the endpoint and parameters of each lake dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sources import coinglass_parse as parse
from store.datasets import CG_BAR_SECONDS

BINANCE = "Binance"
MAP_RANGE = "7d"
EXCHANGE_LIST_RANGE = "24h"


@dataclass(frozen=True)
class BarSeries:
    """A bar history: closed bars, paged by time, merged into monthly partitions."""

    dataset: str
    path: str
    interval: str
    parse: Callable[[Any, str], pd.DataFrame]
    exchange_list: str | None = None  # liquidations: the exchanges Coinglass sums

    @property
    def name(self) -> str:
        return self.dataset

    @property
    def interval_ms(self) -> int:
        return CG_BAR_SECONDS[self.interval] * 1000

    def params(self, coin: str) -> dict[str, str]:
        extra = {"exchange_list": self.exchange_list} if self.exchange_list else {}
        return extra | {"symbol": coin, "interval": self.interval}


@dataclass(frozen=True)
class Snapshot:
    """A live snapshot, stored in the partition of its UTC fetch date. ``scope`` splits a
    dataset two endpoints share (the liquidation map); ``range`` is stored with the rows."""

    name: str  # the fetch_status series
    dataset: str
    path: str
    parse: Callable[[Any, str], pd.DataFrame]
    params: Callable[[str], dict[str, str]]
    range: str | None = None
    scope: str | None = None


OI_HISTORY = "/api/futures/open-interest/aggregated-history"
LIQUIDATION_HISTORY = "/api/futures/liquidation/aggregated-history"
FUNDING_OI_WEIGHTED = "/api/futures/funding-rate/oi-weight-history"
OI_EXCHANGE_LIST = "/api/futures/open-interest/exchange-list"
LIQUIDATION_EXCHANGE_LIST = "/api/futures/liquidation/exchange-list"
AGGREGATED_MAP = "/api/futures/liquidation/aggregated-map"
PAIR_MAP = "/api/futures/liquidation/map"


def bar_series(all_exchanges: str) -> list[BarSeries]:
    """The bar histories, daily first (the records need them most)."""
    series = []
    for interval in ("1d", "4h"):
        series += [
            BarSeries(f"oi_aggregated_{interval}", OI_HISTORY, interval, parse.ohlc_bars),
            BarSeries(f"liquidations_binance_{interval}", LIQUIDATION_HISTORY, interval,
                      parse.liquidation_bars, BINANCE),
            BarSeries(f"liquidations_all_{interval}", LIQUIDATION_HISTORY, interval,
                      parse.liquidation_bars, all_exchanges),
        ]  # fmt: skip
    series.append(BarSeries("funding_oi_weighted_1d", FUNDING_OI_WEIGHTED, "1d", parse.ohlc_bars))
    return series


def snapshots() -> list[Snapshot]:
    """The snapshots: exchange lists (every plan) and the maps (higher plans only)."""
    return [
        Snapshot("oi_exchange_list", "oi_exchange_list", OI_EXCHANGE_LIST,
                 parse.oi_exchange_list, lambda coin: {"symbol": coin}),
        Snapshot("liquidations_exchange_list", "liquidations_exchange_list",
                 LIQUIDATION_EXCHANGE_LIST, parse.liquidation_exchange_list,
                 lambda coin: {"range": EXCHANGE_LIST_RANGE, "symbol": coin}, EXCHANGE_LIST_RANGE),
        Snapshot("liquidation_map:aggregated", "liquidation_map", AGGREGATED_MAP,
                 parse.liquidation_map, lambda coin: {"symbol": coin, "range": MAP_RANGE},
                 MAP_RANGE, "aggregated"),
        Snapshot("liquidation_map:binance", "liquidation_map", PAIR_MAP, parse.liquidation_map,
                 lambda coin: {"exchange": BINANCE, "symbol": f"{coin}USDT", "range": MAP_RANGE},
                 MAP_RANGE, "binance"),
    ]  # fmt: skip
