"""What a venue's liquidation message becomes: one ``Liquidation`` per liquidated order, and
the frame they form for the lake (``liquidations_frame``). Pure; no I/O.

The helpers here read the venue's fields strictly (a missing field, text where a number
belongs, a time that is not epoch milliseconds) and raise ``FrameError`` with one line, so a
venue parser never half-parses an item.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd

from store.datasets import REALISED_LIQUIDATION_SCHEMA
from store.realised import liquidation_id

VENUES = ("binance", "bybit", "okx")
SIDES = ("long", "short")
FRAME_KINDS = ("data", "control", "malformed")
# epoch milliseconds from 2001-09-09 to 5138: a smaller number is seconds, a larger one µs
_MIN_MS, _MAX_MS = 10**12, 10**14
_SYMBOL = re.compile(r"[A-Z0-9]{2,32}")


class FrameError(ValueError):
    """An item of a venue's message that cannot be read; the message says which field."""


@dataclass(frozen=True)
class Liquidation:
    """One liquidation as the venue reported it, normalised across venues."""

    symbol: str  # "BTCUSDT" (OKX "BTC-USDT-SWAP" -> "BTCUSDT")
    time_us: int  # the venue's trade/event time, epoch µs
    side: str  # the position liquidated: "long" | "short"
    price: float
    quantity: float  # base units
    notional_usd: float  # price x quantity
    liq_id: str  # store.realised.liquidation_id(venue, the venue's own fields)
    raw: str  # the venue's item as compact JSON (sort_keys) or the archive's CSV line


@dataclass(frozen=True)
class ParsedFrame:
    """One received frame, read: its liquidations (only the ``symbols`` asked for), how many
    items were for other symbols, and whether it was data, a control message (subscription
    ack, pong, ping) or malformed. A malformed frame still carries the items that did parse."""

    liquidations: list[Liquidation]
    skipped_symbols: int
    kind: str  # "data" | "control" | "malformed"
    problem: str | None = None  # one line, for "malformed" (and a refused subscription)


def compact_json(item: object) -> str:
    """The venue's item as stored in ``raw``: compact, keys sorted, so equal items are equal text."""
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def field(item: Mapping[str, object], *names: str) -> str:
    """The first of ``names`` present in ``item`` with a non-empty value, as text (the
    venue's own spelling: ids are built from it)."""
    for name in names:
        value = item.get(name)
        if isinstance(value, bool) or value is None or value == "":
            continue
        if isinstance(value, str | int | float):
            return str(value)
        raise FrameError(f"field {name!r} is {type(value).__name__}, not a string or number")
    raise FrameError(f"field {' or '.join(repr(n) for n in names)} is missing")


def positive(text: str, name: str) -> float:
    """A price or size: a finite number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise FrameError(f"field {name!r} is {text!r}, not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise FrameError(f"field {name!r} is {text!r}, not a positive number")
    return value


def epoch_ms_to_us(text: str, name: str) -> int:
    """The venue's time (epoch milliseconds, as an integer or digit string) in µs."""
    if not text.isdigit() or not _MIN_MS <= int(text) < _MAX_MS:
        raise FrameError(f"field {name!r} is {text!r}, not epoch milliseconds")
    return int(text) * 1000


def symbol_name(text: str, name: str) -> str:
    """A plain ticker such as BTCUSDT (anything else would become a lake path)."""
    if not _SYMBOL.fullmatch(text):
        raise FrameError(f"field {name!r} is {text!r}, not a ticker such as BTCUSDT")
    return text


def wanted(symbol: str, symbols: set[str] | None) -> bool:
    """Whether the ``symbols`` filter keeps a symbol (None keeps every symbol)."""
    return symbols is None or symbol in symbols


def distinct_within_frame(found: list[Liquidation]) -> list[Liquidation]:
    """Identical items of one frame are distinct liquidations (Bybit sends every one and has
    no id; two equal fills in one batch are two rows): the n-th repeat's id joins n to the
    item's id. The same frame read again gives the same ids, so a replay still adds nothing."""
    seen: Counter[str] = Counter()
    distinct = []
    for liquidation in found:
        repeat = seen[liquidation.liq_id]
        seen[liquidation.liq_id] += 1
        if repeat:
            liquidation = replace(
                liquidation, liq_id=liquidation_id("repeat", [liquidation.liq_id, repeat])
            )
        distinct.append(liquidation)
    return distinct


def frame_verdict(found: list[Liquidation], skipped: int, problems: list[str]) -> ParsedFrame:
    """A data frame's verdict: malformed (the first problem, and how many items had one) if
    any item could not be read, else data. The items that did parse are kept either way, each
    repeat of an identical item as a liquidation of its own (``distinct_within_frame``)."""
    found = distinct_within_frame(found)
    if not problems:
        return ParsedFrame(found, skipped, "data", None)
    more = f" (and {len(problems) - 1} more bad items)" if len(problems) > 1 else ""
    return ParsedFrame(found, skipped, "malformed", problems[0] + more)


def liquidations_frame(
    items: list[Liquidation], received_at_us: int | None, source: str
) -> pd.DataFrame:
    """Liquidations as rows for ``store.realised.merge_realised``: a ``symbol`` column plus the
    REALISED_LIQUIDATION_SCHEMA columns (group by ``symbol`` and merge each group).
    ``received_at_us`` is when the recorder got the frame (None for archive rows)."""
    columns = ["symbol", *REALISED_LIQUIDATION_SCHEMA.names]
    received = (
        pd.NaT if received_at_us is None else pd.Timestamp(received_at_us, unit="us", tz="UTC")
    )
    frame = pd.DataFrame(
        {
            "symbol": pd.Series([i.symbol for i in items], dtype=object),
            "time": pd.to_datetime([i.time_us for i in items], unit="us", utc=True),
            "received_at": pd.Series([received] * len(items), dtype="datetime64[us, UTC]"),
            "side": pd.Series([i.side for i in items], dtype=object),
            "price": pd.Series([i.price for i in items], dtype="float64"),
            "quantity": pd.Series([i.quantity for i in items], dtype="float64"),
            "notional_usd": pd.Series([i.notional_usd for i in items], dtype="float64"),
            "source": pd.Series([source] * len(items), dtype=object),
            "liq_id": pd.Series([i.liq_id for i in items], dtype=object),
            "raw": pd.Series([i.raw for i in items], dtype=object),
        }
    )
    frame["time"] = frame["time"].astype("datetime64[us, UTC]")
    return frame[columns]
