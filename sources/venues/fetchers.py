"""One page of one venue's series: the venue-specific half of the fetch (which ccxt call,
how wide a page may be, which field holds what). Each fetcher returns the rows of
[since, until) as dicts in the lake's column names (times in epoch ms); paging.py walks the
pages. Open interest is stored one-sided in base units everywhere: Bybit's ``openInterest``
is "the sum of both sides" (its ``singleOpenInterest`` is one side), OKX counts contracts
(× ctVal from data/okx_contract_values.json)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sources.liquidation_streams.okx import contract_values
from sources.retry_policy import RetryPolicy
from sources.venues.calls import VenueRequestError, with_retries
from sources.venues.exchanges import unified_symbol

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
NAN = math.nan
BOTH_SIDES_TOLERANCE = 0.01  # Bybit's openInterest must be 2 × singleOpenInterest within 1 %


@dataclass
class FetchContext:
    """What every page of one venue and symbol needs; ``notes`` collects what the run must
    say (a Bybit page whose two OI fields disagree)."""

    exchange: Any
    venue: str
    symbol: str  # the project's ticker, e.g. BTCUSDT
    policy: RetryPolicy
    notes: set[str] = field(default_factory=set)

    @property
    def market(self) -> str:
        return unified_symbol(self.symbol)

    async def call(self, what: str, method: Callable[[], Awaitable[Any]]) -> Any:
        return await with_retries(self.exchange, f"{self.venue} {what}", method, self.policy)


@dataclass(frozen=True)
class Series:
    """A dataset as one venue serves it: the endpoint (named in the ledger), the bar step,
    how many bars one page may span, and the fetcher of one page."""

    endpoint: str
    step_ms: int
    page_bars: int
    fetch: Callable[[FetchContext, int, int], Awaitable[list[dict[str, Any]]]]


def _kline_row(t: int, step: int, o, h, lo, c, volume, quote=NAN, count=None, tb=NAN, tq=NAN):
    return {
        "open_time": int(t), "open": float(o), "high": float(h), "low": float(lo),
        "close": float(c), "volume": NAN if volume is None else float(volume),
        "close_time": int(t) + step - 1, "quote_volume": float(quote), "count": count,
        "taker_buy_volume": float(tb), "taker_buy_quote_volume": float(tq),
    }  # fmt: skip


def _metrics_row(t: int, oi_base: float, oi_usd: float = NAN) -> dict[str, Any]:
    ratios = ("count_toptrader_long_short_ratio", "sum_toptrader_long_short_ratio",
              "count_long_short_ratio", "sum_taker_long_short_vol_ratio")  # fmt: skip
    return {
        "create_time": int(t),
        "sum_open_interest": oi_base,
        "sum_open_interest_value": oi_usd,
    } | {r: NAN for r in ratios}


def _funding_row(t: int, rate: float) -> dict[str, Any]:
    return {"calc_time": int(t), "funding_interval_hours": None, "last_funding_rate": float(rate)}


def bars_in(since: int, until: int, step: int) -> int:
    """Bars of the ``step`` grid starting in [since, until) (``since`` on the grid)."""
    return max(1, -(-(until - since) // step))


def _num(value: Any) -> float:
    return NAN if value is None else float(value)


# -- OHLCV -----------------------------------------------------------------------------
def binance_klines(mark: bool, step: int) -> Callable:
    """Binance klines through ccxt's raw endpoint, keeping every archive column."""
    interval = f"{step // MINUTE_MS}m"

    async def fetch(ctx: FetchContext, since: int, until: int) -> list[dict[str, Any]]:
        ex = ctx.exchange
        method = ex.fapiPublicGetMarkPriceKlines if mark else ex.fapiPublicGetKlines
        request = {"symbol": ctx.symbol, "interval": interval, "startTime": since,
                   "endTime": until - 1, "limit": bars_in(since, until, step)}  # fmt: skip

        async def page() -> list[list[Any]]:
            return _rows_of(await method(request), list)

        raw = await ctx.call(f"{'mark ' if mark else ''}klines", page)
        return [
            _kline_row(r[0], step, r[1], r[2], r[3], r[4], r[5], r[7], int(r[8]), r[9], r[10])
            for r in raw
        ]

    return fetch


def bybit_klines(step: int) -> Callable:
    """Bybit trade klines through ccxt's raw endpoint: ccxt's OHLCV drops ``turnover`` (the
    quote volume the engine's entry VWAP needs). Rows come newest first."""

    async def fetch(ctx: FetchContext, since: int, until: int) -> list[dict[str, Any]]:
        request = {"category": "linear", "symbol": ctx.symbol, "interval": str(step // MINUTE_MS),
                   "start": since, "end": until - 1, "limit": bars_in(since, until, step)}  # fmt: skip

        async def page() -> list[list[Any]]:
            reply = await ctx.exchange.publicGetV5MarketKline(request)
            return _rows_of(reply["result"]["list"], list)

        raw = await ctx.call("klines", page)
        return [_kline_row(int(r[0]), step, r[1], r[2], r[3], r[4], r[5], r[6]) for r in raw]

    return fetch


OKX_RECENT_BARS = 1439  # OKX's recent-candles endpoint holds these; older ones are history


def okx_klines(step: int) -> Callable:
    """OKX trade candles through ccxt's raw endpoints (the recent one for the last 1,439 bars,
    as ccxt chooses): ccxt's OHLCV drops ``volCcyQuote``. Volume in base (``volCcy``)."""
    bar = f"{step // MINUTE_MS}m"

    async def fetch(ctx: FetchContext, since: int, until: int) -> list[dict[str, Any]]:
        recent = since >= ctx.exchange.milliseconds() - OKX_RECENT_BARS * step
        method = (ctx.exchange.publicGetMarketCandles if recent
                  else ctx.exchange.publicGetMarketHistoryCandles)  # fmt: skip
        request = {"instId": okx_instrument(ctx.symbol), "bar": bar, "before": since - 1,
                   "after": until, "limit": bars_in(since, until, step)}  # fmt: skip

        async def page() -> list[list[Any]]:
            return _rows_of((await method(request))["data"], list)

        raw = await ctx.call("candles", page)
        return [_kline_row(int(r[0]), step, r[1], r[2], r[3], r[4], r[6], r[7]) for r in raw]

    return fetch


def okx_instrument(symbol: str) -> str:
    """BTCUSDT → BTC-USDT-SWAP."""
    return f"{symbol.removesuffix('USDT')}-USDT-SWAP"


def ccxt_ohlcv(mark: bool, step: int) -> Callable:
    """Bybit and OKX mark candles through ccxt's unified fetch_ohlcv, one window per call
    (OKX: 100 mark candles a page, paged here explicitly; ccxt's own paging leaves holes)."""
    timeframe = f"{step // MINUTE_MS}m"

    async def fetch(ctx: FetchContext, since: int, until: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"until": until if ctx.venue == "okx" else until - 1}
        if mark:
            params["price"] = "mark"
        limit = bars_in(since, until, step)
        raw = await ctx.call(
            f"{'mark ' if mark else ''}candles",
            lambda: ctx.exchange.fetch_ohlcv(ctx.market, timeframe, since, limit, dict(params)),
        )
        return [_kline_row(t, step, o, h, lo, c, None if mark else v) for t, o, h, lo, c, v in raw]

    return fetch


# -- open interest -----------------------------------------------------------------------
async def binance_oi(ctx: FetchContext, since: int, until: int) -> list[dict[str, Any]]:
    raw = await ctx.call(
        "open interest",
        lambda: ctx.exchange.fetch_open_interest_history(
            ctx.market, "5m", since, bars_in(since, until, 5 * MINUTE_MS), {"until": until - 1}
        ),
    )
    rows = [
        _metrics_row(r["timestamp"], _num(r["openInterestAmount"]), _num(r["openInterestValue"]))
        for r in raw
    ]
    for column, (method, value_key) in BINANCE_RATIOS.items():
        request = {"symbol": ctx.symbol, "period": "5m", "startTime": since,
                   "endTime": until - 1, "limit": bars_in(since, until, 5 * MINUTE_MS)}  # fmt: skip

        async def page(method: str = method, request: dict = request) -> list[dict[str, Any]]:
            return _rows_of(await getattr(ctx.exchange, method)(request), dict)

        ratios = await ctx.call(f"{column}", page)
        _merge_ratio(rows, column, {int(r["timestamp"]): _num(r.get(value_key)) for r in ratios})
    return rows


# the archive's metrics ratio columns and the Binance REST endpoint (ccxt raw method) of each
BINANCE_RATIOS = {
    "count_toptrader_long_short_ratio": ("fapiDataGetTopLongShortAccountRatio", "longShortRatio"),
    "sum_toptrader_long_short_ratio": ("fapiDataGetTopLongShortPositionRatio", "longShortRatio"),
    "count_long_short_ratio": ("fapiDataGetGlobalLongShortAccountRatio", "longShortRatio"),
    "sum_taker_long_short_vol_ratio": ("fapiDataGetTakerlongshortRatio", "buySellRatio"),
}


def _merge_ratio(rows: list[dict[str, Any]], column: str, by_time: dict[int, float]) -> None:
    """Put a ratio series into the OI rows of the same time (NaN where it has none)."""
    for row in rows:
        row[column] = by_time.get(int(row["create_time"]), NAN)


async def account_ratios(ctx: FetchContext, since: int, until: int) -> dict[int, float]:
    """Bybit's /v5/market/account-ratio or OKX's long-short-account-ratio-contract over
    [since, until): the share of accounts long over short, stored as count_long_short_ratio."""
    bars = bars_in(since, until, 5 * MINUTE_MS)
    if ctx.venue == "bybit":
        args = ("5min", None, bars, {"startTime": since, "endTime": until - 1})
    else:
        args = ("5m", since, bars, {"until": until - 1})
    raw = await ctx.call(
        "account ratio",
        lambda: ctx.exchange.fetch_long_short_ratio_history(ctx.market, *args),
    )
    return {int(r["timestamp"]): _num(r["longShortRatio"]) for r in raw}


async def bybit_oi(ctx: FetchContext, since: int, until: int) -> list[dict[str, Any]]:
    """Bybit OI of [since, until): cursor pages of 200 (``nextPageCursor`` → ``cursor``),
    ``since`` always with ``until`` (since alone is clamped to one page)."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1 + (until - since) // (5 * MINUTE_MS * 200) + 1):
        params: dict[str, Any] = {"until": until - 1} | ({"cursor": cursor} if cursor else {})
        page = await ctx.call(
            "open interest",
            lambda p=params: ctx.exchange.fetch_open_interest_history(
                ctx.market, "5m", since, 200, p
            ),
        )
        rows.extend(_bybit_one_sided(ctx, item) for item in page)
        cursor = next(
            (i["info"]["nextPageCursor"] for i in page if "nextPageCursor" in i["info"]), None
        )
        if not cursor:
            _merge_ratio(rows, "count_long_short_ratio", await account_ratios(ctx, since, until))
            return rows
    raise VenueRequestError(f"bybit open interest: the cursor did not end within {since}..{until}")


def _bybit_one_sided(ctx: FetchContext, item: dict[str, Any]) -> dict[str, Any]:
    """One side of Bybit's open interest: ``singleOpenInterest`` when sent (checked against
    ``openInterest`` = both sides), else half of ``openInterest``."""
    both = _num(item["info"].get("openInterest"))
    single = item["info"].get("singleOpenInterest")
    if single is None:
        ctx.notes.add("bybit sent no singleOpenInterest: stored openInterest / 2 (both sides)")
        return _metrics_row(item["timestamp"], both / 2)
    one = float(single)
    if math.isfinite(both) and one > 0 and abs(both / (2 * one) - 1) > BOTH_SIDES_TOLERANCE:
        ctx.notes.add(
            "bybit openInterest is not twice singleOpenInterest on some bars: stored "
            "singleOpenInterest (one side)"
        )
    return _metrics_row(item["timestamp"], one)


async def okx_oi(ctx: FetchContext, since: int, until: int) -> list[dict[str, Any]]:
    ct_val = _okx_contract_value(ctx.symbol)
    raw = await ctx.call(
        "open interest",
        lambda: ctx.exchange.fetch_open_interest_history(
            ctx.market, "5m", since, bars_in(since, until, 5 * MINUTE_MS)
        ),
    )
    rows = [
        _metrics_row(
            r["timestamp"], _num(r["openInterestAmount"]) * ct_val, _num(r["openInterestValue"])
        )
        for r in raw
    ]
    _merge_ratio(rows, "count_long_short_ratio", await account_ratios(ctx, since, until))
    return rows


def _okx_contract_value(symbol: str) -> float:
    inst = okx_instrument(symbol)
    value = contract_values().get(inst)
    if value is None:
        raise VenueRequestError(
            f"okx: no contract value for {inst} in data/okx_contract_values.json; add its ctVal "
            "(GET /api/v5/public/instruments?instType=SWAP) to fetch its open interest"
        )
    return float(value)


# -- funding -------------------------------------------------------------------------------
async def ccxt_funding(ctx: FetchContext, since: int, until: int) -> list[dict[str, Any]]:
    """Funding of [since, until) in one window no wider than ``page_bars`` hours, so it holds
    fewer rows than a page even for hourly funding (no 8-hour step is assumed)."""
    limit = bars_in(since, until, HOUR_MS)
    params: dict[str, Any] = {"after": until} if ctx.venue == "okx" else {"until": until - 1}
    raw = await ctx.call(
        "funding",
        lambda: ctx.exchange.fetch_funding_rate_history(ctx.market, since, limit, params),
    )
    return [_funding_row(r["timestamp"], r["fundingRate"]) for r in raw]


def _rows_of(raw: Any, kind: type) -> list[Any]:
    """A raw reply's rows; a body that is not what the venue sends is malformed (retried)."""
    if not isinstance(raw, list) or any(not isinstance(r, kind) for r in raw):
        raise ValueError(f"malformed reply: expected a list of rows, got {type(raw).__name__}")
    return raw


K5, M1 = 5 * MINUTE_MS, MINUTE_MS
SERIES: dict[str, dict[str, Series]] = {
    "binance": {
        "metrics": Series("/futures/data/openInterestHist", K5, 500, binance_oi),
        "klines_5m": Series("/fapi/v1/klines", K5, 1000, binance_klines(False, K5)),
        "klines_1m": Series("/fapi/v1/klines", M1, 1000, binance_klines(False, M1)),
        "mark_klines_1m": Series("/fapi/v1/markPriceKlines", M1, 1000, binance_klines(True, M1)),
        "funding_rate": Series("/fapi/v1/fundingRate", HOUR_MS, 1000, ccxt_funding),
    },
    "bybit": {
        "metrics": Series("/v5/market/open-interest", K5, 500, bybit_oi),
        "klines_5m": Series("/v5/market/kline", K5, 1000, bybit_klines(K5)),
        "klines_1m": Series("/v5/market/kline", M1, 1000, bybit_klines(M1)),
        "mark_klines_1m": Series("/v5/market/mark-price-kline", M1, 1000, ccxt_ohlcv(True, M1)),
        "funding_rate": Series("/v5/market/funding/history", HOUR_MS, 200, ccxt_funding),
    },
    "okx": {
        "metrics": Series("/api/v5/rubik/stat/contracts/open-interest-history", K5, 100, okx_oi),
        "klines_5m": Series("/api/v5/market/history-candles", K5, 100, okx_klines(K5)),
        "klines_1m": Series("/api/v5/market/history-candles", M1, 100, okx_klines(M1)),
        "mark_klines_1m": Series(
            "/api/v5/market/history-mark-price-candles", M1, 100, ccxt_ohlcv(True, M1)
        ),
        "funding_rate": Series("/api/v5/public/funding-rate-history", HOUR_MS, 100, ccxt_funding),
    },
}
# fetched by default; klines_1m (the engine's fallback where a mark minute is missing) only
# when asked for by name (--datasets klines_1m): a venue's mark candles rarely have holes
DATASET_NAMES = ("metrics", "klines_5m", "mark_klines_1m", "funding_rate")
ALL_DATASET_NAMES = (*DATASET_NAMES, "klines_1m")
