"""The market-wide part of a symbol's briefing (Coinglass, optional): the records line, the
market-table rows, the map comparison and what the methods box says about coverage.

Pure. Without a key there is no market-wide data and every place says "Binance only"; with
one, the share of open interest the map covers is the measured one (never a constant), and a
series Coinglass did not give is named with the reason, one line per reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from reports.formatting import base_asset, number, pct, price, usd
from reports.tables import Table
from transforms.context.coinglass_map import DISTANCES_PCT, cumulative_table, reference_price

BINANCE_ONLY = "Binance only; set COINGLASS_API_KEY for all-market figures."
ALL_MARKET, BINANCE = "all-market", "binance"
SERIES_LABELS = {
    "oi_aggregated_1d": "all-market open interest (daily)",
    "oi_aggregated_4h": "all-market open interest (4-hourly)",
    "liquidations_binance_1d": "Binance realised liquidations (daily)",
    "liquidations_binance_4h": "Binance realised liquidations (4-hourly)",
    "liquidations_all_1d": "all-market realised liquidations (daily)",
    "liquidations_all_4h": "all-market realised liquidations (4-hourly)",
    "funding_oi_weighted_1d": "OI-weighted funding (daily)",
    "oi_exchange_list": "open interest by exchange",
    "liquidations_exchange_list": "liquidations by exchange (24 h)",
    "liquidation_map:aggregated": "liquidation map (all exchanges)",
    "liquidation_map:binance": "liquidation map (Binance pair)",
}
OUTCOME_REASONS = {
    "unavailable": "not in the API plan",
    "bad-key": "the API key was refused",
    "failed": "the fetch failed",
}
TOP_EXCHANGES = 6


@dataclass
class CoinglassSnapshots:
    """The lake's Coinglass snapshots of the briefing date for one coin (empty without a key)."""

    status: pd.DataFrame = field(default_factory=pd.DataFrame)  # of the fetch on fetched_on
    oi_exchanges: pd.DataFrame = field(default_factory=pd.DataFrame)
    liquidation_map: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the fetch whose outcomes ``status`` holds: the briefing date's own, or the run's that
    # backfilled it (the snapshots are always the date's own, or empty)
    fetched_on: date | None = None


def _finite(value) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def has_market_wide(market: dict | None, records: dict[tuple[str, str], dict]) -> bool:
    """Whether the lake holds any market-wide figure for the date."""
    in_market = market is not None and _finite(market.get("all_market_oi_usd", math.nan))
    return in_market or any(venue == ALL_MARKET for venue, _ in records)


def _oi_sentence(symbol: str, row: dict, share_pct: float) -> str:
    coin = base_asset(symbol)
    share = (
        f" (Binance {symbol} {share_pct:.1f} % — the book mapped here)"
        if _finite(share_pct)
        else ""
    )
    head = f"All-market {coin} open interest {usd(row['value'])}{share}"
    if row["rank"] == 1:
        return f"{head}, at a record."
    below = 100 - row["pct_of_record"]
    return f"{head}, {below:.0f} % below its record {usd(row['all_time_max'])} of {_day(row['all_time_date'])}."


def _realised_sentence(all_market: dict | None, binance: dict | None) -> str | None:
    lead = all_market if all_market and _finite(all_market["value"]) else None
    if lead is None:
        if not binance or not _finite(binance["value"]):
            return None
        lead, scope = binance, "Realised Binance liquidations"
    else:
        scope = "Realised liquidations"
    text = f"{scope} yesterday {usd(lead['value'])}"
    if lead is all_market and binance and _finite(binance["value"]):
        text += f" (Binance {usd(binance['value'])})"
    if lead["rank"] == 1:
        return text + ", the largest day on record."
    if lead["all_time_date"]:
        text += f"; the largest day on record {usd(lead['all_time_max'])} on {_day(lead['all_time_date'])}"
    return text + "."


def _binance_only(status: pd.DataFrame) -> str:
    """Why the figures are Binance's alone: no key, or what Coinglass answered."""
    if status.empty:
        return BINANCE_ONLY
    bad = status[status["outcome"] != "ok"]
    if bad.empty:  # fetched, but no bar covers this date (before the history Coinglass gave)
        return "Binance only — Coinglass gave no all-market figures for this date."
    wanted = bad[bad["series"] == "oi_aggregated_1d"]
    outcome = (wanted if len(wanted) else bad)["outcome"].iloc[0]
    return f"Binance only — no Coinglass all-market figures: {OUTCOME_REASONS.get(outcome, outcome)} (see Methods)."


def records_line(
    symbol: str,
    records: dict[tuple[str, str], dict],
    market: dict | None,
    binance_line: str | None,
    status: pd.DataFrame,
) -> str | None:
    """Page 1's records line: the all-market open interest and realised liquidations with
    their records; without them, the Binance line said to be Binance only, and why."""
    share = market.get("binance_oi_share_pct", math.nan) if market else math.nan
    oi = records.get((ALL_MARKET, "oi_usd"))
    sentences = []
    if oi and _finite(oi["value"]) and oi["all_time_date"]:
        sentences.append(_oi_sentence(symbol, oi, share))
    realised = _realised_sentence(
        records.get((ALL_MARKET, "realised_liquidated_usd")),
        records.get((BINANCE, "realised_liquidated_usd")),
    )
    if realised:
        sentences.append(realised)
    if sentences:
        return " ".join(sentences)
    return " ".join(s for s in (_binance_only(status), binance_line) if s)


def market_rows(market: dict) -> list[list[str]]:
    """Rows for the market-context table when Coinglass figures exist (else none)."""
    columns = (
        "all_market_oi_usd",
        "all_market_liq_usd",
        "realised_liq_usd",
        "oi_weighted_funding_pct",
    )
    if not any(_finite(market.get(c, math.nan)) for c in columns):
        return []
    funding = market.get("oi_weighted_funding_pct", math.nan)
    return [
        ["All-market open interest", usd(market.get("all_market_oi_usd")), "Binance share of it", pct(market.get("binance_oi_share_pct"), 1, signed=False)],
        ["Realised liq., yesterday (all market)", usd(market.get("all_market_liq_usd")), "Realised liq., yesterday (Binance)", usd(market.get("realised_liq_usd"))],
        ["OI-weighted funding (all market)", f"{number(funding, 4)} %" if _finite(funding) else "—", "", ""],
    ]  # fmt: skip


def _joined(labels: list[str]) -> str:
    """ "all-market open interest (daily, 4-hourly), …": labels of one kind share a name."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        name, _, detail = label.partition(" (")
        groups.setdefault(name, []).append(detail.rstrip(")"))
    return ", ".join(
        f"{name} ({', '.join(d for d in details if d)})" if any(details) else name
        for name, details in groups.items()
    )


def _status_lines(coin: str, status: pd.DataFrame) -> list[str]:
    """What the run had from Coinglass, then one line per reason it lacked something."""
    if status.empty:
        return []
    order = list(SERIES_LABELS)
    status = status.assign(
        order=[order.index(s) if s in order else len(order) for s in status["series"]]
    ).sort_values(["order", "series"])
    label = {s: SERIES_LABELS.get(s, s) for s in status["series"]}
    ok = status[status["outcome"] == "ok"]
    lines = []
    if len(ok):
        had = _joined([label[s] for s in ok["series"]])
        lines.append(f"{coin}: Coinglass data this run had: {had}.")
    for outcome, group in status[status["outcome"] != "ok"].groupby("outcome", sort=True):
        messages = [m for m in group["message"] if m and not str(m).startswith("skipped")]
        why = OUTCOME_REASONS.get(outcome, outcome)
        detail = f" — {messages[0]}" if messages else ""
        every = len(group) == len(status)
        names = "data" if every else _joined([label[s] for s in group["series"]])
        lines.append(f"{coin}: no Coinglass {names}: {why}{detail}.")
    return lines


def exchange_share_line(coin: str, exchanges: pd.DataFrame) -> str | None:
    """Coinglass's live exchange list, measured at its fetch time: each exchange's share."""
    if exchanges.empty:
        return None
    rows = exchanges.set_index("exchange")["open_interest_usd"]
    total = rows.get("All", rows.drop("All", errors="ignore").sum())
    if not _finite(total) or total <= 0:
        return None
    top = rows.drop("All", errors="ignore").sort_values(ascending=False).head(TOP_EXCHANGES)
    shares = [
        f"{name}{f' (all {coin} futures)' if name == 'Binance' else ''} {value / total * 100:.1f} %"
        for name, value in top.items()
    ]
    at = pd.Timestamp(exchanges["fetched_at"].iloc[0]).tz_convert("UTC")
    return (
        f"{coin}: Coinglass exchange list at {at:%d %b %Y %H:%M} UTC ({usd(total)} in all): "
        + ", ".join(shares)
        + "."
    )


def coverage_lines(
    symbol: str, snaps: CoinglassSnapshots, market: dict | None, records: dict, day: date
) -> list[str]:
    """The methods box's lines on what market-wide data the date has, and why not."""
    coin = base_asset(symbol)
    wide = has_market_wide(market, records)
    lines = _status_lines(coin, snaps.status)
    if not wide and snaps.status.empty:
        return [f"{coin}: {BINANCE_ONLY}"]
    if not wide and (snaps.status["outcome"] == "ok").any():  # else the reason says it all
        lines.insert(0, f"{coin}: Binance only — no all-market figures for {day:%d %b %Y}.")
    share = market.get("binance_oi_share_pct", math.nan) if market else math.nan
    if _finite(share):
        lines.insert(
            0,
            f"{coin}: Binance {symbol}, the book mapped here, held {share:.1f} % of all-market "
            f"{coin} open interest at 00:00 UTC {day:%d %b %Y} (Coinglass aggregated open interest).",
        )
    exchanges = exchange_share_line(coin, snaps.oi_exchanges)
    if exchanges:
        lines.append(exchanges)
    if snaps.status.empty or snaps.fetched_on != day:
        lines.append(
            f"{coin}: no Coinglass fetch on {day:%d %b %Y}: its live snapshots (exchange list, "
            "liquidation map) exist only for the days they were taken."
        )
    elif snaps.liquidation_map.empty and not any(
        str(s).startswith("liquidation_map") for s in snaps.status["series"]
    ):
        lines.append(f"{coin}: the Coinglass liquidation map was not fetched on {day:%d %b %Y}.")
    return lines


def _map_rows(snaps: CoinglassSnapshots) -> tuple[pd.DataFrame, str]:
    """The Coinglass map to compare with ours: the Binance pair's (the same book) if stored,
    else the all-exchange one."""
    frame = snaps.liquidation_map
    for scope, label in (("binance", "Binance pair"), ("aggregated", "all exchanges")):
        rows = frame[frame["scope"] == scope] if len(frame) else frame
        if len(rows):
            return rows, label
    return frame, ""


def map_comparison(summary: dict, snaps: CoinglassSnapshots) -> tuple[Table | None, str]:
    """Our cumulative longs/shorts at ±2/3/5 % (7d cohorts) beside Coinglass's, and the
    ratio; None when no Coinglass map was stored for the date. Both are estimates."""
    rows, scope = _map_rows(snaps)
    if rows.empty:
        return None, ""
    p_cg = reference_price(rows, summary["p0"])
    theirs = cumulative_table(rows, p_cg)
    keys = [f"cum_{side}_{x}pct" for side in ("long", "short") for x in DISTANCES_PCT]

    def ratio(key: str) -> str:
        ours, other = summary[key], theirs[key]
        return f"{ours / other:.2f}×" if _finite(ours) and other > 0 else "—"

    header = [
        "Estimated, USD",
        *[f"Longs −{x} %" for x in DISTANCES_PCT],
        *[f"Shorts +{x} %" for x in DISTANCES_PCT],
    ]
    table = Table(
        header,
        [
            ["liqbrief (7d cohorts)", *[usd(summary[k]) for k in keys]],
            [f"Coinglass ({scope}, {rows['range'].iloc[0]})", *[usd(theirs[k]) for k in keys]],
            ["Ratio liqbrief / Coinglass", *[ratio(k) for k in keys]],
        ],
    )  # fmt: skip
    at = pd.Timestamp(rows["fetched_at"].iloc[0]).tz_convert("UTC")
    note = (
        f"Coinglass's map fetched {at:%d %b %H:%M} UTC, summed around its price {price(p_cg)}; "
        f"ours at 00:00 UTC around mark {price(summary['p0'])}. Both are model estimates."
    )
    return table, note
