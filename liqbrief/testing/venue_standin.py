"""Loopback stand-ins of the Binance USDⓈ-M, Bybit v5 and OKX v5 public REST APIs.

Each speaks its venue's documented format (../shared/design/venues.md §3): Binance's bare
JSON arrays and ``{"code", "msg"}`` errors, Bybit's ``{"retCode": 0, "result": {"list": …,
"nextPageCursor"}}`` envelope (newest first, cursor paging of open interest), OKX's
``{"code": "0", "data": […]}`` (newest first, exclusive ``after``/``before`` cursors, at most
100 mark candles a page, only the latest 1,440 open-interest points). The market is a
deterministic function of time (``synthetic_value``), so a 30-day history costs nothing to
hold; nothing after the stand-in's ``now`` exists, and the bar containing ``now`` is served
in progress. Faults are queued per path and served once each, in order: ``"429"`` and
``"418"`` (with Retry-After), ``"malformed"`` (a body that is not JSON), ``"empty"`` (a valid
page without rows), ``"repeat"`` (the previous page's rows again), ``"envelope"`` (a
retCode/code error inside HTTP 200). It counts requests per path and remembers every row
timestamp it served per path (``served``): what the lake must end with.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, defaultdict, deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from liqbrief.testing.loopback import LoopbackServer, QuietHandler

MINUTE_MS = 60_000
FUNDING_MS = 8 * 3_600_000
OKX_OI_DEPTH = 1_440  # OKX serves only the latest 1,440 open-interest points
OKX_CT_VAL = 0.01  # BTC-USDT-SWAP, as data/okx_contract_values.json says
VENUES = ("binance", "bybit", "okx")
# the ratio series a venue serves (Binance's four /futures/data ratios; the others' account ratio)
RATIO_PHASES = {"account": 0.0, "top_account": 1.0, "top_position": 2.0, "taker": 3.0}
BINANCE_RATIOS = {
    "/futures/data/globalLongShortAccountRatio": "account",
    "/futures/data/topLongShortAccountRatio": "top_account",
    "/futures/data/topLongShortPositionRatio": "top_position",
    "/futures/data/takerlongshortRatio": "taker",
}


def synthetic_value(kind: str, t_ms: int) -> float:
    """The synthetic market at time ``t_ms``: a price wandering around 60,000 and an open
    interest around 80,000 BTC (one side), both smooth and never repeating within a month."""
    x = t_ms / 3_600_000
    price = 60_000 + 2_500 * math.sin(x / 17) + 400 * math.sin(x / 1.3)
    if kind == "price":
        return round(price, 1)
    if kind == "oi":  # one-sided base units
        return round(80_000 + 6_000 * math.sin(x / 29) + 900 * math.cos(x / 2.1), 3)
    if kind == "funding":
        return round(0.0001 * math.sin(x / 40), 8)
    if kind in RATIO_PHASES:  # long/short ratios around 1, each its own phase
        return round(1.0 + 0.4 * math.sin(x / 11 + RATIO_PHASES[kind]), 4)
    raise ValueError(kind)


def _bars(start: int, end: int, step: int) -> list[int]:
    """Bar times in [start, end] on the ``step`` grid."""
    first = -(-start // step) * step
    return list(range(first, end + 1, step)) if end >= first else []


class VenueStandin(LoopbackServer):
    """One venue's public REST API on loopback (``venue`` in VENUES)."""

    def __init__(self, venue: str, now: datetime | None = None, symbol: str = "BTCUSDT") -> None:
        assert venue in VENUES, venue
        self.venue = venue
        self.symbol = symbol
        self.now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
        self.requests: Counter[str] = Counter()
        self.queries: list[tuple[str, dict[str, str]]] = []  # every request, in order
        self.served: dict[str, set[int]] = defaultdict(set)
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.retry_after_s = 1
        self.funding_ms = FUNDING_MS  # 8 h; set 1 h or 4 h for a venue funding more often
        self._last_page: dict[str, Any] = {}
        self._lock = threading.Lock()

    def fail_next(self, path: str, *faults: str) -> None:
        """Serve ``faults`` (in order, one per request) on the next requests to ``path``."""
        self.faults[path].extend(faults)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    # -- the rows of each endpoint ------------------------------------------------------
    def _window(self, start: int, end: int, step: int, limit: int, newest_first: bool) -> list[int]:
        times = [t for t in _bars(start, min(end, self.now_ms), step) if t <= self.now_ms]
        return times[-limit:][::-1] if newest_first else times[:limit]

    def _kline(self, t: int, step: int, mark: bool) -> list[str]:
        o, c = synthetic_value("price", t), synthetic_value("price", t + step)
        hi, lo = max(o, c) + 5.0, min(o, c) - 5.0
        vol = 0.0 if mark else round(100 + 50 * math.sin(t / 7e6), 3)
        return [str(v) for v in (o, hi, lo, c)] + [str(vol)]

    # -- request handling ---------------------------------------------------------------
    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """Status, JSON-able body and headers for one request (faults applied)."""
        with self._lock:
            self.requests[path] += 1
            self.queries.append((path, query))
            fault = self.faults[path].popleft() if self.faults[path] else None
        if fault in ("429", "418"):
            body = {"code": -1003, "msg": "Too many requests"}
            return int(fault), body, {"Retry-After": str(self.retry_after_s)}
        if fault == "malformed":
            return 200, b"<html>upstream hiccup", {}
        if fault == "envelope":
            return 200, self._error_envelope(), {}
        if fault == "repeat" and path in self._last_page:
            return 200, self._last_page[path][0], {}
        route = getattr(self, f"_{self.venue}")
        status, body, times = route(path, query, empty=fault == "empty")
        with self._lock:
            self.served[path].update(times)
            self._last_page[path] = (body, times)
        return status, body, {}

    def _error_envelope(self) -> Any:
        if self.venue == "bybit":
            return {"retCode": 10016, "retMsg": "Server error", "result": {}, "time": self.now_ms}
        if self.venue == "okx":
            return {"code": "50001", "msg": "Service temporarily unavailable", "data": []}
        return {"code": -1001, "msg": "Internal error; unable to process your request."}

    # Binance: bare arrays, ascending, the first `limit` rows of [startTime, endTime]
    def _binance(self, path: str, q: dict[str, str], empty: bool):
        if path == "/fapi/v1/exchangeInfo":
            return 200, _binance_exchange_info(self.symbol, self.now_ms), []
        if q.get("symbol") != self.symbol:
            return 400, {"code": -1121, "msg": "Invalid symbol."}, []
        start, end = int(q.get("startTime", 0)), int(q.get("endTime", self.now_ms))
        if path in ("/fapi/v1/klines", "/fapi/v1/markPriceKlines"):
            step = {"1m": 1, "5m": 5}[q["interval"]] * MINUTE_MS
            limit = min(int(q.get("limit", 500)), 1500)
            times = [] if empty else self._window(start, end, step, limit, False)
            mark = path.endswith("markPriceKlines")
            rows = [_binance_kline(t, self._kline(t, step, mark), step, mark) for t in times]
            return 200, rows, times
        if path == "/futures/data/openInterestHist":
            limit = min(int(q.get("limit", 30)), 500)
            times = [] if empty else self._window(start, end, 5 * MINUTE_MS, limit, False)
            rows = [
                {
                    "symbol": self.symbol,
                    "sumOpenInterest": str(synthetic_value("oi", t)),
                    "sumOpenInterestValue": str(
                        round(synthetic_value("oi", t) * synthetic_value("price", t), 2)
                    ),
                    "timestamp": t,
                }
                for t in times
            ]
            return 200, rows, times
        if path in BINANCE_RATIOS:
            limit = min(int(q.get("limit", 30)), 500)
            times = [] if empty else self._window(start, end, 5 * MINUTE_MS, limit, False)
            return 200, [_binance_ratio(BINANCE_RATIOS[path], self.symbol, t) for t in times], times
        if path == "/fapi/v1/fundingRate":
            limit = min(int(q.get("limit", 100)), 1000)
            times = [] if empty else self._window(start, end, self.funding_ms, limit, False)
            rows = [
                {
                    "symbol": self.symbol,
                    "fundingTime": t,
                    "fundingRate": str(synthetic_value("funding", t)),
                    "markPrice": str(synthetic_value("price", t)),
                }
                for t in times
            ]
            return 200, rows, times
        return 404, {"code": -5000, "msg": f"path {path} not found"}, []

    # Bybit: {"retCode": 0, "result": {"list": newest first, "nextPageCursor"}}
    def _bybit(self, path: str, q: dict[str, str], empty: bool):
        if path == "/v5/market/instruments-info":
            linear = q.get("category") == "linear" and q.get("status") != "PreLaunch"
            listing = (
                _bybit_instrument(self.symbol) if linear else {"list": [], "nextPageCursor": ""}
            )
            return 200, self._bybit_ok(listing), []
        if q.get("symbol") != self.symbol:
            return 200, _bybit_error("params error: symbol invalid"), []
        if path in BYBIT_NEEDS_END and "startTime" in q and "endTime" not in q:
            return 200, _bybit_error("endTime is required"), []
        pages = {
            "/v5/market/kline": self._bybit_klines,
            "/v5/market/mark-price-kline": self._bybit_klines,
            "/v5/market/open-interest": self._bybit_cursor_page,
            "/v5/market/account-ratio": self._bybit_cursor_page,
            "/v5/market/funding/history": self._bybit_funding,
        }
        if path not in pages:
            return 404, {"retCode": 10404, "retMsg": "not found", "result": {}}, []
        result, times = pages[path](path, q, empty)
        return 200, self._bybit_ok(result), times

    def _bybit_ok(self, result: dict[str, Any]) -> dict[str, Any]:
        return {
            "retCode": 0,
            "retMsg": "OK",
            "result": result,
            "retExtInfo": {},
            "time": self.now_ms,
        }

    def _bybit_klines(self, path: str, q: dict[str, str], empty: bool):
        step = int(q["interval"]) * MINUTE_MS
        limit = min(int(q.get("limit", 200)), 1000)
        start, end = int(q.get("start", 0)), int(q.get("end", self.now_ms))
        times = [] if empty else self._window(start, end, step, limit, True)
        mark = path.endswith("mark-price-kline")
        rows = [[str(t), *self._kline(t, step, mark)[: 4 if mark else 5]] for t in times]
        if not mark:  # + turnover (quote volume)
            rows = [[*r, str(round(float(r[5]) * float(r[4]), 4))] for r in rows]
        return {"category": "linear", "symbol": self.symbol, "list": rows}, times

    def _bybit_cursor_page(self, path: str, q: dict[str, str], empty: bool):
        """Open interest (200 a page) or account ratio (500): newest first, nextPageCursor."""
        oi = path.endswith("open-interest")
        step = {"5min": 5, "1h": 60}[q["intervalTime" if oi else "period"]] * MINUTE_MS
        limit = min(int(q.get("limit", 50)), 200 if oi else 500)
        start, end = int(q.get("startTime", 0)), int(q.get("endTime", self.now_ms))
        window = self._window(start, end, step, 10**9, True)
        offset = int(q["cursor"].split("=")[1]) if q.get("cursor") else 0
        times = [] if empty else window[offset : offset + limit]
        rows = [_bybit_oi_row(t) if oi else _bybit_ratio_row(self.symbol, t) for t in times]
        cursor = f"lastid={offset + limit}" if offset + limit < len(window) else ""
        return {
            "symbol": self.symbol,
            "category": "linear",
            "list": rows,
            "nextPageCursor": cursor,
        }, times

    def _bybit_funding(self, path: str, q: dict[str, str], empty: bool):
        limit = min(int(q.get("limit", 200)), 200)
        start, end = int(q.get("startTime", 0)), int(q.get("endTime", self.now_ms))
        times = [] if empty else self._window(start, end, self.funding_ms, limit, True)
        rows = [
            {"symbol": self.symbol, "fundingRate": str(synthetic_value("funding", t)),
             "fundingRateTimestamp": str(t)}
            for t in times
        ]  # fmt: skip
        return {"category": "linear", "list": rows}, times

    # OKX: {"code": "0", "data": newest first}, exclusive after (older than) / before (newer)
    def _okx(self, path: str, q: dict[str, str], empty: bool):
        if path == "/api/v5/public/instruments":
            return 200, _okx_ok([_okx_instrument()] if q.get("instType") == "SWAP" else []), []
        if q.get("instId") != self._okx_inst:
            return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}, []
        # the open range (newer_than, older_than) as the bounds say
        bounds = (
            int(q.get("before", q.get("begin", -1))),
            int(q.get("after", q.get("end", self.now_ms + 1))),
        )
        if path in OKX_CANDLES:
            return self._okx_candles(path, q, bounds, empty)
        if path in OKX_RUBIK:
            return self._okx_rubik(path, q, bounds, empty)
        if path == "/api/v5/public/funding-rate-history":
            limit = min(int(q.get("limit", 100)), 400)
            times = (
                []
                if empty
                else self._window(bounds[0] + 1, bounds[1] - 1, self.funding_ms, limit, True)
            )
            return 200, _okx_ok([_okx_funding_row(self._okx_inst, t) for t in times]), times
        return 404, {"code": "50014", "msg": "not found", "data": []}, []

    @property
    def _okx_inst(self) -> str:
        return f"{self.symbol.removesuffix('USDT')}-USDT-SWAP"

    def _okx_candles(self, path: str, q: dict[str, str], bounds: tuple[int, int], empty: bool):
        step = {"1m": 1, "5m": 5}[q["bar"]] * MINUTE_MS
        limit = min(int(q.get("limit", 100)), OKX_CANDLES[path])
        times = [] if empty else self._window(bounds[0] + 1, bounds[1] - 1, step, limit, True)
        mark = "mark-price" in path
        rows = []
        for t in times:
            o, h, lo, c, vol = self._kline(t, step, mark)
            confirm = "1" if t + step <= self.now_ms else "0"
            if mark:
                rows.append([str(t), o, h, lo, c, confirm])
            else:  # vol in contracts, volCcy in base, volCcyQuote
                contracts = str(round(float(vol) / OKX_CT_VAL))
                quote = str(round(float(vol) * float(c), 2))
                rows.append([str(t), o, h, lo, c, contracts, vol, quote, confirm])
        return 200, _okx_ok(rows), times

    def _okx_rubik(self, path: str, q: dict[str, str], bounds: tuple[int, int], empty: bool):
        """Open interest or account ratio: 5-minute points, the latest 1,440 only."""
        step = 5 * MINUTE_MS
        limit = min(int(q.get("limit", 100)), 100)
        oldest = (self.now_ms // step - OKX_OI_DEPTH + 1) * step
        low = max(bounds[0] + 1, oldest)
        times = [] if empty else self._window(low, bounds[1] - 1, step, limit, True)
        if OKX_RUBIK[path] == "oi":
            rows = [_okx_oi_row(t) for t in times]
        else:
            rows = [[str(t), str(synthetic_value("account", t))] for t in times]
        return 200, _okx_ok(rows), times

    def handler(self):
        standin = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                status, body, headers = standin.answer(url.path, query)
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.reply(status, raw, {"Content-Type": "application/json", **headers})

        return Handler


BYBIT_NEEDS_END = ("/v5/market/open-interest", "/v5/market/funding/history")
OKX_CANDLES = {  # path → rows a page at most
    "/api/v5/market/candles": 300, "/api/v5/market/history-candles": 100,
    "/api/v5/market/mark-price-candles": 100, "/api/v5/market/history-mark-price-candles": 100,
}  # fmt: skip
OKX_RUBIK = {
    "/api/v5/rubik/stat/contracts/open-interest-history": "oi",
    "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract": "account",
}


def _bybit_error(message: str) -> dict[str, Any]:
    return {"retCode": 10001, "retMsg": message, "result": {}}


def _bybit_oi_row(t: int) -> dict[str, str]:
    return {
        "openInterest": str(round(2 * synthetic_value("oi", t), 3)),  # both sides
        "singleOpenInterest": str(synthetic_value("oi", t)),
        "timestamp": str(t),
    }


def _bybit_ratio_row(symbol: str, t: int) -> dict[str, str]:
    r = synthetic_value("account", t)
    return {"symbol": symbol, "buyRatio": str(round(r / (1 + r), 6)),
            "sellRatio": str(round(1 / (1 + r), 6)), "timestamp": str(t)}  # fmt: skip


def _okx_ok(data: list[Any]) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": data}


def _okx_oi_row(t: int) -> list[str]:
    oi = synthetic_value("oi", t)
    return [
        str(t),
        str(round(oi / OKX_CT_VAL, 1)),
        str(oi),
        str(round(oi * synthetic_value("price", t), 2)),
    ]


def _okx_funding_row(inst: str, t: int) -> dict[str, str]:
    return {
        "instType": "SWAP", "instId": inst, "formulaType": "withRate",
        "fundingRate": str(synthetic_value("funding", t) * 1.1),  # the prediction
        "realizedRate": str(synthetic_value("funding", t)),
        "fundingTime": str(t), "method": "current_period",
    }  # fmt: skip


def _binance_kline(t: int, ohlcv: list[str], step: int, mark: bool) -> list[Any]:
    """A Binance kline row: quote volume ≈ volume × close, half of it taker buys (price
    klines carry zeros, as the archive's do)."""
    volume, close = float(ohlcv[4]), float(ohlcv[3])
    quote = round(volume * close, 4)
    count = 0 if mark else 10
    return [t, *ohlcv, t + step - 1, str(quote), count, str(volume / 2), str(quote / 2), "0"]


def _binance_ratio(kind: str, symbol: str, t: int) -> dict[str, Any]:
    r = synthetic_value(kind, t)
    if kind == "taker":
        return {
            "buySellRatio": str(r),
            "buyVol": str(round(r * 100, 4)),
            "sellVol": "100",
            "timestamp": t,
        }
    long = round(r / (1 + r), 4)
    return {"symbol": symbol, "longShortRatio": str(r), "longAccount": str(long),
            "shortAccount": str(round(1 - long, 4)), "timestamp": t}  # fmt: skip


def _binance_exchange_info(symbol: str, now_ms: int) -> dict[str, Any]:
    return {
        "timezone": "UTC", "serverTime": now_ms, "rateLimits": [], "exchangeFilters": [], "assets": [],
        "symbols": [{
            "symbol": symbol, "pair": symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000, "status": "TRADING", "baseAsset": symbol.removesuffix("USDT"),
            "quoteAsset": "USDT", "marginAsset": "USDT", "pricePrecision": 2, "quantityPrecision": 3,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
            "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
                {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
                {"filterType": "MIN_NOTIONAL", "notional": "100"},
            ],
            "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC"],
        }],
    }  # fmt: skip


def _bybit_instrument(symbol: str) -> dict[str, Any]:
    return {
        "category": "linear", "nextPageCursor": "",
        "list": [{
            "symbol": symbol, "contractType": "LinearPerpetual", "status": "Trading",
            "baseCoin": symbol.removesuffix("USDT"), "quoteCoin": "USDT", "settleCoin": "USDT",
            "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
            "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                              "postOnlyMaxOrderQty": "1190.000", "minNotionalValue": "5"},
            "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "both",
        }],
    }  # fmt: skip


def _okx_instrument() -> dict[str, Any]:
    return {
        "instType": "SWAP", "instId": "BTC-USDT-SWAP", "uly": "BTC-USDT", "instFamily": "BTC-USDT",
        "baseCcy": "", "quoteCcy": "", "settleCcy": "USDT", "ctVal": str(OKX_CT_VAL), "ctMult": "1",
        "ctValCcy": "BTC", "ctType": "linear", "state": "live", "lotSz": "0.01", "minSz": "0.01",
        "tickSz": "0.1", "lever": "100", "listTime": "1573557408000", "expTime": "", "alias": "",
        "maxLmtSz": "100000000", "maxMktSz": "12000",
    }  # fmt: skip
