"""Staying connected to a venue's liquidation stream: ``stream_venue``.

One loop per venue: connect with ``websockets``, subscribe, hand every received frame to the
sink (which spools it durably before returning), keep the connection alive, and when it
drops — a reset, a half-sent frame, a refused or unanswered subscription, a sink that fails
— tell the sink why and reconnect after an exponential back-off with full jitter. The loop
only ends when ``stop`` is set; nothing but ``CancelledError`` escapes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sources.liquidation_streams.model import VENUES
from sources.liquidation_streams.protocol import (
    PROTOCOLS,
    refused_symbols,
    subscribe_frames,
    subscription_reply,
)

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 0.5  # a clean close on stop waits at most this for the venue's reply
MAX_FRAME_BYTES = 16 * 2**20


class StreamSink(Protocol):
    """Where a stream's frames and connection changes go (the recorder). Every call is made
    on the event loop's thread, in the order things happened."""

    def on_frame(self, venue: str, received_at_us: int, text: str) -> None:
        """Every frame received (data, control and malformed alike); must store it durably
        before returning: once it returns the frame counts as received."""

    def on_connected(self, venue: str, at_us: int) -> None:
        """Subscribed: after the venue acknowledged every subscribe frame (Bybit, OKX) or on
        open (Binance, whose URL names the stream)."""

    def on_disconnected(self, venue: str, at_us: int, reason: str) -> None:
        """An attempt ended (a drop, a failed connect, a refused subscription, or ``stop``),
        with one line saying why; several may follow each other while a venue is down."""

    def on_alive(self, venue: str, at_us: int) -> None:
        """The subscribed connection was proven alive at ``at_us`` (a ping it answered)."""

    def on_refused(self, venue: str, at_us: int, symbols: list[str], reason: str) -> None:
        """The venue refused the subscription of ``symbols`` (it does not list them): they
        are no longer recorded on this venue; the others go on."""


@dataclass(frozen=True)
class Backoff:
    """Reconnection and keep-alive timings (seconds)."""

    initial_s: float = 1.0  # the first retry waits up to this
    max_s: float = 60.0  # no retry waits longer
    ping_s: float | None = None  # app-level ping interval; None = the venue's (20 s, 25 s)
    ack_timeout_s: float = 10.0  # a subscription not acknowledged by then is retried
    # a protocol ping this often proves the connection alive (``on_alive``); no pong within
    # ``probe_timeout_s`` ends it: coverage never runs on past a silently dead connection
    probe_s: float | None = 5.0
    probe_timeout_s: float = 10.0
    # a subscribed connection up this long, or that brought a frame, resets the back-off
    healthy_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform between 0 and the exponential cap of this attempt."""
        return random.uniform(0, min(self.max_s, self.initial_s * 2 ** min(attempt, 62)))


def _now_us() -> int:
    return time.time_ns() // 1000


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Session:
    """One connection attempt, from connect to drop."""

    def __init__(
        self, venue: str, url: str, symbols: list[str], sink: StreamSink, backoff: Backoff
    ):
        self.venue, self.url, self.sink, self.backoff = venue, url, sink, backoff
        self.symbols = symbols
        self.frames = subscribe_frames(venue, symbols)
        self.refused: list[str] = []  # symbols a refusal named
        self.dead: str | None = None  # why the probe gave the connection up
        self.subscribed_at: float | None = None
        self.frames_after_subscribed = 0
        self.acks = 0

    @property
    def healthy(self) -> bool:
        """Subscribed, and either brought a frame or stayed up for ``healthy_s``."""
        if self.subscribed_at is None:
            return False
        up_s = time.monotonic() - self.subscribed_at
        return self.frames_after_subscribed > 0 or up_s >= self.backoff.healthy_s

    async def run(self) -> str:
        """Connect, subscribe and read until the connection ends; returns why it ended."""
        try:
            async with connect(
                self.url, open_timeout=10, close_timeout=CLOSE_TIMEOUT_S, max_size=MAX_FRAME_BYTES
            ) as ws:
                for frame in self.frames:
                    await ws.send(frame)
                if not self.frames:
                    self._subscribed()
                keepers = [
                    asyncio.create_task(self._ping(ws)),
                    asyncio.create_task(self._probe(ws)),
                ]
                try:
                    return await self._read(ws)
                finally:
                    for keeper in keepers:
                        keeper.cancel()
        except ConnectionClosed as exc:
            return self.dead or _one_line(f"connection closed: {exc}")
        except Exception as exc:  # connect refused, handshake rejected, timeouts, DNS, ...
            return _one_line(f"connection failed: {type(exc).__name__}: {exc}")

    async def _read(self, ws: ClientConnection) -> str:
        """Hand every frame to the sink until the connection ends; returns why it ended."""
        deadline = asyncio.get_running_loop().time() + self.backoff.ack_timeout_s
        while True:
            if self.subscribed_at is None:
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await ws.recv()
                except TimeoutError:
                    wait_s = self.backoff.ack_timeout_s
                    return f"no subscription acknowledgement within {wait_s:g} s"
            else:
                message = await ws.recv()
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            try:
                self.sink.on_frame(self.venue, _now_us(), text)
            except Exception as exc:
                return _one_line(f"sink failed to store a frame: {type(exc).__name__}: {exc}")
            refusal = self._count(text)
            if refusal:
                return _one_line(f"subscription {refusal}")

    def _count(self, text: str) -> str | None:
        """Note a frame: after the subscription it shows the stream is alive; before, it may
        be an acknowledgement (up once every subscribe frame has one) or a refusal."""
        if self.subscribed_at is not None:
            self.frames_after_subscribed += 1
            return None
        reply = subscription_reply(self.venue, text)
        if isinstance(reply, str):
            self.refused = refused_symbols(self.venue, reply, self.symbols)
            return reply
        if reply is True:
            self.acks += 1
            if self.acks >= len(self.frames):
                self._subscribed()
        return None

    def _subscribed(self) -> None:
        self.subscribed_at = time.monotonic()
        _notify(self.sink.on_connected, self.venue, _now_us())

    async def _ping(self, ws: ClientConnection) -> None:
        """The venue's app-level ping at its interval (protocol pings are websockets')."""
        protocol = PROTOCOLS[self.venue]
        interval = self.backoff.ping_s or protocol.ping_s
        if protocol.ping_text is None or not interval:
            return
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                await ws.send(protocol.ping_text)

    async def _probe(self, ws: ClientConnection) -> None:
        """Prove the connection alive every ``probe_s`` with a protocol ping; a ping left
        unanswered for ``probe_timeout_s`` drops the connection (it is dead, however quiet)."""
        interval, timeout = self.backoff.probe_s, self.backoff.probe_timeout_s
        if not interval:
            return
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                sent_us = _now_us()
                pong = await ws.ping()
                try:
                    await asyncio.wait_for(pong, timeout)
                except TimeoutError:
                    self.dead = f"no pong within {timeout:g} s: the connection is dead"
                    ws.transport.abort()
                    return
                if self.subscribed_at is not None:
                    _notify(self.sink.on_alive, self.venue, sent_us)


def _notify(callback, *args: object) -> None:
    """A sink's connection callback; its failure is logged, never raised into the loop."""
    try:
        callback(*args)
    except Exception as exc:
        log.warning(
            "liquidation stream: %s failed: %s: %s", callback.__name__, type(exc).__name__, exc
        )


async def _run_until_stopped(session: _Session, stop: asyncio.Event) -> str:
    """The session's end reason, or "stopped" after closing it cleanly when ``stop`` is set."""
    run = asyncio.ensure_future(session.run())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not run.done():
            run.cancel()  # leaves `async with connect(...)`, which closes the connection
            with contextlib.suppress(asyncio.CancelledError):
                await run
    return "stopped" if run.cancelled() else run.result()


def _drop_refused(
    venue: str, refused: list[str], left: list[str], reason: str, sink: StreamSink
) -> bool:
    """Tell the sink and the log that ``refused`` are no longer recorded on ``venue``;
    whether any symbol is left to record."""
    _notify(sink.on_refused, venue, _now_us(), refused, reason)
    if left:
        log.warning(
            "%s stream: %s; %s not recorded on %s (check the tickers), recording %s",
            venue,
            reason,
            ", ".join(refused),
            venue,
            ", ".join(left),
        )
        return True
    log.error(
        "%s stream: %s; no symbol left to record on %s: check --symbols and restart",
        venue,
        reason,
        venue,
    )
    return False


async def stream_venue(
    venue: str,
    url: str,
    symbols: list[str],
    sink: StreamSink,
    stop: asyncio.Event,
    backoff: Backoff = Backoff(),
) -> None:
    """Record one venue's liquidation stream into ``sink`` until ``stop`` is set: connect,
    subscribe to ``symbols`` (Binance: the URL names the stream; OKX: the whole SWAP
    market), keep alive, and reconnect with back-off after any drop. Never raises on
    network or sink errors; only ``CancelledError`` escapes (and ``ValueError`` at once for
    an unknown venue, or Bybit without symbols). Symbols the venue refuses by name are
    dropped (``sink.on_refused``, a WARNING) and the others resubscribed; the loop ends
    early only when every symbol was refused (an ERROR)."""
    if venue not in VENUES:
        raise ValueError(f"unknown venue {venue!r}; use one of {', '.join(VENUES)}")
    if venue == "bybit" and not symbols:
        raise ValueError("bybit streams per symbol: name at least one, e.g. BTCUSDT")
    attempt, symbols = 0, list(symbols)
    while not stop.is_set():
        session = _Session(venue, url, symbols, sink, backoff)
        reason = await _run_until_stopped(session, stop)
        _notify(sink.on_disconnected, venue, _now_us(), reason)
        if stop.is_set():
            return
        if session.refused:
            symbols = [symbol for symbol in symbols if symbol not in session.refused]
            if not _drop_refused(venue, session.refused, symbols, reason, sink):
                return
            continue  # resubscribe the others at once: the refusal was not the network's
        attempt = 0 if session.healthy else attempt
        delay = backoff.delay(attempt)
        attempt += 1
        level = logging.WARNING if reason.startswith("subscription") else logging.INFO
        log.log(level, "%s stream: %s; reconnecting in %.1f s", venue, reason, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
