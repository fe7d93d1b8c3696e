"""What each venue's websocket wants from a client: the subscribe frames, the app-level ping
and its interval, and how it acknowledges a subscription. Pure; no I/O.

- Binance: the URL names the stream (``…/market/ws/!forceOrder@arr``), so nothing is sent;
  the server sends protocol pings (answered by ``websockets``).
- Bybit v5: ``{"op":"subscribe","args":["allLiquidation.BTCUSDT",…]}`` (at most 10 topics a
  frame), acknowledged by ``{"success":true,"op":"subscribe",…}``; ``{"op":"ping"}`` every 20 s
  (the server cuts a connection idle for 10 min).
- OKX v5: ``{"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}``,
  acknowledged by ``{"event":"subscribe",…}``; the text ``ping`` when idle under 30 s (25 s).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

BYBIT_TOPICS_PER_FRAME = 10
_BYBIT_TOPIC = re.compile(r"allLiquidation\.([A-Z0-9]{2,32})")
OKX_CHANNEL = {"channel": "liquidation-orders", "instType": "SWAP"}


@dataclass(frozen=True)
class VenueProtocol:
    """A venue's client side of the conversation."""

    ping_text: str | None  # the app-level ping (None: protocol pings only)
    ping_s: float | None  # the venue's keep-alive interval for it


PROTOCOLS = {
    "binance": VenueProtocol(ping_text=None, ping_s=None),
    "bybit": VenueProtocol(ping_text='{"op":"ping"}', ping_s=20.0),
    "okx": VenueProtocol(ping_text="ping", ping_s=25.0),
}


def subscribe_frames(venue: str, symbols: list[str]) -> list[str]:
    """The frames that subscribe to ``symbols``' liquidations (none for Binance; one for OKX,
    whose channel covers every swap)."""
    if venue == "bybit":
        topics = [f"allLiquidation.{symbol}" for symbol in symbols]
        size = BYBIT_TOPICS_PER_FRAME
        batches = [topics[start : start + size] for start in range(0, len(topics), size)]
        return [
            json.dumps({"op": "subscribe", "req_id": f"sub-{n}", "args": batch})
            for n, batch in enumerate(batches)
        ]
    if venue == "okx":
        return [json.dumps({"op": "subscribe", "args": [OKX_CHANNEL]})]
    return []


def subscription_reply(venue: str, text: str) -> bool | str | None:
    """Whether a frame answers a subscribe request: True (accepted), a one-line refusal, or
    None (not a reply to one)."""
    if venue not in ("bybit", "okx") or not text.startswith("{"):
        return None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    if venue == "bybit" and payload.get("op") == "subscribe":
        return True if payload.get("success") is True else f"refused: {payload.get('ret_msg', '')}"
    if venue == "okx" and payload.get("event") == "subscribe":
        return True
    if venue == "okx" and payload.get("event") == "error":
        return f"refused: {payload.get('code', '')} {payload.get('msg', '')}".strip()
    return None


def refused_symbols(venue: str, refusal: str, symbols: list[str]) -> list[str]:
    """The recorded symbols a refusal names (Bybit: "error:handler not found,topic:
    allLiquidation.FOOUSDT"): the venue does not list them, so they are dropped and the
    others recorded. Empty when the refusal names none of them (the whole request failed)."""
    if venue != "bybit":
        return []
    named = set(_BYBIT_TOPIC.findall(refusal))
    return [symbol for symbol in symbols if symbol in named]
