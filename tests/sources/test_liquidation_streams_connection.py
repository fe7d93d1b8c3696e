"""stream_venue through its real code path (websockets) against the loopback stand-in that
speaks each venue's documented messages: frames reach the sink once each, a half-sent frame
and a dropped connection are survived (reconnect, resubscribe), pings are answered, and
``stop`` ends the stream at once."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from liqbrief.testing.liquidation_ws import (
    LiquidationWsServer,
    binance_event,
    bybit_item,
    bybit_push,
    okx_detail,
    okx_push,
)
from sources.liquidation_streams import Backoff, parse_frame, stream_venue

pytestmark = pytest.mark.server
FAST = Backoff(initial_s=0.05, max_s=0.2, ack_timeout_s=1.0)
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@dataclass
class RecordingSink:
    """A StreamSink that keeps every call, in order."""

    events: list[tuple] = field(default_factory=list)
    fail_frames: int = 0  # raise on this many frames (a full disk)

    def on_frame(self, venue: str, received_at_us: int, text: str) -> None:
        if self.fail_frames:
            self.fail_frames -= 1
            raise OSError(28, "No space left on device")
        self.events.append(("frame", venue, received_at_us, text))

    def on_connected(self, venue: str, at_us: int) -> None:
        self.events.append(("up", venue, at_us))

    def on_disconnected(self, venue: str, at_us: int, reason: str) -> None:
        self.events.append(("down", venue, at_us, reason))

    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]

    def frames(self) -> list[str]:
        return [e[3] for e in self.events if e[0] == "frame"]

    def liq_ids(self, venue: str) -> list[str]:
        return [
            liq.liq_id
            for text in self.frames()
            for liq in parse_frame(venue, text, set(SYMBOLS)).liquidations
        ]

    def reasons(self) -> list[str]:
        return [e[3] for e in self.events if e[0] == "down"]

    async def until(self, ready: Callable[[], bool], timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            assert time.monotonic() < deadline, f"sink never got there: {self.events}"
            await asyncio.sleep(0.01)


@pytest.fixture
def server() -> Iterator[LiquidationWsServer]:
    with LiquidationWsServer() as stand_in:
        yield stand_in


class Streaming:
    """stream_venue running as a task, with the stand-in scripted from a worker thread."""

    def __init__(self, venue: str, url: str, sink: RecordingSink, backoff: Backoff = FAST):
        self.venue, self.sink, self.stop = venue, sink, asyncio.Event()
        self.task = asyncio.create_task(stream_venue(venue, url, SYMBOLS, sink, self.stop, backoff))

    async def stop_within(self, limit_s: float = 1.0) -> float:
        started = time.monotonic()
        self.stop.set()
        await asyncio.wait_for(self.task, limit_s)
        return time.monotonic() - started


def documented_frames(venue: str) -> tuple[list[str], int]:
    """Three data frames of a venue in its documented shape, and how many liquidations of
    SYMBOLS they hold (batched Bybit, several OKX details and instruments)."""
    if venue == "binance":
        frames = [
            binance_event("BTCUSDT", "SELL", "60000", "0.5", 1_700_000_000_000 + n)
            for n in range(2)
        ]
        return [*frames, binance_event("ETHUSDT", "BUY", "3000", "2", 1_700_000_000_500)], 3
    if venue == "bybit":
        batch = [bybit_item("BTCUSDT", side, "60000", "0.1", 1_700_000_000_000 + n)
                 for n, side in enumerate(["Buy", "Sell", "Buy"])]  # fmt: skip
        return [bybit_push(batch), bybit_push([bybit_item(time_ms=1_700_000_001_000)]),
                bybit_push([bybit_item("ETHUSDT", time_ms=1_700_000_002_000)], "ETHUSDT")], 5  # fmt: skip
    details = [
        okx_detail("long", "sell", "60000", str(n + 1), 1_700_000_000_000 + n) for n in range(3)
    ]
    return [
        okx_push(("BTC-USDT-SWAP", details), ("ETH-USDT-SWAP", [okx_detail(time_ms=1_700_000_000_100)])),
        okx_push(("SOL-USDT-SWAP", [okx_detail()])),  # not asked for: skipped
        okx_push(("BTC-USDT-SWAP", [okx_detail("short", "buy", "61000", "2", 1_700_000_003_000)])),
    ], 5  # fmt: skip


def expected_ids(venue: str, frames: list[str]) -> list[str]:
    return [liq.liq_id for f in frames for liq in parse_frame(venue, f, set(SYMBOLS)).liquidations]


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
def test_frames_reach_the_sink_once_each(server, venue):
    frames, count = documented_frames(venue)

    async def scenario() -> None:
        sink = RecordingSink()
        stream = Streaming(venue, server.url(venue), sink)
        await asyncio.to_thread(server.wait_subscribed, 1)
        await sink.until(lambda: "up" in sink.kinds())
        for frame in frames:
            assert await asyncio.to_thread(server.push, frame) == 1
        await sink.until(lambda: len(sink.liq_ids(venue)) >= count)
        await asyncio.sleep(0.05)  # nothing more arrives
        await stream.stop_within()
        ids = sink.liq_ids(venue)
        assert len(ids) == count == len(set(ids))
        assert ids == expected_ids(venue, frames)
        assert sink.kinds()[-1] == "down" and sink.reasons() == ["stopped"]
        assert sink.kinds().count("up") == 1

    asyncio.run(scenario())
    if venue == "bybit":
        assert server.subscriptions[0].args == ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT"]
    if venue == "okx":
        assert server.subscriptions[0].args == [
            {"channel": "liquidation-orders", "instType": "SWAP"}
        ]


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
def test_a_mid_message_disconnect_reconnects_and_resubscribes(server, venue):
    frames, _ = documented_frames(venue)

    async def scenario() -> None:
        sink = RecordingSink()
        stream = Streaming(venue, server.url(venue), sink)
        await asyncio.to_thread(server.wait_subscribed, 1)
        await asyncio.to_thread(server.push, frames[0])
        await sink.until(lambda: frames[0] in sink.frames())
        assert await asyncio.to_thread(server.push_bytes_then_drop, frames[1], 20) == 1
        subscriptions = await asyncio.to_thread(server.wait_subscribed, 2)
        assert subscriptions[1].args == subscriptions[0].args
        await sink.until(lambda: sink.kinds().count("up") == 2)
        await asyncio.to_thread(server.push, frames[2])
        await sink.until(lambda: frames[2] in sink.frames())
        await stream.stop_within()
        assert sink.frames().count(frames[0]) == 1 and frames[1] not in sink.frames()
        assert sink.liq_ids(venue) == expected_ids(venue, [frames[0], frames[2]])
        assert sink.reasons()[0] == "connection closed: no close frame received or sent"
        assert sink.kinds().count("down") == 2  # the drop, then the stop

    asyncio.run(scenario())
    assert server.connections_opened == 2


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
def test_a_malformed_frame_and_an_unknown_symbol_do_not_stop_the_stream(server, venue):
    frames, _ = documented_frames(venue)
    unknown = {
        "binance": binance_event("DOGEUSDT"),
        "bybit": bybit_push([bybit_item("DOGEUSDT")], "DOGEUSDT"),
        "okx": okx_push(("NOPE-USDT-SWAP", [okx_detail()])),
    }[venue]

    async def scenario() -> None:
        sink = RecordingSink()
        stream = Streaming(venue, server.url(venue), sink)
        await asyncio.to_thread(server.wait_subscribed, 1)
        for text in ('{"e":"forceOrder","o":{"s":', unknown, frames[2]):
            await asyncio.to_thread(server.push, text)
        await sink.until(lambda: frames[2] in sink.frames())
        await stream.stop_within()
        assert sink.liq_ids(venue) == expected_ids(venue, [frames[2]])
        parsed = [parse_frame(venue, text, set(SYMBOLS)) for text in sink.frames()]
        assert [p.kind for p in parsed].count("malformed") == 1
        assert sum(p.skipped_symbols for p in parsed) == 1
        assert sink.reasons() == ["stopped"]

    asyncio.run(scenario())
    assert server.connections_opened == 1


def test_protocol_and_app_level_pings_are_answered(server):
    async def scenario(venue: str) -> RecordingSink:
        sink = RecordingSink()
        stream = Streaming(venue, server.url(venue), sink, Backoff(initial_s=0.05, ping_s=0.05))
        await asyncio.to_thread(server.wait_subscribed, len(server.subscriptions) + 1)
        assert await asyncio.to_thread(server.send_ping) == 1  # websockets answers with a pong
        await sink.until(lambda: len([f for f in sink.frames() if "pong" in f]) >= 2)
        await stream.stop_within()
        return sink

    bybit = asyncio.run(scenario("bybit"))
    okx = asyncio.run(scenario("okx"))
    pings = server.client_pings
    assert {text for venue, text in pings if venue == "bybit"} == {'{"op":"ping"}'}
    assert {text for venue, text in pings if venue == "okx"} == {"ping"}
    assert all(parse_frame("bybit", f, None).kind == "control" for f in bybit.frames())
    assert "pong" in okx.frames()
    binance = RecordingSink()

    async def binance_ping() -> None:
        stream = Streaming("binance", server.url("binance"), binance)
        await asyncio.to_thread(server.wait_subscribed, len(server.subscriptions) + 1)
        assert await asyncio.to_thread(server.send_ping) == 1
        await stream.stop_within()

    asyncio.run(binance_ping())


def test_stop_ends_the_stream_within_a_second_even_while_waiting_to_reconnect():
    with LiquidationWsServer() as gone:
        url = gone.url("bybit")  # nothing listens there once the block ends

    async def scenario() -> None:
        sink = RecordingSink()
        stream = Streaming("bybit", url, sink, Backoff(initial_s=30, max_s=30))
        await sink.until(lambda: "down" in sink.kinds())
        assert sink.reasons()[0].startswith("connection failed: ConnectionRefusedError")
        assert await stream.stop_within(1.0) < 1.0
        assert "up" not in sink.kinds()

    asyncio.run(scenario())


def test_refused_or_unanswered_subscriptions_are_retried():
    async def scenario(stand_in: LiquidationWsServer, venue: str) -> RecordingSink:
        sink = RecordingSink()
        backoff = Backoff(initial_s=0.01, max_s=0.02, ack_timeout_s=0.2)
        stream = Streaming(venue, stand_in.url(venue), sink, backoff)
        await asyncio.to_thread(stand_in.wait_subscribed, 2)
        await sink.until(lambda: len(sink.reasons()) >= 2)
        await stream.stop_within()
        assert "up" not in sink.kinds()
        return sink

    with LiquidationWsServer(refuse_subscriptions=True) as refusing:
        bybit = asyncio.run(scenario(refusing, "bybit"))
        okx = asyncio.run(scenario(refusing, "okx"))
    assert bybit.reasons()[0] == "subscription refused: error:handler not found"
    assert okx.reasons()[0] == "subscription refused: 60018 Wrong URL or channel"
    with LiquidationWsServer(ack_subscriptions=False) as silent:
        okx = asyncio.run(scenario(silent, "okx"))
    assert okx.reasons()[0] == "no subscription acknowledgement within 0.2 s"


def test_bybit_subscribes_ten_topics_a_frame_and_is_up_after_every_ack(server):
    symbols = [f"COIN{n}USDT" for n in range(23)]

    async def scenario() -> None:
        sink = RecordingSink()
        stop = asyncio.Event()
        task = asyncio.create_task(
            stream_venue("bybit", server.url("bybit"), symbols, sink, stop, FAST)
        )
        await sink.until(lambda: "up" in sink.kinds())
        acks = [f for f in sink.frames() if '"op": "subscribe"' in f]
        assert len(acks) == 3 and sink.kinds().index("up") == 3  # after the third ack
        stop.set()
        await asyncio.wait_for(task, 1)

    asyncio.run(scenario())
    assert [len(s.args) for s in server.subscriptions] == [10, 10, 3]
    assert [a for s in server.subscriptions for a in s.args] == [
        f"allLiquidation.{s}" for s in symbols
    ]


def test_a_failing_sink_or_a_clean_close_reconnects_and_nothing_escapes(server):
    async def scenario() -> RecordingSink:
        sink = RecordingSink(fail_frames=1)
        stream = Streaming("binance", server.url("binance"), sink)
        await asyncio.to_thread(server.wait_subscribed, 1)
        await asyncio.to_thread(server.push, binance_event())
        await asyncio.to_thread(server.wait_subscribed, 2)  # the sink failed: reconnected
        await sink.until(lambda: sink.kinds().count("up") == 2)
        await asyncio.to_thread(server.close, 1001, "going away")
        await asyncio.to_thread(server.wait_subscribed, 3)
        await stream.stop_within()
        return sink

    sink = asyncio.run(scenario())
    reasons = sink.reasons()
    assert reasons[0] == "sink failed to store a frame: OSError: [Errno 28] No space left on device"
    assert reasons[1].startswith("connection closed: received 1001 (going away)")
    assert reasons[2] == "stopped"


def test_cancelling_the_stream_raises_cancelled_error_only(server):
    async def scenario() -> None:
        sink = RecordingSink()
        stream = Streaming("okx", server.url("okx"), sink)
        await sink.until(lambda: "up" in sink.kinds())
        stream.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stream.task
        await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert server.open_connections() == 0


def test_backoff_is_exponential_with_full_jitter_and_resets_after_a_healthy_connection():
    backoff = Backoff(initial_s=1.0, max_s=60.0)
    random.seed(13)
    for attempt, cap in [(0, 1.0), (1, 2.0), (3, 8.0), (6, 60.0), (500, 60.0)]:
        delays = [backoff.delay(attempt) for _ in range(400)]
        assert 0 <= min(delays) < cap * 0.05 and cap * 0.95 < max(delays) <= cap


def test_reconnect_delays_grow_while_the_venue_is_down():
    """Against a port nothing listens on, attempts come at full-jitter exponential delays;
    the caps (0.02, 0.04, 0.08, 0.16 s, ...) make 12 attempts take well over the first cap x 12."""
    with LiquidationWsServer() as gone:
        url = gone.url("binance")

    async def scenario() -> float:
        sink = RecordingSink()
        stream = Streaming("binance", url, sink, Backoff(initial_s=0.02, max_s=0.32))
        started = time.monotonic()
        await sink.until(lambda: len(sink.reasons()) >= 12, timeout_s=10)
        elapsed = time.monotonic() - started
        await stream.stop_within()
        return elapsed

    random.seed(7)
    elapsed = asyncio.run(scenario())
    # expected total ≈ sum of cap/2 = (0.02+0.04+0.08+0.16+0.32*7)/2 ≈ 1.27 s; without growth 0.12 s
    assert elapsed > 0.5


@dataclass(frozen=True)
class CountingBackoff(Backoff):
    """Backoff that records the attempt number of every delay it is asked for."""

    attempts: list[int] = field(default_factory=list)

    def delay(self, attempt: int) -> float:
        self.attempts.append(attempt)
        return 0.01


def test_the_attempt_count_grows_while_refused_and_resets_after_a_healthy_connection():
    backoff = CountingBackoff(initial_s=0.01)

    async def scenario(stand_in: LiquidationWsServer) -> None:
        sink = RecordingSink()
        stream = Streaming("bybit", stand_in.url("bybit"), sink, backoff)
        await sink.until(lambda: len(sink.reasons()) >= 3)
        stand_in.refuse_subscriptions = False
        await sink.until(lambda: "up" in sink.kinds())
        refused = len(backoff.attempts)
        await asyncio.to_thread(stand_in.push, bybit_push([bybit_item()]))
        await sink.until(lambda: any("allLiquidation" in f for f in sink.frames()))
        await asyncio.to_thread(stand_in.drop)
        await sink.until(lambda: sink.kinds().count("up") == 2)
        await stream.stop_within()
        assert backoff.attempts[:refused] == list(range(refused))
        assert backoff.attempts[refused:] == [0]

    with LiquidationWsServer(refuse_subscriptions=True) as stand_in:
        asyncio.run(scenario(stand_in))


def test_a_paced_burst_arrives_whole_and_in_order(server):
    """2,000 Bybit frames at 4,000 a second: every frame reaches the sink, in order."""
    texts = [bybit_push([bybit_item(time_ms=1_700_000_000_000 + n)]) for n in range(2000)]

    async def scenario() -> RecordingSink:
        sink = RecordingSink()
        stream = Streaming("bybit", server.url("bybit"), sink)
        await asyncio.to_thread(server.wait_subscribed, 1)
        assert await asyncio.to_thread(server.push_many, texts, 4000) == len(texts)
        await sink.until(lambda: len(sink.frames()) >= len(texts) + 1)
        await stream.stop_within()
        return sink

    sink = asyncio.run(scenario())
    assert [f for f in sink.frames() if "allLiquidation" in f] == texts


def test_usage_errors_are_refused_before_connecting():
    async def start(venue: str, symbols: list[str]) -> None:
        await stream_venue(venue, "ws://127.0.0.1:9/", symbols, RecordingSink(), asyncio.Event())

    with pytest.raises(ValueError, match="unknown venue 'kraken'"):
        asyncio.run(start("kraken", ["BTCUSDT"]))
    with pytest.raises(ValueError, match="name at least one"):
        asyncio.run(start("bybit", []))
