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


QUOTE_ASSETS = ("USDT", "USDC", "BUSD")


def coin_of(symbol: str) -> str:
    """The coin of a ticker, as Coinglass names it: BTCUSDT -> BTC (the quote asset stripped)."""
    for quote in QUOTE_ASSETS:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol.removesuffix(quote)
    return symbol
