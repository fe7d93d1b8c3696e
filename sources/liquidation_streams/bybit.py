"""Bybit v5 public linear ``allLiquidation.<SYMBOL>`` pushes → liquidations.

Documented push (bybit-exchange docs, v5/websocket/public/all-liquidation)::

    {"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,
     "data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}

Every liquidation is pushed, batched every 500 ms: ``data`` may hold many items, and each
one is kept. ``S`` is documented as the *position* side ("Buy" => a long was liquidated),
the reverse of Binance's order side; this reading is UNCONFIRMED empirically (venues.md
§1.5) — check it against the price direction before trusting the long/short split.
``p`` is the bankruptcy price, ``v`` the executed size in base units.
"""

from __future__ import annotations

from collections.abc import Mapping

from sources.liquidation_streams.model import (
    FrameError,
    Liquidation,
    ParsedFrame,
    compact_json,
    epoch_ms_to_us,
    field,
    frame_verdict,
    positive,
    symbol_name,
    wanted,
)
from store.realised import liquidation_id

TOPIC_PREFIX = "allLiquidation."
POSITION_SIDE = {"Buy": "long", "Sell": "short"}  # documented, UNCONFIRMED (see above)


def bybit_liquidation(item: Mapping[str, object]) -> Liquidation:
    """One item of an allLiquidation push; ``FrameError`` naming the bad field."""
    symbol = symbol_name(field(item, "s"), "s")
    side_text = field(item, "S")
    side = POSITION_SIDE.get(side_text)
    if side is None:
        raise FrameError(f"field 'S' is {side_text!r}, not Buy or Sell")
    time_text = field(item, "T")
    time_us = epoch_ms_to_us(time_text, "T")
    price_text, size_text = field(item, "p"), field(item, "v")
    price, quantity = positive(price_text, "p"), positive(size_text, "v")
    return Liquidation(
        symbol=symbol, time_us=time_us, side=side, price=price, quantity=quantity,
        notional_usd=price * quantity, raw=compact_json(item),
        liq_id=liquidation_id("bybit", [symbol, time_text, side_text, price_text, size_text]),
    )  # fmt: skip


def control_problem(payload: dict) -> str | None:
    """A control reply's problem (a refused subscription), or None when it succeeded."""
    if payload.get("success") is False:
        return f"{payload.get('op', 'request')} refused: {payload.get('ret_msg', '')}".strip()
    return None


def parse_bybit(payload: object, symbols: set[str] | None) -> ParsedFrame:
    """A decoded Bybit frame → its liquidations; ``FrameError`` if it is not a push."""
    if not isinstance(payload, dict):
        raise FrameError("not a JSON object")
    if "op" in payload and "topic" not in payload:
        return ParsedFrame([], 0, "control", control_problem(payload))
    topic = payload.get("topic")
    if not isinstance(topic, str) or not topic.startswith(TOPIC_PREFIX):
        raise FrameError(f"topic {topic!r} is not {TOPIC_PREFIX}<SYMBOL>")
    items = payload.get("data")
    if not isinstance(items, list):
        raise FrameError("field 'data' is missing or not a list")
    found: list[Liquidation] = []
    skipped = 0
    problems: list[str] = []
    for n, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise FrameError("not an object")
            liquidation = bybit_liquidation(item)
        except FrameError as exc:
            problems.append(f"item {n}: {exc}")
            continue
        if wanted(liquidation.symbol, symbols):
            found.append(liquidation)
        else:
            skipped += 1
    return frame_verdict(found, skipped, problems)
