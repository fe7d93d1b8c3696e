"""Coinglass ``data`` payloads → typed frames (pure; no I/O).

Every number is coerced with ``float()``: Coinglass sends JSON numbers or strings, even mixed
within one response. ``time`` is epoch milliseconds, sometimes written with ".0". Anything
else (a missing field, text where a number belongs, a time in seconds) is a
``CoinglassFormatError`` naming the series, so nothing half-parsed reaches the lake.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from sources.coinglass import CoinglassFormatError

OHLC_FIELDS = ("open", "high", "low", "close")
# bar histories' value columns in the lake ← Coinglass's field names (first found wins)
LIQUIDATION_FIELDS = {
    "long_usd": ("aggregated_long_liquidation_usd", "long_liquidation_usd"),
    "short_usd": ("aggregated_short_liquidation_usd", "short_liquidation_usd"),
}
EXCHANGE_LIQUIDATION_FIELDS = {
    "liquidation_usd": ("liquidation_usd",),
    "long_usd": ("longLiquidation_usd", "long_liquidation_usd"),
    "short_usd": ("shortLiquidation_usd", "short_liquidation_usd"),
}
OI_EXCHANGE_FIELDS = {
    name: (name,)
    for name in (
        "open_interest_usd", "open_interest_by_coin_margin",
        "open_interest_by_stable_coin_margin", "open_interest_change_percent_24h",
    )
}  # fmt: skip
EARLIEST_MS = 1_000_000_000_000  # 2001-09-09: a smaller "time" is in seconds, not ms


def number(value: Any, what: str, optional: bool = False) -> float:
    """``value`` as a float (str, int or float alike); None is NaN only when ``optional``."""
    if value is None and optional:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CoinglassFormatError(f"{what}: {value!r} is not a number; nothing was stored")
    try:
        return float(value)
    except ValueError:
        raise CoinglassFormatError(
            f"{what}: {value!r} is not a number; nothing was stored"
        ) from None


def epoch_ms(value: Any, what: str) -> int:
    """A bar's ``time``: epoch milliseconds, possibly written as a float ("…000.0")."""
    ms = number(value, f"{what} time")
    if not math.isfinite(ms) or ms < EARLIEST_MS or ms != int(ms):
        raise CoinglassFormatError(
            f"{what}: time {value!r} is not epoch milliseconds; nothing was stored"
        )
    return int(ms)


def _items(data: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise CoinglassFormatError(
            f"{what}: expected a list of rows, got {type(data).__name__}; nothing was stored"
        )
    return data


def _field(item: dict[str, Any], names: tuple[str, ...], what: str, optional: bool) -> float:
    for name in names:
        if name in item:
            return number(item[name], f"{what} {name}", optional)
    if optional:
        return math.nan
    raise CoinglassFormatError(f"{what}: a row lacks {names[0]!r}; nothing was stored")


def _rows(
    data: Any,
    key: tuple[str, Callable[[dict[str, Any]], Any]],
    fields: dict[str, tuple[str, ...]],
    what: str,
    optional: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """One row per item: the key column (time or exchange) and each field as a float."""
    name, key_of = key
    rows = [
        {name: key_of(item)}
        | {col: _field(item, names, what, col in optional) for col, names in fields.items()}
        for item in _items(data, what)
    ]
    return pd.DataFrame(rows, columns=[name, *fields])


def ohlc_bars(data: Any, what: str) -> pd.DataFrame:
    """Open interest / funding OHLC bars: time (ms), open, high, low, close."""
    fields = {name: (name,) for name in OHLC_FIELDS}
    return _rows(data, _time_key(what), fields, what)


def liquidation_bars(data: Any, what: str) -> pd.DataFrame:
    """Aggregated liquidation bars: time (ms), long_usd, short_usd."""
    return _rows(data, _time_key(what), LIQUIDATION_FIELDS, what)


def _time_key(what: str) -> tuple[str, Callable[[dict[str, Any]], int]]:
    return "time", lambda item: epoch_ms(item.get("time"), what)


def _exchange_key(what: str) -> tuple[str, Callable[[dict[str, Any]], str]]:
    def exchange(item: dict[str, Any]) -> str:
        name = item.get("exchange")
        if not isinstance(name, str) or not name:
            raise CoinglassFormatError(f"{what}: a row has no exchange name; nothing was stored")
        return name

    return "exchange", exchange


def oi_exchange_list(data: Any, what: str) -> pd.DataFrame:
    """Open interest per exchange ("All" first, the sum of the others, kept as its own row)."""
    optional = frozenset(OI_EXCHANGE_FIELDS) - {"open_interest_usd"}
    return _rows(data, _exchange_key(what), OI_EXCHANGE_FIELDS, what, optional)


def liquidation_exchange_list(data: Any, what: str) -> pd.DataFrame:
    """Rolling-window liquidations per exchange; long/short under either of the names
    Coinglass uses. The "All" row stays a row of its own and is never added to the others."""
    return _rows(data, _exchange_key(what), EXCHANGE_LIQUIDATION_FIELDS, what)


# -- liquidation map ---------------------------------------------------------------------------
MAP_COLUMNS = ["price", "usd", "leverage", "last_price"]


def liquidation_map(data: Any, what: str) -> pd.DataFrame:
    """Coinglass's estimated map as (price, usd, leverage, last_price) rows, summed per price
    and leverage. Two shapes are accepted (coinglass.md 2.9): ``{"data": {"<price>":
    [[price, usd, leverage|null, null], …]}}`` (the documented one) and ``{"data":
    [{"liqMapV2": {"<price>": […]}, "instrument": …}, …], "last_price": p}`` (a list per
    exchange, as one client reports for the aggregated map). Leverage null is NaN."""
    if not isinstance(data, dict):
        raise CoinglassFormatError(f"{what}: expected an object, got {type(data).__name__}; "
                                   "nothing was stored")  # fmt: skip
    inner = data.get("data", data)
    books = [b.get("liqMapV2") for b in inner] if isinstance(inner, list) else [inner]
    if not books or not all(isinstance(book, dict) for book in books):
        raise CoinglassFormatError(f"{what}: not a liquidation map (price → levels); "
                                   "nothing was stored")  # fmt: skip
    last_price = number(data.get("last_price"), f"{what} last_price", optional=True)
    rows = [level for book in books for levels in book.values() for level in _levels(levels, what)]
    frame = pd.DataFrame(rows, columns=MAP_COLUMNS[:3])
    frame = frame.groupby(["price", "leverage"], dropna=False, as_index=False)["usd"].sum()
    frame["last_price"] = last_price
    return frame[MAP_COLUMNS].sort_values(["price", "leverage"], ignore_index=True)


def _levels(levels: Any, what: str) -> list[tuple[float, float, float]]:
    if not isinstance(levels, list) or not all(
        isinstance(level, list) and len(level) >= 2 for level in levels
    ):
        raise CoinglassFormatError(f"{what}: a price's levels are not [price, usd, leverage] "
                                   "lists; nothing was stored")  # fmt: skip
    return [
        (
            number(level[0], f"{what} price"),
            number(level[1], f"{what} usd"),
            number(level[2] if len(level) > 2 else None, f"{what} leverage", optional=True),
        )
        for level in levels
    ]
