"""The liquidation-map model as a straightforward per-bar Python loop: the reference.

Written from shared/design/liquidation-model.md alone, the obvious way, and on purpose
sharing no code with transforms/liqmap (no input builders, grid or price functions of the
engine), so that a mistake in the engine shows up as a difference: walk the 5-minute
open-interest readings, keep a list of live cohorts, kill, shrink, open, and snapshot at
each date. Tested against the engine in tests/transforms/test_liqmap_engine.py and timed
against it in bench/liqmap.py. Snapshots fall on 5-minute bar ends (00:00 UTC); a snapshot
at T sees the readings before T and every mark minute before T.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd

DAY_US = 86_400 * 1_000_000
BAR_US = 300 * 1_000_000
WINDOW_DAYS = {"1d": 1, "7d": 7, "30d": 30}
BTC_BIN = 100.0  # design note step 9: BTC $100 bins


def _micros(column: pd.Series) -> list[int]:
    return [int(ts.value // 1_000) for ts in pd.to_datetime(column, utc=True)]


def _readings(metrics: pd.DataFrame) -> list[tuple[int, float]]:
    """(time, contracts) per 5-minute open-interest reading, first of duplicates kept."""
    seen: dict[int, float] = {}
    for t, c in zip(_micros(metrics["create_time"]), metrics["sum_open_interest"], strict=True):
        seen.setdefault(t, float(c))
    return sorted(seen.items())


def _klines_by_open(klines: pd.DataFrame) -> dict[int, dict]:
    rows: dict[int, dict] = {}
    for t, row in zip(_micros(klines["open_time"]), klines.to_dict("records"), strict=True):
        rows.setdefault(t, row)
    return rows


def _entry(kline: dict | None, use_close: bool) -> tuple[float, float]:
    """(entry price, taker-buy share) from the kline of the bar; NaN entry if unknown."""
    if kline is None:
        return math.nan, 0.5
    quote, volume = float(kline["quote_volume"]), float(kline["volume"])
    share = float(kline["taker_buy_quote_volume"]) / quote if quote > 0 else 0.5
    if use_close:
        return float(kline["close"]), share
    return (quote / volume if volume > 0 else math.nan), share


def _bracket(brackets: pd.DataFrame, on: date, notional: float) -> tuple[float, float]:
    """(mmr, cum) of the snapshot effective on ``on`` for a position of ``notional``."""
    days = pd.to_datetime(brackets["effective_from"]).dt.date
    latest = max(d for d in days if d <= on)
    for row in brackets[days == latest].to_dict("records"):
        if row["notional_floor"] <= notional < row["notional_cap"]:
            return float(row["mmr"]), float(row["cum"])
    raise ValueError(f"no bracket for {notional} on {on}")


def _liq_price(
    is_long: bool, e: float, lev: float, mmr: float, cum: float, n: float, formula: str
) -> float:
    """Design note step 5, literally."""
    if formula == "naive":
        return e * (1 - 1 / lev) if is_long else e * (1 + 1 / lev)
    if formula == "linear":
        return e * (1 - 1 / lev - cum / n + mmr) if is_long else e * (1 + 1 / lev + cum / n - mmr)
    if is_long:
        return e * (1 - 1 / lev - cum / n) / (1 - mmr)
    return e * (1 + 1 / lev + cum / n) / (1 + mmr)


def _bin_size(symbol: str, p0: float, configured: float | None) -> float:
    """Configured, else BTC's $100, else 0.1 % of the snapshot's own P0 rounded up to 1/2/5·10^k."""
    if configured:
        return configured
    if symbol == "BTCUSDT":
        return BTC_BIN
    raw = p0 / 1000
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _weights(config, share: float, is_long: bool, tier: int) -> float:
    """Step 3: the aggressor side takes the aggressive mix, blended by |share − ½|."""
    aggressive = config.tiers.aggressive.get(tier, 0.0)
    passive = config.tiers.passive.get(tier, 0.0)
    if not config.both_sides:
        return aggressive if (share >= 0.5) == is_long else 0.0
    tilt = 2 * share - 1
    mid, half_gap = (aggressive + passive) / 2, (aggressive - passive) / 2
    return mid + tilt * half_gap if is_long else mid - tilt * half_gap


def reference_maps(
    metrics: pd.DataFrame,
    klines_5m: pd.DataFrame,
    mark_1m: pd.DataFrame,
    brackets: pd.DataFrame,
    dates: list[date],
    config,
    symbol: str,
) -> tuple[dict, dict]:
    """Return ({(date, window): {(bin_lo, side, tier): usd}}, {date: (long_usd, short_usd)})."""
    readings = _readings(metrics)
    klines = _klines_by_open(klines_5m)
    minutes = sorted(
        zip(_micros(mark_1m["open_time"]), mark_1m["low"], mark_1m["high"], mark_1m["close"],
            strict=True)
    )  # fmt: skip
    snapshot_at = {
        int(pd.Timestamp(d, tz="UTC").value // 1_000)
        + config.snapshot_offset_minutes * 60_000_000: d
        for d in dates
    }
    alive: list[dict] = []  # each: birth_t, long, tier, contracts, entry, lp
    liquidations: list[tuple[int, bool, float, int]] = []  # (bar end, long?, usd, birth)
    grids: dict = {}
    liquidated_by_day: dict = {}
    m, last_close = 0, math.nan
    for j, (t_j, contracts_now) in enumerate(readings):
        # 1. the minutes before this reading: liquidations (every live cohort is older)
        low, high = math.inf, -math.inf
        while m < len(minutes) and minutes[m][0] < t_j:
            low, high, last_close = min(low, minutes[m][1]), max(high, minutes[m][2]), minutes[m][3]
            m += 1
        alive, killed = _liquidate(alive, low, high, t_j, liquidations)
        # 2. a snapshot at this reading's time sees the minutes before it, not the reading
        if t_j in snapshot_at:
            day = snapshot_at[t_j]
            _snapshot(grids, alive, day, t_j, last_close, config, symbol)
            liquidated_by_day[day] = tuple(
                sum(
                    usd
                    for t, lng, usd, born in liquidations
                    if t_j - DAY_US < t <= t_j and lng == side and born >= t_j - 30 * DAY_US
                )
                for side in (True, False)  # cohorts born in the 30 days before the snapshot
            )
        if j == 0 or t_j - readings[j - 1][0] != BAR_US:
            continue  # no change of open interest across a gap
        d_contracts = contracts_now - readings[j - 1][1]
        if config.shrink_on_oi_decrease and d_contracts < 0:
            _shrink(alive, d_contracts, readings[j - 1][1], killed)
        entry, share = _entry(klines.get(t_j - BAR_US), config.entry == "close")
        if d_contracts > 0 and math.isfinite(entry):
            alive += _open(t_j, d_contracts, entry, share, brackets, config)
    return grids, liquidated_by_day


def _liquidate(
    alive: list[dict], low: float, high: float, t: int, liquidations: list
) -> tuple[list[dict], dict[bool, float]]:
    """Step 6: the survivors, and the contracts liquidated per side (True = long)."""
    killed = {True: 0.0, False: 0.0}
    survivors = []
    for c in alive:
        if (low <= c["lp"]) if c["long"] else (high >= c["lp"]):
            killed[c["long"]] += c["contracts"]
            liquidations.append((t, c["long"], c["contracts"] * c["entry"], c["birth_t"]))
        else:
            survivors.append(c)
    return survivors, killed


def _shrink(alive: list[dict], d_contracts: float, held: float, killed: dict) -> None:
    """Step 7: V = max(0, −dC − K) closed voluntarily; a side's survivors keep 1 − V/(C − K)."""
    for side in (True, False):
        voluntary = max(0.0, -d_contracts - killed[side])
        if voluntary <= 0:
            continue
        remaining = held - killed[side]
        ratio = max(1 - voluntary / remaining if remaining > 0 else 0.0, 1e-12)
        for c in alive:
            if c["long"] == side:
                c["contracts"] *= ratio


def _open(t: int, d_contracts: float, entry: float, share: float, brackets, config) -> list[dict]:
    """Steps 3–5: a long and a short cohort per tier, dC contracts split by the mixes."""
    mmr, cum = _bracket(brackets, pd.Timestamp(t, unit="us").date(), config.position_notional)
    cohorts = []
    for is_long in (True, False):
        for tier in sorted(set(config.tiers.aggressive) | set(config.tiers.passive)):
            size = d_contracts * _weights(config, share, is_long, tier)
            if size > 0:
                lp = _liq_price(
                    is_long, entry, tier, mmr, cum, config.position_notional, config.formula
                )
                cohorts.append({"birth_t": t, "long": is_long, "tier": tier,
                                "contracts": size, "entry": entry, "lp": lp})  # fmt: skip
    return cohorts


def _snapshot(grids: dict, alive: list[dict], day, t: int, p0: float, config, symbol) -> None:
    """Bin the live cohorts of each window on the grid of the snapshot's own P0."""
    bin_size = _bin_size(symbol, p0, config.bin_size)
    lo_bin = math.floor(p0 * (1 - config.range_pct) / bin_size)
    hi_bin = math.floor(p0 * (1 + config.range_pct) / bin_size)
    for window, days in WINDOW_DAYS.items():
        grid: dict = {}
        for c in alive:
            if c["birth_t"] < t - days * DAY_US:
                continue
            b = math.floor(c["lp"] / bin_size)
            if lo_bin <= b <= hi_bin:
                key = (b * bin_size, "long" if c["long"] else "short", c["tier"])
                grid[key] = grid.get(key, 0.0) + c["contracts"] * c["entry"]
        grids[(day, window)] = grid
