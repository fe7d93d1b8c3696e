"""How far back each venue's REST API serves a series, in words: the coverage warnings of
an extract and the advice of a missing map say it (no ccxt import, so the map commands
that only read the lake stay quick to start)."""

from __future__ import annotations

DEPTH_HINTS = {
    ("binance", "metrics"): "Binance REST serves open interest for the last 30 days only",
    ("okx", "metrics"): "OKX serves only its latest ~1,440 open-interest points; history "
    "accumulates from the first daily run",
    ("okx", "funding_rate"): "OKX serves about three months of funding",
}
