"""The briefing as a typed structure built from lake frames: sentences, tables and charts.

Pure: ``build_briefing`` takes the frames a flow read and returns what the template shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

from reports import charts, market_wide, track_record
from reports.formatting import base_asset, number, pct, price, usd
from reports.market_wide import ALL_MARKET, BINANCE, CoinglassSnapshots
from reports.narrative import headline_levels, records_sentence, summary_sentences
from reports.tables import Table
from reports.track_record import RealisedDay
from reports.venues import (
    VENUE_LABELS,
    VenueCoverage,
    absent_warnings,
    coverage_sentence,
    split_table,
)
from transforms.liqmap.aggregate import aggregate_label, map_members

WINDOW = "7d"
BINANCE_MAP_LABEL = "Binance USD-M"
# (venue, metric) → label; realised figures are marked realised, the model's estimated
RECORD_LABELS = {
    (ALL_MARKET, "oi_usd"): "Open interest, all market",
    (BINANCE, "oi_usd"): "Open interest, Binance {symbol}",
    (BINANCE, "quote_volume_24h"): "24 h quote volume, Binance",
    (ALL_MARKET, "realised_liquidated_usd"): "Liquidated in the day, all market (realised)",
    (BINANCE, "realised_liquidated_usd"): "Liquidated in the day, Binance (realised)",
    (BINANCE, "est_liquidated_usd"): "Liquidated, 24 h, Binance (estimated)",
    (BINANCE, "cum_long_5pct"): "Longs at risk, −5 % (estimated)",
    (BINANCE, "cum_short_5pct"): "Shorts at risk, +5 % (estimated)",
}
MACRO_ORDER = [
    "DFEDTARU",
    "DFEDTARL",
    "DFF",
    "DGS2",
    "DGS10",
    "DTWEXBGS",
    "VIXCLS",
    "SP500",
    "UNRATE",
    "PAYEMS",
]


class BriefingDataError(ValueError):
    """Nothing at all to brief on for the date."""


@dataclass
class BriefingInputs:
    """Frames read from the lake for one briefing date."""

    day: date
    symbols: list[str]
    summaries: dict[str, pd.DataFrame] = field(default_factory=dict)
    bins: dict[str, pd.DataFrame] = field(default_factory=dict)
    heatmaps: dict[str, pd.DataFrame] = field(default_factory=dict)
    price_paths: dict[str, pd.DataFrame] = field(default_factory=dict)
    market: dict[str, pd.DataFrame] = field(default_factory=dict)
    records: dict[str, pd.DataFrame] = field(default_factory=dict)
    oi_history: dict[str, pd.DataFrame] = field(default_factory=dict)
    macro: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)  # e.g. calendar warnings
    coinglass: dict[str, CoinglassSnapshots] = field(default_factory=dict)  # by symbol
    validation: dict[str, pd.DataFrame] = field(default_factory=dict)  # summary rows as of day
    realised: dict[str, RealisedDay] = field(default_factory=dict)  # D − 1 on Binance
    # symbols with realised data in D − 30 … D − 1 but no validation summary of D
    unvalidated: set[str] = field(default_factory=set)
    # symbols briefed on an aggregated map of several venues (the daily job's --venues)
    venue_maps: dict[str, VenueCoverage] = field(default_factory=dict)
    rest_note: str = ""  # the cut-off line's days from REST (with venue_maps only)
    # an intraday snapshot's hour (`daily --at`): the maps are the hour's, the rest the day's
    at: datetime | None = None
    intraday_cutoff: dict[str, str] = field(default_factory=dict)  # by symbol: "Book as of …"


@dataclass
class SymbolSection:
    symbol: str
    name: str
    sentences: list[str] = field(default_factory=list)
    key_levels: Table | None = None
    map_svg: str = ""
    heatmap_svg: str = ""
    oi_svg: str = ""
    market: Table | None = None
    records: Table | None = None
    records_line: str | None = None
    coinglass_map: Table | None = None  # our ±2/3/5 % beside Coinglass's map, when stored
    coinglass_map_note: str = ""
    records_note: str = ""  # where the market-wide records' history starts
    coverage: list[str] = field(default_factory=list)  # the methods box: market-wide data
    overlay_svg: str = ""  # yesterday's map with yesterday's realised liquidations
    overlay_note: str = ""  # the overlay's caption, or the line saying there is none
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    map_label: str = BINANCE_MAP_LABEL  # whose book the map is
    venue_split: Table | None = None  # the aggregated map's venues within ±2/5 %
    venue_split_note: str = ""
    market_label: str = ""  # whose market context, records: named when the map is not Binance's

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass
class Briefing:
    day: date
    title: str
    cutoff: str
    sections: list[SymbolSection]
    macro_line: str
    macro: Table | None
    events: list[str]
    warnings: list[str]
    methods: list[str]
    track_record_intro: str = ""  # what the page-1 track record measures (with data only)
    track_record: list[str] = field(default_factory=list)  # one line per symbol, or one
    map_label: str = BINANCE_MAP_LABEL
    at: datetime | None = None  # an intraday snapshot's hour
    asof: str = ""  # its page-1 line: the book's hour and which hours came from REST


def _level_label(value: float, levels: list[tuple[float, float]]) -> str:
    """The price as the desk writes it, with a decimal where two different levels would
    otherwise read the same (a ±5 % threshold of 2,349.9 beside the round 2,350)."""
    label = price(value)
    if any(other != value and price(other) == label for other, _ in levels):
        return f"{value:,.1f}"
    return label


def _away_from_mark(level: float, p0: float) -> bool:
    """A level whose distance reads 0.0 % (within 0.05 % of the mark) is where price already
    is, not a threshold it has to travel to: the table leaves it out (no "-0.0 %, $0" row)."""
    return round((level / p0 - 1) * 100, 1) != 0


def _level_cells(levels: list[tuple[float, float]], p0: float, count: int) -> list[list[str]]:
    """Price, distance and dollars of each level, nearest first, blank rows to ``count``."""
    cells = [
        [_level_label(v, levels), pct((v / p0 - 1) * 100), usd(usd_at)] for v, usd_at in levels
    ]
    return cells + [["", "", ""]] * (count - len(cells))


def key_levels_table(summary: dict) -> Table:
    """Round levels and ±2/5 % on each side, nearest first, and the largest cluster."""
    p0 = summary["p0"]
    below = [(summary[f"round_below_{k}"], summary[f"cum_long_round_below_{k}"]) for k in (1, 2, 3)]
    below += [(p0 * (1 - p / 100), summary[f"cum_long_{p}pct"]) for p in (2, 5)]
    above = [
        (summary[f"round_above_{k}"], summary[f"cum_short_round_above_{k}"]) for k in (1, 2, 3)
    ]
    above += [(p0 * (1 + p / 100), summary[f"cum_short_{p}pct"]) for p in (2, 5)]
    below = sorted((lv for lv in below if _away_from_mark(lv[0], p0)), key=lambda lv: -lv[0])
    above = sorted((lv for lv in above if _away_from_mark(lv[0], p0)), key=lambda lv: lv[0])
    count = max(len(below), len(above))
    rows = [
        lo + hi
        for lo, hi in zip(
            _level_cells(below, p0, count), _level_cells(above, p0, count), strict=True
        )
    ]
    rows.append(
        [
            "largest bin", pct(summary["long_cluster_distance_pct"]), usd(summary["long_cluster_usd"]),
            "largest bin", pct(summary["short_cluster_distance_pct"]), usd(summary["short_cluster_usd"]),
        ]
    )  # fmt: skip
    return Table(
        [
            "If price drops below",
            "Dist.",
            "Longs at risk",
            "If price rises above",
            "Dist.",
            "Shorts at risk",
        ],
        rows,
    )


def _market_table(symbol: str, row: dict) -> Table:
    rows = [
        ["Last price", price(row["price"]), "Funding, last / 7-day avg", f"{number(row['funding_last'] * 100, 4)} % / {number(row['funding_avg_7d'] * 100, 4)} %"],
        ["Open interest", usd(row["oi_usd"]), "Funding, annualised", pct(row["funding_annualised_pct"], 1, signed=False)],
        ["OI change 1d / 7d", f"{pct(row['oi_change_1d_pct'])} / {pct(row['oi_change_7d_pct'])}", "Long/short accounts", number(row["long_short_account_ratio"])],
        ["24 h quote volume", usd(row["quote_volume_24h"]), "Top-trader long/short", number(row["top_trader_ratio"])],
        ["Volume vs year's first week", (f"{number(row['volume_vs_year_start'], 2)}×" if math.isfinite(row["volume_vs_year_start"]) else "—"), "Taker buy/sell, 24 h", number(row["taker_buy_sell_ratio"])],
        ["Realised volatility, 7d (ann.)", pct(row["realised_vol_7d_pct"], 0, signed=False), *market_wide.funding_cells(row)],
        *market_wide.market_rows(symbol, row),
    ]  # fmt: skip
    return Table(["", "", "", ""], rows)


def _records_table(symbol: str, records: dict[tuple[str, str], dict], map_owner: str = "") -> Table:
    """The records rows; ``map_owner``: the briefing's map is another, so the model's
    records (of Binance's map) say whose map they are."""
    rows = []
    for key, label in RECORD_LABELS.items():
        r = records.get(key)
        if not r:
            continue
        if map_owner and key[1].startswith("cum_"):
            label = label.replace("(estimated)", f"{map_owner} (estimated)")
        known = r["value"] == r["value"]
        rows.append(
            [
                label.format(symbol=symbol),
                usd(r["value"]) if known else "—",
                f"{usd(r['all_time_max'])} ({r['all_time_date']:%d %b %Y})"
                if r["all_time_date"]
                else "—",
                f"{usd(r['ytd_max'])} ({r['ytd_date']:%d %b})" if r["ytd_date"] else "—",
                pct(r["pct_of_record"], 0, signed=False) if known else "—",
                f"{r['rank']} of {r['days']}" if known else "—",
            ]
        )
    return Table(
        ["Metric", "Today", "Record (all time)", "Year to date high", "% of record", "Rank"], rows
    )


def _coverage_warnings(summary: dict) -> list[str]:
    members = map_members(summary)
    of_venues = f" ({aggregate_label(members)} summed)" if len(members) > 1 else ""
    warnings = []
    if summary.get("oi_missing_bars", 0):
        warnings.append(
            f"{summary['oi_missing_bars']} five-minute open-interest readings missing in the {WINDOW} "
            f"window{of_venues}"
        )
    if summary.get("shrink_clamped_bars", 0):
        warnings.append(
            f"{summary['shrink_clamped_bars']} five-minute bars emptied a side's open interest "
            f"(voluntary-close shrink clamped at zero) in the {WINDOW} window"
        )
    if summary.get("price_missing_minutes", 0):
        warnings.append(
            f"{summary['price_missing_minutes']} minutes of price missing in the {WINDOW} window"
            f"{of_venues}"
        )
    if summary.get("mark_fallback_minutes", 0):
        warnings.append(
            f"{summary['mark_fallback_minutes']} minutes use last price instead of mark price"
        )
    if summary.get("p0_from_last_price"):
        warnings.append("the snapshot price is a last price (mark price missing)")
    if "fallback" in str(summary.get("brackets_source", "")):
        warnings.append(
            f"maintenance brackets: {summary['brackets_source']} — liquidation prices approximate"
        )
    return warnings


def _records_by_key(frame: pd.DataFrame | None) -> dict[tuple[str, str], dict]:
    """Records rows by (venue, metric): Binance's and, with Coinglass, the all-market ones."""
    if frame is None or frame.empty:
        return {}
    out = {}
    for r in frame.to_dict("records"):
        for key in ("all_time_date", "ytd_date"):
            r[key] = (
                pd.Timestamp(r[key]).date() if r[key] is not None and pd.notna(r[key]) else None
            )
        out[(r.get("venue") or BINANCE, r["metric"])] = r
    return out


def build_section(
    inputs: BriefingInputs, symbol: str, charts_on: bool = True, chart_format: str = "svg"
) -> SymbolSection:
    section = SymbolSection(symbol, base_asset(symbol))
    summary_frame = inputs.summaries.get(symbol)
    if summary_frame is None or summary_frame.empty:
        section.missing.append(
            f"no liquidation map for {inputs.day} — run `liqbrief liqmap --symbols {symbol} --start {inputs.day} --end {inputs.day}`"
        )
    else:
        summary = summary_frame.set_index("window").loc[WINDOW].to_dict()
        section.sentences = summary_sentences(symbol, summary)
        section.key_levels = key_levels_table(summary)
        section.warnings = _coverage_warnings(summary)
        _add_venues(section, inputs.venue_maps.get(symbol), summary, inputs.market.get(symbol))
        if inputs.heatmaps.get(symbol, pd.DataFrame()).empty:
            section.warnings.append(
                f"no heatmap stored for {inputs.day} — run `liqbrief liqmap --symbols {symbol} "
                f"--start {inputs.day} --end {inputs.day}`"
            )
        head = headline_levels(summary)
        levels = [
            (head.below, f"{price(head.below)}: {usd(head.long_usd)}"),
            (head.above, f"{price(head.above)}: {usd(head.short_usd)}"),
        ]
        section.map_svg = "" if not charts_on else charts.liquidation_map_chart(
            inputs.bins.get(symbol, pd.DataFrame()), summary["p0"], levels,
            f"{section.name} estimated liquidation map, {WINDOW} cohorts ({section.map_label}){_hour_of(inputs)}", chart_format,
        )  # fmt: skip
        section.heatmap_svg = "" if not charts_on else charts.heatmap_chart(
            inputs.heatmaps.get(symbol, pd.DataFrame()), inputs.price_paths.get(symbol, pd.DataFrame()),
            f"{section.name} liquidation heatmap, last 7 days{_hour_of(inputs, ' to ')}", chart_format,
        )  # fmt: skip
    if inputs.at is not None:  # the map is the hour's; context and records the day's
        section.market_label = f" — daily, as of 00:00 UTC {inputs.day:%d %b %Y}"
    market = inputs.market.get(symbol)
    market_row = None if market is None or market.empty else market.iloc[0].to_dict()
    if market_row is None:
        section.missing.append(
            f"no market context for {inputs.day} — run `liqbrief context --date {inputs.day}`"
        )
    else:
        section.market = _market_table(symbol, market_row)
    records = _records_by_key(inputs.records.get(symbol))
    _add_market_wide(section, inputs, market_row, records)
    yesterday = inputs.day - timedelta(days=1)
    section.overlay_svg, section.overlay_note = track_record.realised_overlay(
        symbol, section.name, inputs.realised.get(symbol, RealisedDay(yesterday)), charts_on,
        chart_format, title_window=WINDOW,
    )  # fmt: skip
    if records:
        section.records = _records_table(symbol, records, _records_map_owner(section, inputs))
        oi = records.get((BINANCE, "oi_usd"), {})
        section.oi_svg = "" if not charts_on else charts.oi_history_chart(
            inputs.oi_history.get(symbol, pd.DataFrame()), oi.get("all_time_max", math.nan), oi.get("all_time_date"),
            f"{_own_book(section)} {section.name} open interest at 00:00 UTC and its record".lstrip(),
            chart_format,
        )  # fmt: skip
    else:
        section.missing.append(
            f"no records for {inputs.day} — run `liqbrief context --date {inputs.day}`"
        )
    return section


def _own_book(section: SymbolSection) -> str:
    """ "Binance" when the page's map sums several venues: the open interest and the model's
    records beside it are still Binance's own; "" when the map is Binance's."""
    return "Binance" if section.map_label != BINANCE_MAP_LABEL else ""


def _records_map_owner(section: SymbolSection, inputs: BriefingInputs) -> str:
    """Whose map the model's records are when it is not the one briefed: Binance's (beside
    an aggregate), the date's 00:00 map (beside an hour's)."""
    if _own_book(section):
        return "Binance map"
    return "" if inputs.at is None else "00:00 map"


def _add_venues(
    section: SymbolSection, coverage: VenueCoverage | None, summary: dict, market
) -> None:
    """An aggregated map's label, coverage sentence, per-venue split and left-out venues."""
    if coverage is None:
        return
    row = {} if market is None or market.empty else market.iloc[0].to_dict()
    all_market = row.get("all_market_oi_usd", math.nan)
    section.map_label = coverage.label
    section.market_label = f" — Binance {section.symbol}"
    section.sentences.append(coverage_sentence(section.symbol, coverage, float(all_market)))
    section.venue_split = split_table(coverage, summary["p0"])
    section.venue_split_note = (
        f"Estimated, within ±2/5 % of {price(summary['p0'])} "
        f"({VENUE_LABELS[coverage.members[0]]} mark); the venues sum to the "
        f"{coverage.label} row, the key levels' figures."  # one line: the page holds methods
    )
    section.warnings += absent_warnings(coverage)


def _add_market_wide(
    section: SymbolSection, inputs: BriefingInputs, market: dict | None, records: dict
) -> None:
    """The records line, the Coinglass map comparison and the coverage lines (Coinglass)."""
    symbol = section.symbol
    if market is not None and symbol in inputs.venue_maps:  # Binance is not the book mapped
        market = market | {"binance_oi_share_pct": math.nan}  # (the coverage sentence says)
    snaps = inputs.coinglass.get(symbol, CoinglassSnapshots())
    binance = {metric: r for (venue, metric), r in records.items() if venue == BINANCE}
    if records:
        section.records_line = market_wide.records_line(
            symbol,
            records,
            market,
            records_sentence(symbol, binance, venue=_own_book(section)),
            snaps,
        )
        section.records_note = market_wide.records_note(records, snaps)
        if inputs.at is not None:  # beside the hour's map: the day's records, and said so
            section.records_line = (
                f"Daily, as of 00:00 UTC {inputs.day:%d %b %Y}: {section.records_line}"
            )
    section.coverage = market_wide.coverage_lines(symbol, snaps, market, records, inputs.day)
    summary_frame = inputs.summaries.get(symbol)
    if summary_frame is not None and not summary_frame.empty:
        summary = summary_frame.set_index("window").loc[WINDOW].to_dict()
        ours_at = "00:00" if inputs.at is None else f"{inputs.at:%H:%M}"
        section.coinglass_map, section.coinglass_map_note = market_wide.map_comparison(
            summary, snaps, ours_at
        )


def _macro(inputs: BriefingInputs) -> tuple[str, Table | None, list[str]]:
    if inputs.macro.empty:
        return (
            "Macro data unavailable for this date.",
            None,
            [f"no macro context — run `liqbrief context --date {inputs.day}`"],
        )
    m = inputs.macro.set_index("series")
    warnings = [
        f"{s}: last value {r['obs_date']} (stale)"
        for s, r in m.iterrows()
        if r["stale"] and r["obs_date"] is not None and pd.notna(r["obs_date"])
    ]
    no_data = [s for s, r in m.iterrows() if pd.isna(r["value"])]
    if no_data:
        warnings.append(
            f"no macro value stored for {', '.join(no_data)} — run `liqbrief context --date "
            f"{inputs.day}` with FRED reachable"
        )
    flags = m["latest_revision"] if "latest_revision" in m else pd.Series(dtype=object)
    revised = [s for s, flag in flags.items() if pd.notna(flag) and bool(flag)]
    if revised:
        warnings.append(
            f"{', '.join(revised)}: latest-revision values fetched after {inputs.day} (keyless "
            "FRED download); set FRED_API_KEY for the values known then"
        )

    def val(series: str, digits: int = 2) -> str:
        return number(m.loc[series, "value"], digits) if series in m.index else "—"

    parts = []
    if "DFEDTARL" in m.index and "DFEDTARU" in m.index and pd.notna(m.loc["DFEDTARU", "value"]):
        parts.append(f"Fed target {val('DFEDTARL')}–{val('DFEDTARU')} %")
    if "DGS2" in m.index and pd.notna(m.loc["DGS2", "value"]):
        parts.append(f"2y {val('DGS2')} % ({number(m.loc['DGS2', 'chg_1w'] * 100, 0)} bp w/w)")
    if "VIXCLS" in m.index and pd.notna(m.loc["VIXCLS", "value"]):
        parts.append(f"VIX {val('VIXCLS', 1)}")
    events = inputs.events["text"].tolist() if not inputs.events.empty else []
    line = "; ".join(parts) or "No macro values stored for this date (see data coverage)"
    line += ". " + (
        "; ".join(events) + "." if events else "No FOMC decision or jobs report in the next 7 days."
    )
    rows = []
    for series in MACRO_ORDER:
        if series not in m.index:
            continue
        r = m.loc[series]
        digits = 0 if series in ("PAYEMS", "SP500") else 2
        rows.append(
            [
                r["label"], number(r["value"], digits),
                str(r["obs_date"]) if r["obs_date"] is not None and pd.notna(r["obs_date"]) else "—",
                number(r["chg_1d"], digits), number(r["chg_1w"], digits), number(r["chg_1m"], digits),
                number(r["chg_ytd"], digits), "stale" if r["stale"] else "",
            ]
        )  # fmt: skip
    table = Table(["Series", "Value", "As of", "1d", "1w", "1m", "YTD", ""], rows)
    return line, table, warnings


def build_briefing(
    inputs: BriefingInputs, charts_on: bool = True, chart_format: str = "svg"
) -> Briefing:
    """The whole briefing; raises BriefingDataError when no symbol has anything to show.
    ``charts_on=False`` skips drawing (the e-mail summary needs only the text);
    ``chart_format`` is "svg" or "png" (the setting LIQBRIEF_CHART_FORMAT)."""
    sections = [build_section(inputs, s, charts_on, chart_format) for s in inputs.symbols]
    if all(not s.sentences and s.market is None for s in sections):
        raise BriefingDataError(
            f"nothing to brief on {inputs.day} for {', '.join(inputs.symbols)}: no liquidation map and no "
            "market context in the lake — run `liqbrief daily` (or extract, liqmap and context) first"
        )
    macro_line, macro_table, macro_warnings = _macro(inputs)
    intro, track_lines = track_record.track_record_block(
        inputs.symbols, inputs.validation, inputs.day, inputs.unvalidated
    )
    labels = list(dict.fromkeys(s.map_label for s in sections if s.sentences))
    map_label = "; ".join(labels) or BINANCE_MAP_LABEL
    warnings = (
        [f"{s.name}: {w}" for s in sections for w in s.warnings]
        + macro_warnings
        + list(inputs.notes)
    )
    return Briefing(
        day=inputs.day,
        title=f"Liquidation briefing — {inputs.day:%A %d %B %Y}" + _hour_of(inputs),
        cutoff=_cutoff(inputs),
        sections=sections,
        macro_line=macro_line,
        macro=macro_table,
        events=inputs.events["text"].tolist() if not inputs.events.empty else [],
        warnings=warnings,
        methods=[
            "Estimated — relative intensity, not a forecast of realised liquidations. "
            + _venue_method(map_label)
            + "market-wide figures (Coinglass) are marked all market, "
            "realised ones realised; records start with the data in the lake.",
            f"Cohorts ({WINDOW} window): each 5-minute rise in open interest, counted in contracts, opens long "
            f"and short positions of that many contracts across leverage tiers 3x–125x at {_formula_owner(map_label)} exact "
            "isolated liquidation prices (dated maintenance brackets); they are removed when the 1-minute "
            "mark price touches that price, and when contracts are closed each side's survivors shrink by "
            "its voluntary closes over the contracts it still held. Each date's price grid comes from that "
            "date's own price, never a later one.",
            *_intraday_methods(inputs),
            *[line for s in sections for line in s.coverage],
        ],
        track_record_intro=intro,
        track_record=track_lines,
        map_label=map_label,
        at=inputs.at,
        asof=_asof_line(inputs),
    )


def _hour_of(inputs: BriefingInputs, before: str = ", ") -> str:
    """ ", 14:00 UTC" for an intraday snapshot's title; "" for the day's."""
    return "" if inputs.at is None else f"{before}{inputs.at:%H:%M} UTC"


def _cutoff(inputs: BriefingInputs) -> str:
    """What the briefing knows: to 00:00 of the date, or (intraday) the map to the hour
    and the daily tables to 00:00."""
    day = inputs.day
    if inputs.at is None:
        cutoff_day = day - timedelta(days=1)
        return (
            f"Data to 23:59 UTC {cutoff_day:%d %b %Y}; map snapshot 00:00 UTC {day:%d %b %Y}"
            + inputs.rest_note
        )
    return (
        f"Intraday: map snapshot {inputs.at:%H:%M} UTC {day:%d %b %Y}, nothing after it read; "
        f"market context, records, macro and track record as of 00:00 UTC {day:%d %b %Y}"
    )


def _asof_line(inputs: BriefingInputs) -> str:
    """Page 1's "Book as of 14:00 UTC 25 Nov 2026; from Binance REST …" (one line when the
    symbols share it, else one clause per symbol)."""
    if inputs.at is None:
        return ""
    lines = [inputs.intraday_cutoff[s] for s in inputs.symbols if s in inputs.intraday_cutoff]
    if len(set(lines)) <= 1:
        return lines[0] if lines else f"Book as of {inputs.at:%H:%M} UTC: no map stored"
    return "; ".join(
        f"{s}: {inputs.intraday_cutoff[s]}" for s in inputs.symbols if s in inputs.intraday_cutoff
    )


def _intraday_methods(inputs: BriefingInputs) -> list[str]:
    if inputs.at is None:
        return []
    return [
        f"Intraday snapshot: the map is the book at {inputs.at:%H:%M} UTC — open-interest "
        "readings stamped by then and bars closed by then, nothing later; for the hours the "
        "Binance archive has not published, the same series from Binance's REST API (the "
        "line under the title names them). The heatmap runs to the hour; market context, "
        "records, macro, the track record and yesterday's realised liquidations are the "
        f"day's own, as of 00:00 UTC {inputs.day:%d %b %Y}."
    ]


def _venue_method(map_label: str) -> str:
    """Whose book the map is: Binance's alone, or several venues' summed."""
    if map_label == BINANCE_MAP_LABEL:
        return "The map's venue: Binance USD-M perpetuals only; "
    return (
        f"The map: {map_label} USDT-margined perpetuals, each venue's book modelled from its own "
        "open interest, tiers and liquidation formula, summed bin by bin on one price grid (P0 and "
        "round levels from the first venue named); market context, records and realised liquidations are "
        "Binance's where so labelled; "
    )


def _formula_owner(map_label: str) -> str:
    return "Binance's" if map_label == BINANCE_MAP_LABEL else "each venue's"
