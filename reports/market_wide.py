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
    # the first stored 1d bar date per series: where the market-wide records start
    history_start: dict[str, date] = field(default_factory=dict)
    # the exchanges the stored all-market liquidation bar of D-1 sums
    liquidation_exchanges: list[str] = field(default_factory=list)


def _finite(value) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def has_market_wide(market: dict | None, records: dict[tuple[str, str], dict]) -> bool:
    """Whether the lake holds any market-wide figure for the date."""
    in_market = market is not None and _finite(market.get("all_market_oi_usd", math.nan))
    return in_market or any(venue == ALL_MARKET for venue, _ in records)


def _since(start: date | None) -> str:
    """ " since 17 Aug 2022 (Coinglass history)": where a market-wide record's history starts
    (a plan's history depth can cut "all time" short); empty when no bar is stored."""
    return f" since {_day(start)} (Coinglass history)" if start else ""


def _exchanges(names: list[str]) -> str:
    return f", {len(names)} exchanges," if names else ""


def _oi_sentence(symbol: str, row: dict, share_pct: float, start: date | None) -> str:
    coin = base_asset(symbol)
    share = (
        f" (Binance {symbol} {share_pct:.1f} % — the book mapped here)"
        if _finite(share_pct)
        else ""
    )
    head = f"All-market {coin} open interest {usd(row['value'])}{share}"
    if row["rank"] == 1:
        return f"{head}, at its record{_since(start)}."
    below = 100 - row["pct_of_record"]
    return (
        f"{head}, {below:.0f} % below its record{_since(start)} "
        f"{usd(row['all_time_max'])} of {_day(row['all_time_date'])}."
    )


def _realised_sentence(
    all_market: dict | None, binance: dict | None, snaps: CoinglassSnapshots
) -> str | None:
    lead = all_market if all_market and _finite(all_market["value"]) else None
    if lead is None:
        if not binance or not _finite(binance["value"]):
            return None
        lead, scope, series = binance, "Realised Binance liquidations", "liquidations_binance_1d"
    else:
        scope, series = "Realised liquidations", "liquidations_all_1d"
    names = snaps.liquidation_exchanges if lead is all_market else []
    text = f"{scope} yesterday{_exchanges(names)} {usd(lead['value'])}"
    if lead is all_market and binance and _finite(binance["value"]):
        text += f" (Binance {usd(binance['value'])})"
    since = _since(snaps.history_start.get(series)) or " on record"
    if lead["rank"] == 1:
        return text + f", the largest day{since}."
    if lead["all_time_date"]:
        text += (
            f"; the largest day{since} {usd(lead['all_time_max'])} on {_day(lead['all_time_date'])}"
        )
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
    snaps: CoinglassSnapshots,
) -> str | None:
    """Page 1's records line: the all-market open interest and realised liquidations with
    their records; without them, the Binance line said to be Binance only, and why."""
    share = market.get("binance_oi_share_pct", math.nan) if market else math.nan
    oi = records.get((ALL_MARKET, "oi_usd"))
    sentences = []
    if oi and _finite(oi["value"]) and oi["all_time_date"]:
        start = snaps.history_start.get("oi_aggregated_1d")
        sentences.append(_oi_sentence(symbol, oi, share, start))
    realised = _realised_sentence(
        records.get((ALL_MARKET, "realised_liquidated_usd")),
        records.get((BINANCE, "realised_liquidated_usd")),
        snaps,
    )
    if realised:
        sentences.append(realised)
    if sentences:
        return " ".join(sentences)
    return " ".join(s for s in (_binance_only(snaps.status), binance_line) if s)


def records_note(records: dict[tuple[str, str], dict], snaps: CoinglassSnapshots) -> str:
    """Under the records table: where the market-wide records' history starts (a plan's
    history depth cuts "all time" short) and how many exchanges all-market liquidations sum."""
    starts = [
        (what, snaps.history_start[series])
        for (venue, metric), what, series in (
            ((ALL_MARKET, "oi_usd"), "open interest", "oi_aggregated_1d"),
            ((BINANCE, "realised_liquidated_usd"), "Binance liquidations", "liquidations_binance_1d"),
            ((ALL_MARKET, "realised_liquidated_usd"), "all-market liquidations", "liquidations_all_1d"),
        )
        if (venue, metric) in records and series in snaps.history_start
    ]  # fmt: skip
    if not starts:
        return ""
    if len({day for _, day in starts}) == 1:  # one start for every series: say it once
        note = f"Market-wide records start with Coinglass history on {_day(starts[0][1])}."
    else:
        listed = ", ".join(f"{what} {_day(day)}" for what, day in starts)
        note = f"Market-wide records start with Coinglass history: {listed}."
    names = snaps.liquidation_exchanges
    if names and (ALL_MARKET, "realised_liquidated_usd") in records:
        note += f" All-market liquidations: {len(names)} exchanges (see Methods)."
    return note


def market_rows(symbol: str, market: dict) -> list[list[str]]:
    """Rows for the market-context table when Coinglass figures exist (else none)."""
    columns = ("all_market_oi_usd", "all_market_liq_usd", "realised_liq_usd")
    if not any(_finite(market.get(c, math.nan)) for c in columns):
        return []
    return [
        ["All-market open interest", usd(market.get("all_market_oi_usd")), f"Binance {symbol} share of all-market OI", pct(market.get("binance_oi_share_pct"), 1, signed=False)],
        ["Realised liq., yesterday (all market)", usd(market.get("all_market_liq_usd")), "Realised liq., yesterday (Binance)", usd(market.get("realised_liq_usd"))],
    ]  # fmt: skip


def funding_cells(market: dict) -> list[str]:
    """The OI-weighted funding pair for the market table's free slot (blank without it)."""
    funding = market.get("oi_weighted_funding_pct", math.nan)
    if not _finite(funding):
        return ["", ""]
    return ["OI-weighted funding (all market)", f"{number(funding, 4)} %"]


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


SNAPSHOT_SERIES = ("oi_exchange_list", "liquidations_exchange_list", "liquidation_map")
MARKET_WIDE_FIGURES = {
    "all_market_oi_usd": "all-market open interest",
    "realised_liq_usd": "Binance realised liquidations",
    "all_market_liq_usd": "all-market realised liquidations",
    "oi_weighted_funding_pct": "OI-weighted funding",
}


def _ordered(status: pd.DataFrame) -> pd.DataFrame:
    order = list(SERIES_LABELS)
    return status.assign(
        order=[order.index(s) if s in order else len(order) for s in status["series"]]
    ).sort_values(["order", "series"])


def _is_snapshot(series: str) -> bool:
    return str(series).startswith(SNAPSHOT_SERIES)


def _status_lines(
    coin: str, snaps: CoinglassSnapshots, market: dict | None, day: date
) -> list[str]:
    """What the date has from Coinglass, then one line per reason it lacks something. A
    fetch on another day speaks only of the date's bars; a refused key is said once."""
    status = snaps.status
    if status.empty:
        return []
    same_day = snaps.fetched_on == day
    if not same_day:  # another day's snapshots say nothing of this date
        status = status[[not _is_snapshot(s) for s in status["series"]]]
    status = _ordered(status)
    label = {s: SERIES_LABELS.get(s, s) for s in status["series"]}
    refused = (status["outcome"] == "bad-key").any()
    lines = []
    if refused:
        stored = (
            "market-wide figures are those stored before"
            if has_market_wide(market, {})
            else "no market-wide figures are stored for this date"
        )
        lines.append(
            f"{coin}: Coinglass refused the API key on {_day(snaps.fetched_on)}; {stored}."
        )
    ok = status[status["outcome"] == "ok"]
    if same_day and not refused and len(ok):
        lines.append(
            f"{coin}: Coinglass data this run had: {_joined([label[s] for s in ok['series']])}."
        )
    elif not same_day:
        had = [
            name
            for col, name in MARKET_WIDE_FIGURES.items()
            if market and _finite(market.get(col, math.nan))
        ]
        if had:
            lines.append(f"{coin}: Coinglass daily bars for {_day(day)}: {', '.join(had)}.")
    other = status[~status["outcome"].isin(["ok", "bad-key"])]
    for outcome, group in other.groupby("outcome", sort=True):
        every = len(group) == len(status)
        names = "data" if every else _joined([label[s] for s in group["series"]])
        lines.append(f"{coin}: no Coinglass {names}: {OUTCOME_REASONS.get(outcome, outcome)}.")
    return lines


def exchanges_line(coin: str, snaps: CoinglassSnapshots, records: dict) -> str | None:
    """What "all-market" liquidations sum: the exchanges of the stored bar (not every one)."""
    names = snaps.liquidation_exchanges
    if not names or (ALL_MARKET, "realised_liquidated_usd") not in records:
        return None
    return (
        f"{coin}: all-market realised liquidations sum {len(names)} exchanges ({', '.join(names)}); "
        "all-market open interest is all exchanges."
    )


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
    lines = _status_lines(coin, snaps, market, day)
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
    for extra in (
        exchanges_line(coin, snaps, records),
        exchange_share_line(coin, snaps.oi_exchanges),
    ):
        if extra:
            lines.append(extra)
    if snaps.status.empty or snaps.fetched_on != day:
        lines.append(
            f"{coin}: no Coinglass fetch on {day:%d %b %Y}: its live snapshots (exchange list, "
            "liquidation map) exist only for the days they were taken."
        )
    elif snaps.liquidation_map.empty and not any(
        str(s).startswith("liquidation_map") or o == "bad-key"
        for s, o in zip(snaps.status["series"], snaps.status["outcome"], strict=True)
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


def map_comparison(
    summary: dict, snaps: CoinglassSnapshots, ours_at: str = "00:00"
) -> tuple[Table | None, str]:
    """Our cumulative longs/shorts at ±2/3/5 % (7d cohorts) beside Coinglass's, and the
    ratio; None when no Coinglass map was stored for the date, or (with a note saying so)
    when it has no level near the reference price. Both are estimates."""
    rows, scope = _map_rows(snaps)
    if rows.empty:
        return None, ""
    p_cg = reference_price(rows, summary["p0"])
    own_price = "last_price" in rows and rows["last_price"].notna().any()
    around = f"its last price {price(p_cg)}" if own_price else f"our {ours_at} mark {price(p_cg)}"
    theirs = cumulative_table(rows, p_cg)
    widest = max(DISTANCES_PCT)
    if theirs[f"cum_long_{widest}pct"] + theirs[f"cum_short_{widest}pct"] <= 0:
        return None, f"No Coinglass levels ({scope} map) within ±{widest} % of {around}."
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
        f"Coinglass's map fetched {at:%d %b %H:%M} UTC, summed around {around}; "
        f"ours at {ours_at} UTC around mark {price(summary['p0'])}. Both are model estimates."
    )
    return table, note
