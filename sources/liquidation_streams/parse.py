"""``parse_frame``: any venue's received text → a ``ParsedFrame``, never an exception.

The recorder spools frames as received and parses them here when it compacts the spool, so
a frame that cannot be read is reported (kind "malformed", one line) and the stream goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sources.liquidation_streams.binance import parse_binance
from sources.liquidation_streams.bybit import parse_bybit
from sources.liquidation_streams.model import VENUES, FrameError, ParsedFrame
from sources.liquidation_streams.okx import parse_okx

PARSERS: dict[str, Callable[[object, set[str] | None], ParsedFrame]] = {
    "binance": parse_binance,
    "bybit": parse_bybit,
    "okx": parse_okx,
}
PLAIN_TEXT_CONTROL = frozenset({"ping", "pong"})  # OKX's keep-alive, sent as bare text
_SHOWN = 80  # characters of a bad frame quoted in its problem line


def _malformed(problem: str) -> ParsedFrame:
    return ParsedFrame([], 0, "malformed", problem)


def parse_frame(venue: str, text: str, symbols: set[str] | None) -> ParsedFrame:
    """One frame as a venue sent it → its liquidations for ``symbols`` (None = every symbol).
    Never raises: a frame that cannot be read is kind "malformed" with one line saying why."""
    if venue not in PARSERS:
        return _malformed(f"unknown venue {venue!r}; use one of {', '.join(VENUES)}")
    if text.strip() in PLAIN_TEXT_CONTROL:
        return ParsedFrame([], 0, "control", None)
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        shown = text[:_SHOWN] + ("…" if len(text) > _SHOWN else "")
        return _malformed(f"{venue}: not JSON ({exc.__class__.__name__}: {exc}): {shown!r}")
    try:
        return PARSERS[venue](payload, symbols)
    except FrameError as exc:
        return _malformed(f"{venue}: {exc}")
    except Exception as exc:  # a shape no check foresaw: still one line, never a crash
        return _malformed(f"{venue}: unreadable frame ({exc.__class__.__name__}: {exc})")
