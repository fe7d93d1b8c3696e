"""How numbers read in a desk note: $1.06B, $248M, 93,000, +1.2 %."""

from __future__ import annotations

import math


def usd(value: float | None) -> str:
    """Compact dollars: $1.06B, $248M, $12.3K; an em dash when unknown."""
    if value is None or not math.isfinite(value):
        return "—"
    sign, v = ("-" if value < 0 else ""), abs(value)
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= size:
            scaled = v / size
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{sign}${scaled:.{digits}f}{suffix}"
    return f"{sign}${v:,.0f}"


def price(value: float | None, step: float = 1.0) -> str:
    """Prices as the desk writes them: 93,000 or 2,412.5 (decimals only below $1,000)."""
    if value is None or not math.isfinite(value):
        return "—"
    if value >= 1000 or step >= 1:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def pct(value: float | None, digits: int = 1, signed: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:+.{digits}f} %" if signed else f"{value:.{digits}f} %"


def number(value: float | None, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.{digits}f}"


def ratio(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.1f} : 1"


def base_asset(symbol: str) -> str:
    """BTCUSDT → BTC."""
    for quote in ("USDT", "USDC", "BUSD", "USD"):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)]
    return symbol
