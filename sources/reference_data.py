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
from transforms.venue_margin import MarginRules, Venue, check_venue_brackets

SHIPPED = Path(__file__).resolve().parents[1] / "data"
FALLBACK_BRACKET_SYMBOL = "BTCUSDT"


class ReferenceDataError(ValueError):
    """A reference file (brackets, tier weights) cannot be used; the message names it."""


def _search_dirs() -> list[Path]:
    extra = os.environ.get("LIQBRIEF_REFERENCE_DIR")
    if extra and not Path(extra).is_dir():
        raise ReferenceDataError(
            f"LIQBRIEF_REFERENCE_DIR={extra!r} is not a directory; point it at a folder holding "
            "maintenance_brackets/<SYMBOL>.csv or leverage_tiers.json, or unset it"
        )
    return ([Path(extra)] if extra else []) + [SHIPPED]


def _read(path: Path, parse):
    """Parse a reference file; any problem names the file and what to do."""
    try:
        return parse(path)
    except (ValueError, KeyError, TypeError, pd.errors.ParserError) as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise ReferenceDataError(
            f"{path}: {detail}; fix the file (README, The model) or remove it to use the shipped one"
        ) from None


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
                return _read(path, lambda p: check_brackets(pd.read_csv(p))), label
    raise FileNotFoundError(
        f"no maintenance brackets for {symbol} in {', '.join(map(str, _search_dirs()))}/maintenance_brackets/"
    )


def load_margin_rules(symbol: str, venue: Venue = "binance") -> tuple[MarginRules, str]:
    """A venue's dated tier table for a symbol, and the file it came from: Binance's brackets
    (load_brackets), Bybit's risk limits or OKX's position tiers from
    ``maintenance_brackets/<venue>/<SYMBOL>.csv`` (same columns; OKX's bounds count contracts
    of ``contract_value`` base units). A symbol without its own file uses BTCUSDT's table."""
    if venue == "binance":
        brackets, label = load_brackets(symbol)
        return MarginRules("binance", brackets), label
    validate_symbol(symbol)
    for name in (symbol, FALLBACK_BRACKET_SYMBOL):
        for directory in _search_dirs():
            path = directory / "maintenance_brackets" / venue / f"{name}.csv"
            if path.exists():
                table = _read(path, lambda p: check_venue_brackets(pd.read_csv(p), venue))
                fallback = "" if name == symbol else f" (fallback for {symbol})"
                return _rules(venue, table, path), f"{venue}/{name}.csv{fallback}"
    raise FileNotFoundError(
        f"no {venue} tiers for {symbol} in "
        f"{', '.join(map(str, _search_dirs()))}/maintenance_brackets/{venue}/"
    )


def _rules(venue: Venue, table: pd.DataFrame, path: Path) -> MarginRules:
    if venue != "okx":
        return MarginRules(venue, table)
    values = table.get("contract_value", pd.Series(dtype=float)).dropna().unique()
    if len(values) != 1 or not values[0] > 0:
        raise ReferenceDataError(
            f"{path}: OKX tiers need one positive contract_value (ctVal, base units per "
            "contract); fix the file (README, The model)"
        )
    return MarginRules(venue, table, "contracts", float(values[0]))


def load_tier_mix() -> TierMix:
    for directory in _search_dirs():
        path = directory / "leverage_tiers.json"
        if path.exists():
            return _read(path, lambda p: TierMix.from_json(p.read_bytes()))
    return TierMix()
