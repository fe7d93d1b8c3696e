"""A loopback stand-in of the Coinglass open API v4, built from real saved responses.

It speaks the API as ../shared/design/coinglass.md describes it: GET with the key in the
``CG-API-KEY`` header, the envelope ``{"code": "0", "msg": "success", "data": …}`` (``code`` a
string), bar histories honouring ``symbol``/``interval``/``exchange_list``/``start_time``/
``end_time``/``limit`` (at most 1000, newest-last: a window holding more gives its latest
bars), and a configurable "now": bars after it do not exist yet and the bar containing it is
in progress (served with live values, ``LIVE_SCALE`` × the final ones, until ``now`` passes
its close). Switches: "Upgrade plan" for given paths and for intervals under the plan's
minimum, queued 429s (with the API-KEY-* headers and Retry-After), a wrong key, a malformed
body, an empty ``data``, and a plan history depth that truncates silently. It counts
requests per path.

Data (``real_btc``): the real files of ../shared/data/liquidity-report/, with their JSON
types kept (numbers for aggregated OI, liquidations and the exchange lists; strings for the
May 2025 OI-weighted funding). Daily OI and funding bars are aggregated from the real 4h bars
(open of the first, max high, min low, close of the last; the original values, so types are
kept). The real data holds no all-exchange liquidation history: the all-market series is
the real Binance one × the All/Binance ratio of the real liquidation exchange list × a factor
varying by day and side (``day_factor``; marked synthetic), so it is no constant multiple. The maps are synthetic, in both documented shapes (coinglass.md 2.9).
``synthetic_btc`` builds long histories (years of bars) for the benchmark.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow.parquet as pq

from liqbrief.testing.loopback import LoopbackServer, QuietHandler

# the real responses beside the project (../shared/data), or where LIQBRIEF_SHARED_DATA says
SHARED_DATA = Path(
    os.environ.get(
        "LIQBRIEF_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"
    )
)

REPORT = SHARED_DATA / "liquidity-report"
STANDIN_KEY = "cg-standin-key-7f3a9c"
LIVE_SCALE = 0.97  # the in-progress bar's live values, relative to its final ones
MAX_LIMIT = 1000
INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}
HISTORY_PATHS = {
    "/api/futures/open-interest/aggregated-history": "oi",
    "/api/futures/liquidation/aggregated-history": "liquidation",
    "/api/futures/funding-rate/oi-weight-history": "funding",
}
MAP_PATHS = ("/api/futures/liquidation/aggregated-map", "/api/futures/liquidation/map")
NOW_2025_11_14 = datetime(2025, 11, 14, 16, 10, tzinfo=UTC)  # when the Nov files were saved


# -- data ----------------------------------------------------------------------------------
def real_rows(name: str) -> list[dict[str, Any]]:
    """A saved response's rows, with the JSON types it had (int, float or str)."""
    return pq.read_table(REPORT / f"{name}.parquet").to_pylist()


def _whole_days(rows: list[dict[str, Any]]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """4h bars grouped by UTC day, skipping a day the file starts in the middle of."""
    days: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        days.setdefault(int(float(row["time"])) // INTERVAL_MS["1d"], []).append(row)
    for day, bars in sorted(days.items()):
        if int(float(bars[0]["time"])) % INTERVAL_MS["1d"] == 0:
            yield day, bars


def daily_from_4h(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Daily OHLC bars from 4h bars of whole UTC days, keeping the original values (and so
    their JSON types): open of the first bar, max high, min low, close of the last."""
    out = []
    for day, bars in _whole_days(rows):
        out.append({
            "time": day * INTERVAL_MS["1d"], "open": bars[0]["open"],
            "high": max((b["high"] for b in bars), key=float),
            "low": min((b["low"] for b in bars), key=float), "close": bars[-1]["close"],
        })  # fmt: skip
    return out


def daily_sums(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Daily liquidation bars from 4h ones: the day's sums (liquidations add up)."""
    return [
        {"time": day * INTERVAL_MS["1d"]}
        | {k: sum(float(b[k]) for b in bars) for k in bars[0] if k != "time"}
        for day, bars in _whole_days(rows)
    ]


def all_market_factor() -> float:
    """All / Binance of the real liquidation exchange list (2025-11-14)."""
    rows = {
        r["exchange"]: r for r in real_rows("20251114__api_futures_liquidation_exchange_list_BTC")
    }
    return rows["All"]["liquidation_usd"] / rows["Binance"]["liquidation_usd"]


def day_factor(factor: float, day: int, side: str) -> float:
    """``factor`` × a deterministic 0.6–1.4 that changes every UTC day and differs for longs
    and shorts: the all-market series is no constant multiple of Binance's, so its ranks,
    records and long/short mix differ (a mix-up of the two series shows)."""
    phase = 1.3 if side.startswith("aggregated_long") else 0.7
    return factor * (1 + 0.4 * math.sin(day * phase + 0.5))


def day_varied(rows: list[dict[str, Any]], factor: float) -> list[dict[str, Any]]:
    """All-market bars from Binance's: each value × its day's ``day_factor`` (the 4h bars of a
    day share their daily bar's factor, so the daily sums still add up)."""
    out = []
    for row in rows:
        day = int(float(row["time"])) // INTERVAL_MS["1d"]
        out.append(
            {k: v if k == "time" else v * day_factor(factor, day, k) for k, v in row.items()}
        )
    return out


def real_btc(all_exchanges: str) -> dict[str, Any]:
    """Histories and snapshots of BTC from the real files, keyed as the stand-in serves them."""
    oi_4h = real_rows("20251114__api_futures_openInterest_ohlc_aggregated_history_BTC")
    funding_4h = real_rows("20251114__api_futures_fundingRate_oi_weight_ohlc_history_BTC")
    funding_may = real_rows("20250513__api_futures_fundingRate_oi_weight_ohlc_history_BTC")
    liq_4h = real_rows("20251114__api_futures_liquidation_aggregated_coin_history_BTC")
    # the real daily file (its last bar, 2025-05-12, was in progress when saved), then the
    # days of the November 4h file: a real gap from 2025-05-12 to 2025-05-18 stays a gap
    liq_1d = real_rows("20250512__api_futures_liquidation_aggregated_coin_history")[:-1]
    liq_1d += daily_sums(liq_4h)
    factor = all_market_factor()
    return {
        ("oi", "BTC", "4h", None): oi_4h,
        ("oi", "BTC", "1d", None): daily_from_4h(oi_4h),
        ("funding", "BTC", "4h", None): funding_4h,
        # May's file has strings, November's numbers: one response mixes both, as Coinglass may
        ("funding", "BTC", "1d", None): daily_from_4h(funding_may)[:-1] + daily_from_4h(funding_4h),
        ("liquidation", "BTC", "1d", "Binance"): liq_1d,
        ("liquidation", "BTC", "4h", "Binance"): liq_4h,
        ("liquidation", "BTC", "1d", all_exchanges): day_varied(liq_1d, factor),
        ("liquidation", "BTC", "4h", all_exchanges): day_varied(liq_4h, factor),
        "oi_exchange_list": real_rows("20251114__api_futures_openInterest_exchange_list_BTC"),
        "liquidation_exchange_list": real_rows("20251114__api_futures_liquidation_exchange_list_BTC"),
        "map_pair": synthetic_pair_map(96_500.0),
        "map_aggregated": synthetic_aggregated_map(96_500.0),
    }  # fmt: skip


def synthetic_pair_map(price: float) -> dict[str, Any]:
    """The documented pair-map shape: ``{"data": {"<price>": [[price, usd, leverage, null]]}}``."""
    levels: dict[str, list[list[Any]]] = {}
    for i in range(-20, 21):
        level = round(price * (1 + i / 200))
        levels[str(level)] = [[level, 1e6 * (21 - abs(i)), lev, None] for lev in (10, 25, 50)]
    return {"data": levels}


def synthetic_aggregated_map(price: float) -> dict[str, Any]:
    """The list-per-exchange shape one client reports for the aggregated map."""
    books = []
    for n, exchange in enumerate(("Binance", "OKX", "Bybit")):
        book = {
            str(round(price * (1 + i / 200))): [[round(price * (1 + i / 200)), 1e6 * (n + 1), None, None]]
            for i in range(-20, 21)
        }  # fmt: skip
        books.append({"liqMapV2": book, "instrument": {"exName": exchange}})
    return {"data": books, "last_price": price}


def synthetic_history(kind: str, start: datetime, end: datetime, interval: str) -> list[dict]:
    """Bars from ``start`` to ``end`` (both aligned) with smooth made-up values of ``kind``'s
    real types: OI as numbers, liquidations as numbers, funding as strings."""
    step, first = INTERVAL_MS[interval], int(start.timestamp() * 1000)
    count = (int(end.timestamp() * 1000) - first) // step + 1
    rows = []
    for i in range(count):
        wave = 1 + 0.2 * math.sin(i / 37)
        if kind == "oi":
            value = 6e10 * wave
            rows.append({"time": first + i * step, "open": int(value), "high": int(value * 1.01),
                         "low": int(value * 0.99), "close": value})  # fmt: skip
        elif kind == "liquidation":
            rows.append({"time": first + i * step, "aggregated_long_liquidation_usd": 3e7 * wave,
                         "aggregated_short_liquidation_usd": 2e7 / wave})  # fmt: skip
        else:
            rate = f"{0.01 * wave:.6f}"
            rows.append(
                {"time": first + i * step, "open": rate, "high": rate, "low": rate, "close": rate}
            )
    return rows


def synthetic_btc(all_exchanges: str, now: datetime, daily_years: int, four_hourly_years: int
                  ) -> dict[str, Any]:  # fmt: skip
    """Long made-up histories ending with ``now``'s in-progress bar (for the benchmark)."""
    data = real_btc(all_exchanges)
    for interval, years in (("1d", daily_years), ("4h", four_hourly_years)):
        step = timedelta(milliseconds=INTERVAL_MS[interval])
        end = datetime.fromtimestamp((int(now.timestamp() * 1000) // INTERVAL_MS[interval])
                                     * INTERVAL_MS[interval] / 1000, UTC)  # fmt: skip
        start = end - timedelta(days=365 * years) + step
        for kind, lists in (("oi", [None]), ("liquidation", ["Binance", all_exchanges]),
                            ("funding", [None])):  # fmt: skip
            for exchange_list in lists:
                rows = synthetic_history(kind, start, end, interval)
                if exchange_list == all_exchanges:  # not Binance's series (see day_factor)
                    rows = day_varied(rows, all_market_factor())
                data[(kind, "BTC", interval, exchange_list)] = rows
    return data


# -- the server ----------------------------------------------------------------------------
class CoinglassStandin(LoopbackServer):
    def __init__(self, data: dict[str, Any], now: datetime, api_key: str = STANDIN_KEY) -> None:
        self.data, self.api_key = data, api_key
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.reset(now)

    def reset(self, now: datetime, data: dict[str, Any] | None = None) -> None:
        """Back to a well-behaved server at ``now`` (switches off, counts zero)."""
        self.now = now
        self.data = data if data is not None else self.data
        self.plan_gated_paths: set[str] = set(MAP_PATHS)  # "Upgrade plan" (code 401)
        self.min_interval_ms = INTERVAL_MS["4h"]  # shorter intervals: "Upgrade plan" (code 400)
        self.depth_bars: dict[str, int] = {}  # interval → bars a plan keeps (silent cut)
        self.rate_limits: deque[str] = deque()  # queued 429s, each with its Retry-After
        self.malformed: dict[str, bytes] = {}  # path → body served with HTTP 200
        self.empty_paths: set[str] = set()  # path → data []
        self.server_errors: dict[str, int] = {}  # path → 5xx answers still to give
        self.clear_counts()

    def clear_counts(self) -> None:
        self.counts.clear()
        self.requests.clear()

    @property
    def now_ms(self) -> int:
        return int(self.now.timestamp() * 1000)

    @property
    def url(self) -> str:
        return self.base_url

    def handler(self) -> type[QuietHandler]:
        standin = self

        class Handler(QuietHandler):
            def date_time_string(self, timestamp: float | None = None) -> str:
                """The Date header tells the stand-in's own "now", as Coinglass tells its clock."""
                return formatdate(standin.now.timestamp(), usegmt=True)

            def do_GET(self) -> None:
                status, headers, body = standin.answer(self.path, self.headers.get("CG-API-KEY"))
                self.reply(status, body, headers)

        return Handler

    # -- answers -----------------------------------------------------------------------
    def answer(self, raw_path: str, key: str | None) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        path, params = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.counts[path] += 1
        self.requests.append((path, params))
        if self.rate_limits:
            headers = {"API-KEY-MAX-LIMIT": "30", "API-KEY-USE-LIMIT": "31"}
            retry_after = self.rate_limits.popleft()
            if retry_after:
                headers["Retry-After"] = retry_after
            return 429, headers, b'{"code":"429","msg":"Too Many Requests"}'
        if self.server_errors.get(path):
            self.server_errors[path] -= 1
            return 500, {}, b'{"code":"500","msg":"Server Error"}'
        if not key:
            return 200, {}, _envelope("400", "API key missing.")
        if key != self.api_key:
            return 200, {}, _envelope("400", "Invalid API key provided")
        if path in self.malformed:
            return 200, {"Content-Type": "application/json"}, self.malformed[path]
        if path in self.plan_gated_paths:
            return 200, {}, _envelope("401", "Upgrade plan")
        if path in self.empty_paths:
            return 200, {}, _envelope("0", "success", [])
        return 200, {"Content-Type": "application/json"}, self._data(path, params)

    def _data(self, path: str, params: dict[str, str]) -> bytes:
        if path in HISTORY_PATHS:
            return self._history(HISTORY_PATHS[path], params)
        if path == "/api/futures/open-interest/exchange-list":
            return _envelope("0", "success", self.data["oi_exchange_list"])
        if path == "/api/futures/liquidation/exchange-list":
            return _envelope("0", "success", self.data["liquidation_exchange_list"])
        if path == "/api/futures/liquidation/aggregated-map":
            return _envelope("0", "success", self.data["map_aggregated"])
        if path == "/api/futures/liquidation/map":
            return _envelope("0", "success", self.data["map_pair"])
        return _envelope("404", "Endpoint not found")

    def _history(self, kind: str, params: dict[str, str]) -> bytes:
        interval = params.get("interval", "")
        if interval not in INTERVAL_MS or "symbol" not in params:
            return _envelope("400", "Required String parameter 'interval' is not present")
        if kind == "liquidation" and "exchange_list" not in params:
            return _envelope("400", "Required String parameter 'exchange_list' is not present")
        step = INTERVAL_MS[interval]
        if step < self.min_interval_ms:
            return _envelope("400", "Upgrade plan")
        rows = self.data.get((kind, params["symbol"], interval, params.get("exchange_list")), [])
        return _envelope("0", "success", self.window(rows, step, interval, params))

    def window(
        self, rows: list[dict], step: int, interval: str, params: dict[str, str]
    ) -> list[dict]:
        """The bars a request gets: opened by now, within the plan's depth and the request's
        start/end, at most ``limit`` (the latest ones); the in-progress bar with live values."""
        depth = self.depth_bars.get(interval)
        earliest = (self.now_ms // step - depth + 1) * step if depth else -1
        start = int(params.get("start_time", -1))
        end = int(params.get("end_time", self.now_ms))
        limit = min(int(params.get("limit", MAX_LIMIT)), MAX_LIMIT)
        chosen = [
            row for row in rows
            if max(start, earliest) <= int(float(row["time"])) <= min(end, self.now_ms)
        ]  # fmt: skip
        return [self._live(row, step) for row in chosen[-limit:]]

    def _live(self, row: dict[str, Any], step: int) -> dict[str, Any]:
        if int(float(row["time"])) + step <= self.now_ms:
            return row
        return {k: v if k == "time" else _times(v, LIVE_SCALE) for k, v in row.items()}


def _times(value: Any, factor: float) -> Any:
    if isinstance(value, str):
        return f"{float(value) * factor:.6f}"
    return float(value) * factor


def _envelope(code: str, msg: str, data: Any = None) -> bytes:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if code == "0":
        body["data"] = data
    return json.dumps(body).encode()


def served_closed_rows(standin: CoinglassStandin, key: tuple, step_ms: int) -> list[dict]:
    """The bars of ``key`` closed at the stand-in's now (what the lake must end with)."""
    return [r for r in standin.data[key] if int(float(r["time"])) + step_ms <= standin.now_ms]
