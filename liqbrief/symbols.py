"""Symbol names: parsed once where they enter (a CLI option, a flow parameter), so every path
and URL built from a symbol below that point can trust it."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_SYMBOL = re.compile(r"[A-Z0-9]{2,32}")


class InvalidSymbolError(ValueError):
    """A symbol that is not a plain exchange ticker such as BTCUSDT."""


def validate_symbol(symbol: str) -> str:
    """Return the symbol if it is a plain uppercase ticker; refuse anything path- or URL-like
    (with the upper-case form to use when that is all that is wrong)."""
    if isinstance(symbol, str) and _SYMBOL.fullmatch(symbol):
        return symbol
    if isinstance(symbol, str) and _SYMBOL.fullmatch(symbol.upper()):
        raise InvalidSymbolError(
            f"invalid symbol {symbol!r}: tickers are in capitals, use {symbol.upper()}"
        )
    raise InvalidSymbolError(
        f"invalid symbol {symbol!r}: use the exchange's ticker in capitals and digits only, "
        "e.g. BTCUSDT (no '/', '..', spaces or lowercase)"
    )


def parse_symbols(text: str) -> list[str]:
    """A comma-separated list of tickers ("BTCUSDT,ETHUSDT"), each checked, none repeated;
    an empty list is refused."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise InvalidSymbolError("no symbol given: name at least one ticker, e.g. BTCUSDT")
    return list(dict.fromkeys(validate_symbol(name) for name in names))


# A flow parameter that is a ticker: Prefect validates flow parameters with pydantic, so a
# deployment's bad symbol is refused before the flow runs, with the same message.
Symbol = Annotated[str, AfterValidator(validate_symbol)]


# Quote assets of Binance's USDⓈ-M tickers, longest first so FDUSD is not read as ...USD.
QUOTE_ASSETS = ("FDUSD", "USDT", "USDC", "BUSD")


def coin_of(symbol: str) -> str:
    """The coin a ticker trades (BTCUSDT -> BTC): what Coinglass's coin-level endpoints and
    the lake's Coinglass partitions are keyed by."""
    validate_symbol(symbol)
    for quote in QUOTE_ASSETS:
        coin = symbol.removesuffix(quote)
        if coin != symbol and len(coin) >= 2:
            return coin
    raise InvalidSymbolError(
        f"no coin in {symbol!r}: it does not end in a quote asset ({', '.join(QUOTE_ASSETS)}); "
        "use a USDⓈ-M ticker such as BTCUSDT"
    )
