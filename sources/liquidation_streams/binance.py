"""Binance USDⓈ-M ``forceOrder`` events → liquidations.

Documented payload (developers.binance.com, Liquidation Order Streams)::

    {"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC",
     "q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}

``S`` is the side of the liquidation *order*: SELL closes a long, so SELL => a long was
liquidated. Binance pushes only the latest liquidation per symbol per second, so what is
recorded is a lower bound. ``binance_liquidation`` is the one extractor of an order: the
stream and the archive's liquidationSnapshot ingest both use it.
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

ORDER_SIDE_TO_POSITION = {"SELL": "long", "BUY": "short"}


def _first_positive(order: Mapping[str, object], names: tuple[str, ...]) -> tuple[str, float]:
    """The first of ``names`` holding a positive number. Binance writes "0" for a field it
    has no value for (e.g. ``ap`` of an order not yet filled), so a missing or zero field
    falls through to the next; anything else that is not a positive number (a corrupt "abc",
    a negative size) is an error, never silently replaced by another field."""
    for name in names[:-1]:
        value = order.get(name)
        if value is None or value == "" or _is_zero(value):
            continue
        text = field(order, name)
        return text, positive(text, name)
    text = field(order, names[-1])
    return text, positive(text, names[-1])


def _is_zero(value: object) -> bool:
    try:
        return float(value) == 0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def binance_liquidation(order: Mapping[str, str | int], raw: str) -> Liquidation:
    """One liquidation from a forceOrder ``o`` object (keys s, S, q, p, ap, l, z, T as Binance
    sends them; T epoch ms). Price: ``ap`` (average fill), else ``p``; quantity: ``z``
    (filled), else ``l``, else ``q``. Raises ``FrameError`` naming the bad field."""
    symbol = symbol_name(field(order, "s"), "s")
    side_text = field(order, "S")
    side = ORDER_SIDE_TO_POSITION.get(side_text)
    if side is None:
        raise FrameError(f"field 'S' is {side_text!r}, not BUY or SELL")
    time_text = field(order, "T")
    time_us = epoch_ms_to_us(time_text, "T")
    price_text, price = _first_positive(order, ("ap", "p"))
    _, quantity = _first_positive(order, ("z", "l", "q"))
    size_text, _ = _first_positive(order, ("z", "q"))
    return Liquidation(
        symbol=symbol, time_us=time_us, side=side, price=price, quantity=quantity,
        notional_usd=price * quantity, raw=raw,
        liq_id=liquidation_id("binance", [symbol, time_text, side_text, price_text, size_text]),
    )  # fmt: skip


def _events(payload: object) -> list[object]:
    """The forceOrder events of a frame: one event, a combined-stream wrapper
    ``{"stream":…,"data":event}``, or a list of events."""
    if isinstance(payload, dict) and "stream" in payload and "data" in payload:
        payload = payload["data"]
    return payload if isinstance(payload, list) else [payload]


def is_control(payload: object) -> bool:
    """A reply to a SUBSCRIBE/LIST request (``{"result":null,"id":1}``) or an error reply."""
    return (
        isinstance(payload, dict)
        and "id" in payload
        and ("result" in payload or "error" in payload)
    )


def parse_binance(payload: object, symbols: set[str] | None) -> ParsedFrame:
    """A decoded Binance frame → its liquidations; ``FrameError`` if none can be read."""
    if is_control(payload):
        error = payload.get("error") if isinstance(payload, dict) else None
        return ParsedFrame(
            [], 0, "control", f"request refused: {compact_json(error)}" if error else None
        )
    found: list[Liquidation] = []
    skipped = 0
    problems: list[str] = []
    for n, event in enumerate(_events(payload)):
        try:
            if not isinstance(event, dict) or event.get("e") != "forceOrder":
                raise FrameError("not a forceOrder event")
            order = event.get("o")
            if not isinstance(order, dict):
                raise FrameError("field 'o' is missing or not an object")
            liquidation = binance_liquidation(order, compact_json(event))
        except FrameError as exc:
            problems.append(f"event {n}: {exc}")
            continue
        if wanted(liquidation.symbol, symbols):
            found.append(liquidation)
        else:
            skipped += 1
    return frame_verdict(found, skipped, problems)
