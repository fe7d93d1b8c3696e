"""Symbol names: the one check every path and URL built from a symbol goes through."""

from __future__ import annotations

import re

_SYMBOL = re.compile(r"[A-Z0-9]{2,32}")


class InvalidSymbolError(ValueError):
    """A symbol that is not a plain exchange ticker such as BTCUSDT."""


def validate_symbol(symbol: str) -> str:
    """Return the symbol if it is a plain uppercase ticker; refuse anything path- or URL-like."""
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise InvalidSymbolError(
            f"invalid symbol {symbol!r}: use the exchange's ticker in capitals and digits only, "
            "e.g. BTCUSDT (no '/', '..', spaces or lowercase)"
        )
    return symbol
