"""One ccxt exchange per venue, pointed at the configured base URL and loading only the
linear-swap instrument list (venues.md §2: ``hostname`` is not enough, ``urls['api']``
entries are overridden; without ``fetchMarkets.types`` Bybit asks 11 lists and OKX 5)."""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt

VENUES = ("binance", "bybit", "okx")
CCXT_IDS = {"binance": "binanceusdm", "bybit": "bybit", "okx": "okx"}
DEFAULT_URLS = {
    "binance": "https://fapi.binance.com",
    "bybit": "https://api.bybit.com",
    "okx": "https://www.okx.com",
}


def api_urls(venue: str, base_url: str) -> dict[str, str]:
    """The ``urls['api']`` entries the public market-data calls use, under ``base_url``."""
    if venue == "binance":
        return {"fapiPublic": f"{base_url}/fapi/v1", "fapiData": f"{base_url}/futures/data"}
    if venue == "bybit":
        return {"public": base_url}
    return {"rest": base_url}


def market_types(venue: str) -> list[str]:
    """The only instrument lists load_markets may fetch: linear swaps."""
    return {"binance": ["linear"], "bybit": ["linear"], "okx": ["swap"]}[venue]


def open_exchange(venue: str, base_url: str, markets: dict[str, Any] | None = None) -> Any:
    """An async ccxt exchange for ``venue`` with its rate limiter on; ``markets`` (a saved
    ``exchange.markets``) skips instrument loading entirely. Close it with ``await ex.close()``."""
    config: dict[str, Any] = {
        "enableRateLimit": True,
        # kept so calls.py can read Retry-After and tell a non-JSON body from an empty page
        "enableLastResponseHeaders": True,
        "enableLastHttpResponse": True,
        "enableLastJsonResponse": True,
        "urls": {"api": api_urls(venue, base_url)},
        "options": {"fetchMarkets": {"types": market_types(venue)}},
    }
    if markets is not None:
        config["markets"] = markets
    return getattr(ccxt, CCXT_IDS[venue])(config)


def unified_symbol(symbol: str) -> str:
    """BTCUSDT → BTC/USDT:USDT, the linear perpetual in ccxt's naming."""
    return f"{symbol.removesuffix('USDT')}/USDT:USDT"
