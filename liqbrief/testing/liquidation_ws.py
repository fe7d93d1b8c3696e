"""A loopback stand-in for the venues' liquidation websockets (tests and benchmarks).

A real ``websockets`` server on 127.0.0.1 (a free port), run in a background thread with its
own event loop, answering as the venues do: Bybit's subscribe and ``{"op":"ping"}`` replies,
OKX's ``{"event":"subscribe"}`` and ``pong``; Binance needs neither (its URL names the
stream). The test scripts it from its own thread: push frames, push part of a frame and
then drop the TCP connection, drop it outright, send a protocol ping. It records what the
clients subscribed to and the app-level pings they sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

PATHS = {
    "binance": "/market/ws/!forceOrder@arr",
    "bybit": "/v5/public/linear",
    "okx": "/ws/v5/public",
}


def venue_of(path: str) -> str | None:
    """The venue a client asked for, from the request path (Binance: any ``…/ws/<stream>``)."""
    for venue, venue_path in PATHS.items():
        if path == venue_path:
            return venue
    return "binance" if "/ws/" in path and "forceOrder" in path else None


@dataclass(frozen=True)
class Subscription:
    """One subscribe request: Bybit's topics, OKX's channel args, Binance's stream path."""

    venue: str
    args: list[Any]
    at: float  # time.monotonic() when it arrived


# -- the venues' documented messages (venues.md §4), for tests and benchmarks -----------------


def binance_event(
    symbol: str = "BTCUSDT",
    side: str = "SELL",
    price: str = "9910",
    qty: str = "0.014",
    time_ms: int = 1568014460893,
) -> str:
    """A Binance forceOrder event as documented (``S`` is the order side: SELL = long liquidated)."""
    order = {
        "s": symbol,
        "S": side,
        "o": "LIMIT",
        "f": "IOC",
        "q": qty,
        "p": price,
        "ap": price,
        "X": "FILLED",
        "l": qty,
        "z": qty,
        "T": time_ms,
    }
    return json.dumps({"e": "forceOrder", "E": time_ms, "o": order})  # fmt: skip


def bybit_item(
    symbol: str = "BTCUSDT",
    side: str = "Buy",
    price: str = "97000",
    qty: str = "0.01",
    time_ms: int = 1739502302929,
) -> dict[str, Any]:
    """One item of a Bybit allLiquidation push (``S`` is the position side: Buy = long)."""
    return {"T": time_ms, "s": symbol, "S": side, "v": qty, "p": price}  # fmt: skip


def _push_time(items: list[dict[str, Any]]) -> int:
    times = [i.get("T") for i in items if isinstance(i, dict)]
    return max((t for t in times if isinstance(t, int)), default=1739502303004) + 200


def bybit_push(items: list[dict[str, Any]], symbol: str = "BTCUSDT") -> str:
    """A Bybit allLiquidation push of ``items`` (the venue batches every 500 ms)."""
    return json.dumps(
        {"topic": f"allLiquidation.{symbol}", "type": "snapshot",
         "ts": _push_time(items), "data": items}
    )  # fmt: skip


def okx_detail(
    pos_side: str = "long",
    side: str = "sell",
    price: str = "95000",
    contracts: str = "1",
    time_ms: int | str = 1692266434010,
) -> dict[str, Any]:
    """One detail of an OKX liquidation-orders item (``sz`` in contracts)."""
    return {"bkLoss": "0", "bkPx": price, "ccy": "", "posSide": pos_side, "side": side,
            "sz": contracts, "ts": str(time_ms)}  # fmt: skip


def okx_push(*items: tuple[str, list[dict[str, Any]]]) -> str:
    """An OKX liquidation-orders push of (instId, details) items."""
    data = [
        {"details": details, "instFamily": inst.removesuffix("-SWAP"), "instId": inst,
         "instType": "SWAP", "uly": inst.removesuffix("-SWAP")}
        for inst, details in items
    ]  # fmt: skip
    return json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": data})


def text_frame_header(payload_len: int) -> bytes:
    """The header of an unmasked, final text frame (RFC 6455 §5.2) of ``payload_len`` bytes."""
    if payload_len < 126:
        return bytes([0x81, payload_len])
    if payload_len < 2**16:
        return bytes([0x81, 126]) + struct.pack("!H", payload_len)
    return bytes([0x81, 127]) + struct.pack("!Q", payload_len)


class LiquidationWsServer:
    """The stand-in, served while the ``with`` block runs.

    ``ack_subscriptions=False`` never answers a subscribe request; ``refuse_subscriptions``
    answers it with the venue's error reply; ``refuse_topics`` refuses a Bybit subscribe
    request holding one of those topics as Bybit does, naming the topic."""

    def __init__(
        self,
        ack_subscriptions: bool = True,
        refuse_subscriptions: bool = False,
        refuse_topics: frozenset[str] = frozenset(),
    ):
        self.ack_subscriptions = ack_subscriptions
        self.refuse_subscriptions = refuse_subscriptions
        self.refuse_topics = refuse_topics
        self.subscriptions: list[Subscription] = []
        self.client_pings: list[tuple[str, str]] = []  # (venue, text) of app-level pings
        self.connections_opened = 0
        self._open: list[tuple[str, ServerConnection]] = []
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is None:
            return
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop.close()
        self._loop = None

    async def _start(self) -> Server:
        return await serve(
            self._handler, "127.0.0.1", 0, ping_interval=None, compression=None,
            close_timeout=0.5, max_size=None,
        )  # fmt: skip

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server with `with` first"
        return next(iter(self._server.sockets)).getsockname()[1]

    def url(self, venue: str) -> str:
        """The ws:// URL a client of ``venue`` connects to (set LIQBRIEF_<VENUE>_WS_URL to it)."""
        return f"ws://127.0.0.1:{self.port}{PATHS[venue]}"

    # -- scripting (from the test's thread) ----------------------------------------------------

    def push(self, text: str, venue: str | None = None) -> int:
        """Send a text frame to every open connection (of ``venue``); returns how many got it."""
        return self._call(self._push(text, venue))

    def push_many(
        self, texts: list[str], rate_per_s: float | None = None, venue: str | None = None
    ) -> int:
        """Send ``texts`` in order, paced at ``rate_per_s`` frames a second (None: at once),
        to every open connection (of ``venue``); returns how many frames were sent."""
        budget_s = 10 + (len(texts) / rate_per_s if rate_per_s else 0)
        return self._call(self._push_many(texts, rate_per_s, venue), budget_s)

    def push_bytes_then_drop(self, text: str, n_bytes: int, venue: str | None = None) -> int:
        """Write a frame's header and only the first ``n_bytes`` of its payload, then drop the
        TCP connection without a close frame: a server dying mid-message."""
        payload = text.encode()
        assert 0 <= n_bytes < len(payload), "send less than the whole payload"
        partial = text_frame_header(len(payload)) + payload[:n_bytes]
        return self._call(self._raw_then_abort(partial, venue))

    def drop(self, venue: str | None = None) -> int:
        """Drop every open connection (of ``venue``) at the TCP level: no close frame."""
        return self._call(self._raw_then_abort(b"", venue))

    def stall(self, venue: str | None = None) -> int:
        """Stop reading every open connection (of ``venue``) while keeping it open: a peer
        gone silent behind a live TCP connection (no pongs, no close)."""
        return self._call(self._stall(venue))

    def close(self, code: int = 1001, reason: str = "going away", venue: str | None = None) -> int:
        """Close every open connection (of ``venue``) cleanly with a close frame."""
        return self._call(self._close(code, reason, venue))

    def send_ping(self, timeout_s: float = 2.0) -> int:
        """A protocol ping to every open connection; returns how many answered with a pong."""
        return self._call(self._ping_all(timeout_s), timeout_s + 1)

    def wait_subscribed(self, n: int, timeout_s: float = 5.0) -> list[Subscription]:
        """Block until ``n`` subscribe requests have arrived in all (a Binance connection
        counts as one); AssertionError after ``timeout_s``."""
        return self._wait(lambda: len(self.subscriptions) >= n, timeout_s, f"{n} subscriptions")

    def wait_client_pings(self, n: int, timeout_s: float = 5.0) -> list[tuple[str, str]]:
        """Block until clients sent ``n`` app-level pings."""
        self._wait(lambda: len(self.client_pings) >= n, timeout_s, f"{n} client pings")
        return list(self.client_pings)

    def open_connections(self) -> int:
        with self._changed:
            return len(self._open)

    # -- the server side -------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, Any], timeout_s: float = 5.0) -> Any:
        assert self._loop is not None, "start the server with `with` first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def _wait(self, ready: Callable[[], bool], timeout_s: float, what: str) -> Any:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not ready():
                left = deadline - time.monotonic()
                assert left > 0, f"stand-in: no {what} within {timeout_s} s ({self.subscriptions})"
                self._changed.wait(left)
            return list(self.subscriptions)

    def _record(self, update: Callable[[], None]) -> None:
        with self._changed:
            update()
            self._changed.notify_all()

    def _targets(self, venue: str | None) -> list[ServerConnection]:
        with self._changed:
            return [ws for v, ws in self._open if venue is None or v == venue]

    async def _push(self, text: str, venue: str | None) -> int:
        sent = 0
        for ws in self._targets(venue):
            try:
                await ws.send(text)
                sent += 1
            except ConnectionClosed:
                pass
        return sent

    async def _push_many(
        self, texts: list[str], rate_per_s: float | None, venue: str | None
    ) -> int:
        loop = asyncio.get_running_loop()
        started, sent = loop.time(), 0
        for n, text in enumerate(texts):
            if rate_per_s and (ahead := started + n / rate_per_s - loop.time()) > 0:
                await asyncio.sleep(ahead)
            sent += await self._push(text, venue) > 0
        return sent

    async def _raw_then_abort(self, data: bytes, venue: str | None) -> int:
        targets = self._targets(venue)
        for ws in targets:
            if data:
                ws.transport.write(data)
            ws.transport.abort()
        return len(targets)

    async def _stall(self, venue: str | None) -> int:
        targets = self._targets(venue)
        for ws in targets:
            ws.transport.pause_reading()
        return len(targets)

    async def _close(self, code: int, reason: str, venue: str | None) -> int:
        targets = self._targets(venue)
        await asyncio.gather(*(ws.close(code, reason) for ws in targets))
        return len(targets)

    async def _ping_all(self, timeout_s: float) -> int:
        async def one(ws: ServerConnection) -> bool:
            try:
                waiter = await ws.ping()
                await asyncio.wait_for(waiter, timeout_s)
                return True
            except (ConnectionClosed, TimeoutError):
                return False

        return sum(await asyncio.gather(*(one(ws) for ws in self._targets(None))))

    async def _handler(self, ws: ServerConnection) -> None:
        venue = venue_of(ws.request.path if ws.request else "")
        if venue is None:
            await ws.close(1008, "unknown path")
            return
        entry = (venue, ws)

        def opened() -> None:
            self.connections_opened += 1
            self._open.append(entry)
            if venue == "binance":  # the URL is the subscription
                self.subscriptions.append(Subscription(venue, [ws.request.path], time.monotonic()))

        self._record(opened)
        try:
            async for message in ws:
                await self._answer(venue, ws, str(message))
        except ConnectionClosed:
            pass
        finally:
            self._record(lambda: self._open.remove(entry))

    async def _answer(self, venue: str, ws: ServerConnection, text: str) -> None:
        """Reply as the venue does to a subscribe request or an app-level ping."""
        if venue == "okx" and text == "ping":
            self._record(lambda: self.client_pings.append((venue, text)))
            await ws.send("pong")
            return
        try:
            request = json.loads(text)
        except json.JSONDecodeError:
            return
        if not isinstance(request, dict):
            return
        op = request.get("op")
        if venue == "bybit" and op == "ping":
            self._record(lambda: self.client_pings.append((venue, text)))
            await ws.send(self._bybit_reply(request, "ping", True, "pong"))
        elif op == "subscribe":
            args = list(request.get("args") or [])
            self._record(
                lambda: self.subscriptions.append(Subscription(venue, args, time.monotonic()))
            )
            if self.ack_subscriptions:
                for reply in self._subscribe_replies(venue, request, args):
                    await ws.send(reply)

    def _bybit_reply(self, request: dict, op: str, success: bool, message: str) -> str:
        return json.dumps(
            {"success": success, "ret_msg": message, "conn_id": f"standin-{next(self._ids)}",
             "req_id": request.get("req_id", ""), "op": op}
        )  # fmt: skip

    def _subscribe_replies(self, venue: str, request: dict, args: list[Any]) -> list[str]:
        if venue == "bybit":
            unknown = [topic for topic in args if topic in self.refuse_topics]
            if unknown:
                message = f"error:handler not found,topic:{','.join(unknown)}"
                return [self._bybit_reply(request, "subscribe", False, message)]
            if self.refuse_subscriptions:
                return [self._bybit_reply(request, "subscribe", False, "error:handler not found")]
            return [self._bybit_reply(request, "subscribe", True, "")]
        if self.refuse_subscriptions:
            return [json.dumps({"event": "error", "code": "60018", "msg": "Wrong URL or channel"})]
        return [
            json.dumps({"event": "subscribe", "arg": arg, "connId": f"standin{next(self._ids)}"})
            for arg in args
        ]
