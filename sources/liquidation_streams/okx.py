"""OKX public ``liquidation-orders`` (instType SWAP) pushes → liquidations.

Documented push (okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-channel)::

    {"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0",
     "bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"}],
     "instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}

A frame may hold several instruments and each instrument several ``details``: every detail
is a liquidation (ccxt keeps only ``details[0]``; this keeps all). ``posSide`` is the
position liquidated (fallback without it: order ``side`` sell => long). ``bkPx`` is the
bankruptcy price; ``sz`` is in contracts, times the instrument's ``ctVal`` from
data/okx_contract_values.json gives base units. Instruments not in that file are skipped.
The subscription covers the whole SWAP market: symbols are filtered here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from sources.liquidation_streams.model import (
    FrameError,
    Liquidation,
    ParsedFrame,
    compact_json,
    epoch_ms_to_us,
    field,
    frame_verdict,
    positive,
    wanted,
)
from store.realised import liquidation_id

CONTRACT_VALUES_FILE = Path(__file__).resolve().parents[2] / "data" / "okx_contract_values.json"
POSITION_SIDE = {"long": "long", "short": "short"}
ORDER_SIDE_TO_POSITION = {"sell": "long", "buy": "short"}


@lru_cache(maxsize=1)
def contract_values() -> dict[str, Decimal]:
    """instId → ctVal (base units per contract) of the USDT-margined swaps shipped in data/."""
    table = json.loads(CONTRACT_VALUES_FILE.read_text())
    return {inst: Decimal(value) for inst, value in table.items() if not inst.startswith("_")}


def okx_symbol(inst_id: str) -> str:
    """OKX's instrument id as the project's ticker: "BTC-USDT-SWAP" -> "BTCUSDT"."""
    return inst_id.removesuffix("-SWAP").replace("-", "")


def symbols_without_contract_value(symbols: list[str]) -> list[str]:
    """The tickers OKX liquidations cannot be recorded for (no ctVal shipped), to warn about."""
    known = {okx_symbol(inst) for inst in contract_values()}
    return [symbol for symbol in symbols if symbol not in known]


def _position_side(detail: Mapping[str, object]) -> str:
    pos_side = detail.get("posSide")
    if pos_side in POSITION_SIDE:
        return POSITION_SIDE[str(pos_side)]
    side_text = field(detail, "side")
    if side_text not in ORDER_SIDE_TO_POSITION:
        raise FrameError(f"field 'posSide' is {pos_side!r} and 'side' is {side_text!r}")
    return ORDER_SIDE_TO_POSITION[side_text]


def okx_liquidation(
    item: Mapping[str, object], detail: Mapping[str, object], ct_val: Decimal
) -> Liquidation:
    """One detail of one instrument's item; ``FrameError`` naming the bad field."""
    inst_id = field(item, "instId")
    side = _position_side(detail)
    time_text = field(detail, "ts")
    time_us = epoch_ms_to_us(time_text, "ts")
    price_text, size_text = field(detail, "bkPx"), field(detail, "sz")
    price = positive(price_text, "bkPx")
    positive(size_text, "sz")
    quantity = float(Decimal(size_text) * ct_val)
    own_fields = [inst_id, time_text, str(detail.get("side", "")), str(detail.get("posSide", ""))]
    return Liquidation(
        symbol=okx_symbol(inst_id), time_us=time_us, side=side, price=price, quantity=quantity,
        notional_usd=price * quantity, raw=compact_json({**item, "details": [detail]}),
        liq_id=liquidation_id("okx", [*own_fields, price_text, size_text]),
    )  # fmt: skip


def _item_liquidations(
    item: object, symbols: set[str] | None, problems: list[str], where: str
) -> tuple[list[Liquidation], int]:
    """An instrument's details as liquidations, and how many were skipped (symbol)."""
    if not isinstance(item, dict):
        problems.append(f"{where}: not an object")
        return [], 0
    details = item.get("details")
    if not isinstance(details, list):
        problems.append(f"{where}: field 'details' is missing or not a list")
        return [], 0
    inst_id = item.get("instId")
    ct_val = contract_values().get(inst_id) if isinstance(inst_id, str) else None
    if ct_val is None or not wanted(okx_symbol(inst_id), symbols):
        return [], len(details)
    found = []
    for n, detail in enumerate(details):
        try:
            if not isinstance(detail, dict):
                raise FrameError("not an object")
            found.append(okx_liquidation(item, detail, ct_val))
        except FrameError as exc:
            problems.append(f"{where} detail {n}: {exc}")
    return found, 0


def parse_okx(payload: object, symbols: set[str] | None) -> ParsedFrame:
    """A decoded OKX frame → its liquidations; ``FrameError`` if it is not a push."""
    if not isinstance(payload, dict):
        raise FrameError("not a JSON object")
    if "event" in payload:
        problem = None
        if payload["event"] == "error":
            problem = f"request refused: {payload.get('code', '')} {payload.get('msg', '')}".strip()
        return ParsedFrame([], 0, "control", problem)
    arg = payload.get("arg")
    if not isinstance(arg, dict) or arg.get("channel") != "liquidation-orders":
        raise FrameError("field 'arg' does not name the liquidation-orders channel")
    items = payload.get("data")
    if not isinstance(items, list):
        raise FrameError("field 'data' is missing or not a list")
    found: list[Liquidation] = []
    skipped = 0
    problems: list[str] = []
    for n, item in enumerate(items):
        liquidations, skipped_here = _item_liquidations(item, symbols, problems, f"item {n}")
        found.extend(liquidations)
        skipped += skipped_here
    return frame_verdict(found, skipped, problems)
