"""The exchanges' public liquidation streams (Binance forceOrder, Bybit allLiquidation, OKX
liquidation-orders): reading their messages (``parse_frame``, ``binance_liquidation``,
``liquidations_frame``) and staying connected to them (``stream_venue``)."""

from sources.liquidation_streams.binance import binance_liquidation
from sources.liquidation_streams.connection import Backoff, StreamSink, stream_venue
from sources.liquidation_streams.model import (
    VENUES,
    FrameError,
    Liquidation,
    ParsedFrame,
    liquidations_frame,
)
from sources.liquidation_streams.okx import symbols_without_contract_value
from sources.liquidation_streams.parse import parse_frame

__all__ = [
    "VENUES",
    "Backoff",
    "FrameError",
    "Liquidation",
    "ParsedFrame",
    "StreamSink",
    "binance_liquidation",
    "liquidations_frame",
    "parse_frame",
    "stream_venue",
    "symbols_without_contract_value",
]
