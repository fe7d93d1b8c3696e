"""parse_frame, binance_liquidation and liquidations_frame on each venue's documented message
(venues.md §4, quoted from the venues' docs), their batches, control frames and bad frames."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqbrief.testing.liquidation_ws import bybit_push as bybit_frame
from liqbrief.testing.liquidation_ws import okx_detail
from liqbrief.testing.liquidation_ws import okx_push as okx_frame
from sources.liquidation_streams import (
    FrameError,
    binance_liquidation,
    liquidations_frame,
    parse_frame,
    symbols_without_contract_value,
)
from store.datasets import REALISED_LIQUIDATION_SCHEMA
from store.realised import liquidation_id, merge_realised, read_realised

# verbatim from the venues' documentation
BINANCE_DOC = (
    '{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC",'
    '"q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}'
)
BYBIT_DOC = (
    '{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":'
    '1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}'
)
OKX_DOC = (
    '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0",'
    '"bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"}],'
    '"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}'
)


# -- Binance ---------------------------------------------------------------------------------


def test_binance_documented_sell_is_a_long_liquidated():
    frame = parse_frame("binance", BINANCE_DOC, {"BTCUSDT"})
    assert (frame.kind, frame.problem, frame.skipped_symbols) == ("data", None, 0)
    [liq] = frame.liquidations
    assert liq.side == "long"
    assert (liq.symbol, liq.time_us) == ("BTCUSDT", 1568014460893000)
    assert (liq.price, liq.quantity) == (9910.0, 0.014)
    assert liq.notional_usd == pytest.approx(9910 * 0.014)
    assert liq.liq_id == liquidation_id(
        "binance", ["BTCUSDT", "1568014460893", "SELL", "9910", "0.014"]
    )
    assert json.loads(liq.raw) == json.loads(BINANCE_DOC)
    assert liq.raw == json.dumps(json.loads(BINANCE_DOC), sort_keys=True, separators=(",", ":"))


def test_binance_buy_is_a_short_liquidated():
    text = BINANCE_DOC.replace('"S":"SELL"', '"S":"BUY"')
    [liq] = parse_frame("binance", text, None).liquidations
    assert liq.side == "short"


def test_binance_combined_stream_wrapper_and_array_form():
    event = json.loads(BINANCE_DOC)
    wrapped = json.dumps({"stream": "!forceOrder@arr", "data": event})
    other = json.loads(BINANCE_DOC.replace("BTCUSDT", "ETHUSDT"))
    array = json.dumps([event, other])
    assert [x.symbol for x in parse_frame("binance", wrapped, None).liquidations] == ["BTCUSDT"]
    frame = parse_frame("binance", array, None)
    assert [x.symbol for x in frame.liquidations] == ["BTCUSDT", "ETHUSDT"]
    filtered = parse_frame("binance", array, {"ETHUSDT"})
    assert ([x.symbol for x in filtered.liquidations], filtered.skipped_symbols) == (["ETHUSDT"], 1)


def test_binance_price_and_quantity_fallbacks():
    """ap "0" (no average yet) falls back to p; z "0" to l; the id uses the fields read."""
    order = {"s": "BTCUSDT", "S": "BUY", "q": "0.5", "p": "60000.1", "ap": "0", "l": "0.2",
             "z": "0", "T": 1700000000123}  # fmt: skip
    liq = binance_liquidation(order, "raw-line")
    assert (liq.price, liq.quantity, liq.side, liq.raw) == (60000.1, 0.2, "short", "raw-line")
    assert liq.liq_id == liquidation_id(
        "binance", ["BTCUSDT", "1700000000123", "BUY", "60000.1", "0.5"]
    )


def test_binance_liquidation_refuses_a_bad_order_with_one_line():
    order = {"s": "BTCUSDT", "S": "SELL", "q": "x", "p": "1", "ap": "1", "l": "1", "z": "1"}
    with pytest.raises(FrameError, match="'T' is missing"):
        binance_liquidation(order, "")
    with pytest.raises(FrameError, match="not BUY or SELL"):
        binance_liquidation({**order, "T": 1700000000123, "S": "HOLD"}, "")


@pytest.mark.parametrize(
    ("bad", "expected"),
    [({"z": "abc"}, "'z' is 'abc', not a number"), ({"ap": "-5"}, "'ap' is '-5', not a positive"),
     ({"z": "nan"}, "'z' is 'nan', not a positive")],
)  # fmt: skip
def test_binance_a_corrupt_field_is_refused_not_replaced_by_the_next(bad, expected):
    """Only a missing or zero field falls back: a corrupt z must not be read from l or q."""
    order = {"s": "BTCUSDT", "S": "SELL", "q": "0.5", "p": "60000", "ap": "60001",
             "l": "0.2", "z": "0.2", "T": 1700000000123}  # fmt: skip
    with pytest.raises(FrameError, match=expected):
        binance_liquidation({**order, **bad}, "")


def test_binance_subscribe_reply_is_control():
    assert parse_frame("binance", '{"result":null,"id":1}', None).kind == "control"


# -- Bybit -----------------------------------------------------------------------------------


def test_bybit_documented_sell_is_a_short_liquidated():
    frame = parse_frame("bybit", BYBIT_DOC, None)
    [liq] = frame.liquidations
    assert (frame.kind, liq.side, liq.symbol) == ("data", "short", "ROSEUSDT")
    assert (liq.price, liq.quantity, liq.time_us) == (0.04499, 20000.0, 1739502302929000)
    assert liq.liq_id == liquidation_id(
        "bybit", ["ROSEUSDT", "1739502302929", "Sell", "0.04499", "20000"]
    )
    assert json.loads(liq.raw) == json.loads(BYBIT_DOC)["data"][0]


def test_bybit_buy_is_a_long_liquidated():
    [liq] = parse_frame("bybit", BYBIT_DOC.replace('"S":"Sell"', '"S":"Buy"'), None).liquidations
    assert liq.side == "long"


def test_bybit_batch_of_three_gives_three():
    items = [
        {"T": 1739502302929 + n, "s": "BTCUSDT", "S": side, "v": "0.01", "p": str(97000 + n)}
        for n, side in enumerate(["Buy", "Sell", "Buy"])
    ]
    frame = parse_frame("bybit", bybit_frame(items), {"BTCUSDT"})
    assert [x.side for x in frame.liquidations] == ["long", "short", "long"]
    assert len({x.liq_id for x in frame.liquidations}) == 3


# -- OKX -------------------------------------------------------------------------------------


def test_okx_documented_message_is_skipped_without_a_contract_value():
    """IOST-USDT-SWAP has no shipped ctVal: counted as skipped, no row, not malformed."""
    frame = parse_frame("okx", OKX_DOC, None)
    assert (frame.kind, frame.liquidations, frame.skipped_symbols) == ("data", [], 1)


def test_okx_documented_short_position_and_every_detail_kept():
    """The documented detail (posSide short) on BTC-USDT-SWAP, plus a second detail and a
    second instrument in the same frame: all three kept (ccxt keeps only details[0])."""
    doc_detail = json.loads(OKX_DOC)["data"][0]["details"][0]
    text = okx_frame(
        ("BTC-USDT-SWAP", [{**doc_detail, "bkPx": "95000.5"},
                           okx_detail("long", "sell", "94000", "250", "1692266434999")]),
        ("ETH-USDT-SWAP", [okx_detail("long", "sell", "3000", "7", "1692266435000")]),
    )  # fmt: skip
    frame = parse_frame("okx", text, None)
    assert frame.kind == "data"
    short, long_btc, long_eth = frame.liquidations
    assert (short.side, long_btc.side, long_eth.side) == ("short", "long", "long")
    assert (short.symbol, short.price, short.quantity) == ("BTCUSDT", 95000.5, 0.13)
    assert (long_btc.quantity, long_eth.symbol, long_eth.quantity) == (2.5, "ETHUSDT", 0.7)
    assert short.time_us == 1692266434010000
    assert short.liq_id == liquidation_id(
        "okx", ["BTC-USDT-SWAP", "1692266434010", "buy", "short", "95000.5", "13"]
    )
    assert json.loads(short.raw)["details"] == [{**doc_detail, "bkPx": "95000.5"}]
    assert json.loads(short.raw)["instId"] == "BTC-USDT-SWAP"


def test_okx_without_position_side_falls_back_to_order_side():
    text = okx_frame(("BTC-USDT-SWAP", [okx_detail("net", "sell", "1", "1", "1692266434010"),
                                        okx_detail("net", "buy", "1", "2", "1692266434010")]))  # fmt: skip
    assert [x.side for x in parse_frame("okx", text, None).liquidations] == ["long", "short"]


def test_okx_symbol_filter_counts_the_rest():
    text = okx_frame(
        ("BTC-USDT-SWAP", [okx_detail("long", "sell", "1", "1", "1692266434010")]),
        ("ETH-USDT-SWAP", [okx_detail("long", "sell", "1", "1", "1692266434010")] * 2),
    )
    frame = parse_frame("okx", text, {"BTCUSDT"})
    assert ([x.symbol for x in frame.liquidations], frame.skipped_symbols) == (["BTCUSDT"], 2)


# -- control and malformed frames ------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue", "text"),
    [
        ("bybit", '{"success":true,"ret_msg":"","conn_id":"c1","req_id":"1","op":"subscribe"}'),
        ("bybit", '{"success":true,"ret_msg":"pong","conn_id":"c1","req_id":"","op":"ping"}'),
        ("bybit", '{"op":"pong","args":["1739502303204"],"conn_id":"c1"}'),
        (
            "okx",
            '{"event":"subscribe","arg":{"channel":"liquidation-orders","instType":"SWAP"},"connId":"a4d3ae55"}',
        ),
        ("okx", "pong"),
        (
            "okx",
            '{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade."}',
        ),
        ("binance", '{"result":null,"id":7}'),
    ],
)
def test_control_frames(venue, text):
    frame = parse_frame(venue, text, {"BTCUSDT"})
    assert (frame.kind, frame.liquidations, frame.problem) == ("control", [], None)


def test_refused_subscriptions_are_control_with_a_problem():
    bybit = parse_frame(
        "bybit", '{"success":false,"ret_msg":"error:handler not found","op":"subscribe"}', None
    )
    okx = parse_frame("okx", '{"event":"error","code":"60018","msg":"Wrong URL or channel"}', None)
    assert (bybit.kind, bybit.problem) == ("control", "subscribe refused: error:handler not found")
    assert (okx.kind, okx.problem) == ("control", "request refused: 60018 Wrong URL or channel")


GOOD_BYBIT_ITEM = {"T": 1739502302929, "s": "BTCUSDT", "S": "Buy", "v": "0.01", "p": "97000"}
BAD_FRAMES = [
    ("binance", "", "not JSON"),
    ("binance", '{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL"', "not JSON"),
    ("binance", '{"e":"forceOrder","E":1}', "field 'o' is missing"),
    ("binance", '{"e":"trade","E":1}', "not a forceOrder event"),
    ("binance", BINANCE_DOC.replace('"T":1568014460893', '"T":1568014460'), "not epoch milliseconds"),
    ("binance", BINANCE_DOC.replace('"ap":"9910"', '"ap":"abc"'), "'ap' is 'abc', not a number"),
    ("binance", BINANCE_DOC.replace('"s":"BTCUSDT"', '"s":"../x"'), "not a ticker"),
    ("binance", "[1, 2]", "not a forceOrder event (and 1 more bad items)"),
    ("bybit", "[]", "not a JSON object"),
    ("bybit", '{"topic":"orderbook.1.BTCUSDT","data":[]}', "is not allLiquidation"),
    ("bybit", '{"topic":"allLiquidation.BTCUSDT","data":{}}', "'data' is missing or not a list"),
    ("bybit", bybit_frame([{**GOOD_BYBIT_ITEM, "S": "Hold"}]), "not Buy or Sell"),
    ("bybit", bybit_frame([{**GOOD_BYBIT_ITEM, "v": "-1"}]), "not a positive number"),
    ("bybit", bybit_frame([{**GOOD_BYBIT_ITEM, "p": {"x": 1}}]), "'p' is dict"),
    ("bybit", bybit_frame([{k: v for k, v in GOOD_BYBIT_ITEM.items() if k != "T"}]), "'T' is missing"),
    ("okx", "ping pong", "not JSON"),
    ("okx", '{"arg":{"channel":"tickers"},"data":[]}', "liquidation-orders"),
    ("okx", okx_frame(("BTC-USDT-SWAP", [okx_detail("long", "sell", "1", "1", "x")])), "not epoch milliseconds"),
    ("okx", '{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"BTC-USDT-SWAP"}]}', "'details' is missing"),
    ("okx", okx_frame(("BTC-USDT-SWAP", [okx_detail("?", "?", "1", "1", "1692266434010")])), "'posSide' is '?'"),
    ("kraken", "{}", "unknown venue"),
]  # fmt: skip


@pytest.mark.parametrize(("venue", "text", "expected"), BAD_FRAMES)
def test_bad_frames_are_malformed_with_one_line(venue, text, expected):
    frame = parse_frame(venue, text, None)
    assert frame.kind == "malformed"
    assert expected in frame.problem
    assert "\n" not in frame.problem and len(frame.problem) < 300
    assert frame.liquidations == []


def test_a_bad_item_does_not_lose_the_good_ones():
    items = [
        GOOD_BYBIT_ITEM,
        {**GOOD_BYBIT_ITEM, "p": "x"},
        {**GOOD_BYBIT_ITEM, "T": 1739502302930},
    ]
    frame = parse_frame("bybit", bybit_frame(items), None)
    assert (frame.kind, len(frame.liquidations)) == ("malformed", 2)
    assert frame.problem == "item 1: field 'p' is 'x', not a number"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["e", "o", "s", "S", "T", "p", "ap", "z", "q", "l", "v", "topic", "data", "arg",
         "details", "instId", "sz", "bkPx", "ts", "posSide", "side", "op", "event", "stream"]),
        inner, max_size=6),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    venue=st.sampled_from(["binance", "bybit", "okx"]), value=json_values, junk=st.text(max_size=40)
)
def test_parse_frame_never_raises(venue, value, junk):
    for text in (json.dumps(value), junk):
        frame = parse_frame(venue, text, None)
        assert frame.kind in ("data", "control", "malformed")
        if frame.kind == "malformed":
            assert frame.problem and "\n" not in frame.problem
        if frame.kind == "data":
            assert frame.problem is None


# -- the frame for the lake ------------------------------------------------------------------


def test_liquidations_frame_merges_into_the_lake_once(lake):
    text = bybit_frame([GOOD_BYBIT_ITEM, {**GOOD_BYBIT_ITEM, "S": "Sell", "T": 1739502302999}])
    items = parse_frame("bybit", text, None).liquidations
    frame = liquidations_frame(items, 1739502303204123, "stream")
    assert list(frame.columns) == ["symbol", *REALISED_LIQUIDATION_SCHEMA.names]
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    assert frame["received_at"].iloc[0] == pd.Timestamp(1739502303204123, unit="us", tz="UTC")
    rows = frame.drop(columns="symbol")
    assert merge_realised(lake, "bybit", "BTCUSDT", rows, "test") == {date(2025, 2, 14): 2}
    assert merge_realised(lake, "bybit", "BTCUSDT", rows, "test") == {date(2025, 2, 14): 0}
    stored = read_realised(lake, "bybit", "BTCUSDT", date(2025, 2, 14), date(2025, 2, 14))
    assert sorted(stored["side"]) == ["long", "short"]
    assert set(stored["liq_id"]) == {x.liq_id for x in items}


def test_liquidations_frame_archive_rows_and_empty():
    liq = binance_liquidation(json.loads(BINANCE_DOC)["o"], "csv,line")
    frame = liquidations_frame([liq], None, "archive")
    assert frame["received_at"].isna().all() and frame["source"].tolist() == ["archive"]
    empty = liquidations_frame([], None, "stream")
    assert empty.empty and list(empty.columns) == list(frame.columns)


def test_okx_symbols_without_a_contract_value_are_named():
    assert symbols_without_contract_value(["BTCUSDT", "IOSTUSDT", "ETHUSDT"]) == ["IOSTUSDT"]
