"""Reference data shipped with liqbrief (and extendable by users): maintenance brackets
and leverage-tier weights. Files live in ``data/``; ``LIQBRIEF_REFERENCE_DIR`` adds a
directory of the same layout whose files take precedence."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from liqbrief.symbols import validate_symbol
from transforms.liqmap.config import TierMix
from transforms.liquidation_price import check_brackets

SHIPPED = Path(__file__).resolve().parents[1] / "data"
FALLBACK_BRACKET_SYMBOL = "BTCUSDT"


def _search_dirs() -> list[Path]:
    extra = os.environ.get("LIQBRIEF_REFERENCE_DIR")
    return ([Path(extra)] if extra else []) + [SHIPPED]


def load_brackets(symbol: str) -> tuple[pd.DataFrame, str]:
    """Dated maintenance-bracket snapshots for a symbol, and which file they came from.

    A symbol without its own file uses BTCUSDT's table; the returned label says so, and
    the map's summary carries it, because its liquidation prices are then approximate.
    """
    validate_symbol(symbol)
    for name in (symbol, FALLBACK_BRACKET_SYMBOL):
        for directory in _search_dirs():
            path = directory / "maintenance_brackets" / f"{name}.csv"
            if path.exists():
                label = f"{name}.csv" if name == symbol else f"{name}.csv (fallback for {symbol})"
                return check_brackets(pd.read_csv(path)), label
    raise FileNotFoundError(
        f"no maintenance brackets for {symbol} in {', '.join(map(str, _search_dirs()))}/maintenance_brackets/"
    )


def load_tier_mix() -> TierMix:
    for directory in _search_dirs():
        path = directory / "leverage_tiers.json"
        if path.exists():
            return TierMix.from_json(path.read_bytes())
    return TierMix()
