"""The briefing step: read the date's tables from the lake, build, render HTML and PDF,
write both atomically to ``<reports dir>/<date>/liqbrief-<date>.{html,pdf}`` (an intraday
snapshot's, of the hour's stored map: ``…/liqbrief-<date>T<HHMM>.{html,pdf}`` beside it)."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
from prefect import task

from flows.briefing_venues import rest_note, venue_coverage
from flows.context import MACRO_SYMBOL
from liqbrief.settings import Settings
from liqbrief.symbols import coin_of
from sources.reference_calendar import load_calendar
from store.artefacts import ArtefactStore
from store.datasets import DATASETS, coverage_dataset, intraday_venue, realised_dataset
from store.lake import Lake
from store.realised import read_coverage, read_realised
from store.units import read_unit
from transforms.context.chart_series import PRICE_PATH_DAYS, hourly_path, oi_history, price_path
from transforms.context.macro import calendar_warning


def coinglass_snapshots(lake: Lake, day: date, symbol: str, at: datetime | None = None):
    """What Coinglass gave for the symbol's coin (empty frames without a key): the outcomes
    of the fetch that explains ``day`` (``latest_fetch_day``), and ``day``'s own
    open-interest exchange list and liquidation map; with ``at``, only what was fetched by
    then (a snapshot fetched later in the day is not the hour's)."""
    from reports.market_wide import CoinglassSnapshots

    coin = coin_of(symbol)
    status_day = latest_fetch_day(lake, coin, day)
    status = DATASETS["fetch_status"]
    return CoinglassSnapshots(
        *(
            fetched_by(frame, at)
            for frame in (
                lake.read(status, coin, status_day, status_day) if status_day else pd.DataFrame(),
                *(
                    lake.read(DATASETS[name], coin, day, day)
                    for name in ("oi_exchange_list", "liquidation_map")
                ),
            )
        ),
        fetched_on=status_day,
        history_start=history_starts(lake, coin),
        liquidation_exchanges=liquidation_exchanges(lake, coin, day - timedelta(days=1)),
    )


def fetched_by(frame: pd.DataFrame, at: datetime | None) -> pd.DataFrame:
    """The rows fetched at or before ``at`` (all without one)."""
    if at is None or frame.empty:
        return frame
    return frame.loc[frame["fetched_at"] <= pd.Timestamp(at)].reset_index(drop=True)


HISTORY_SERIES = ("oi_aggregated_1d", "liquidations_binance_1d", "liquidations_all_1d")


def history_starts(lake: Lake, coin: str) -> dict[str, date]:
    """The first stored bar's date of each daily market-wide series (its first monthly
    partition's first row): where "all time" starts when a plan's history is short."""
    out = {}
    for name in HISTORY_SERIES:
        ds = DATASETS[name]
        months = lake.stored_days(ds, coin)
        if not months:
            continue
        times = lake.read(ds, coin, months[0], months[0], [ds.time_column])[ds.time_column]
        if len(times):
            out[name] = pd.Timestamp(times.min()).date()
    return out


def liquidation_exchanges(lake: Lake, coin: str, bar_day: date) -> list[str]:
    """The exchanges the stored all-market liquidation bar of ``bar_day`` sums (its
    exchange_list column: the setting at fetch time, not today's)."""
    ds = DATASETS["liquidations_all_1d"]
    month = bar_day.replace(day=1)
    bars = lake.read(ds, coin, month, month, ["exchange_list"])
    row = bars[pd.to_datetime(bars[ds.time_column], utc=True).dt.date == bar_day]
    if row.empty or not isinstance(row["exchange_list"].iloc[0], str):
        return []
    return [n.strip() for n in row["exchange_list"].iloc[0].split(",") if n.strip()]


def latest_fetch_day(lake: Lake, coin: str, day: date) -> date | None:
    """The fetch whose outcomes explain a briefing of ``day``: the first on or after it (the
    run that wrote it, also for a backfill of past dates), else the last before it. The
    snapshots' values are the day's own: an exchange list or map fetched later is not shown."""
    fetched = lake.stored_days(DATASETS["fetch_status"], coin)
    later = [d for d in fetched if d >= day]
    return later[0] if later else (fetched[-1] if fetched else None)


REALISED_VENUE = "binance"  # the map's venue: realised liquidations of the same book


def list_briefing_inputs(lake: Lake, symbols: list[str]) -> None:
    """List once, in the run's snapshot, the datasets every day's briefing reads that a
    backfill does not write (Coinglass's, the realised liquidations and their coverage):
    its renders adopt the listings (``run_listings``) and then ask only for days that are
    there, and list nothing (on an object store; no-op on a local lake)."""
    for symbol in symbols:
        lake.stored_days(realised_dataset(REALISED_VENUE), symbol)
        lake.stored_days(coverage_dataset(REALISED_VENUE), symbol)
        for ds in DATASETS.values():
            if ds.venue == "coinglass":
                lake.stored_days(ds, coin_of(symbol))


def realised_yesterday(lake: Lake, day: date, symbol: str):
    """D − 1's realised liquidations and recorder coverage on the map's venue and, when
    there are any, D − 1's map (7d bins and its price) to draw them over."""
    from reports.briefing import WINDOW
    from reports.track_record import RealisedDay

    yesterday = day - timedelta(days=1)
    realised = RealisedDay(
        yesterday,
        read_realised(lake, REALISED_VENUE, symbol, yesterday, yesterday),
        read_coverage(lake, REALISED_VENUE, symbol, yesterday, yesterday),
    )
    if len(realised.liquidations):
        liqmap = read_unit(lake, "liqmap", symbol, yesterday, ("liqmap_bins", "liqmap_summary"))
        summary = liqmap["liqmap_summary"].to_pandas()
        summary = summary[summary["window"] == WINDOW]
        if len(summary):
            bins = liqmap["liqmap_bins"].sort_by("bin_lo").to_pandas()
            realised.bins = bins[bins["window"] == WINDOW]
            realised.p0 = float(summary["p0"].iloc[0])
    return realised


def validation_summary(lake: Lake, day: date, symbol: str) -> pd.DataFrame:
    """The rolling validation summary as of ``day`` (its rows score D − 30 … D − 1 only)."""
    return lake.read(DATASETS["validation_summary"], symbol, day, day)


def realised_stored(lake: Lake, day: date, symbol: str) -> bool:
    """Whether anything realised is stored for D − 30 … D − 1 (what a summary of D scores)."""
    from flows.validate import has_evidence
    from reports.track_record import WINDOW_DAYS

    return has_evidence(lake, symbol, day - timedelta(days=WINDOW_DAYS), day - timedelta(days=1))


def read_map(lake: Lake, inputs, symbol: str, unit: str, at: datetime | None = None) -> None:
    """The map as one run wrote it: summary, bins and heatmap from one manifest (an
    intraday snapshot's also its cut-off line, from the sources stored with it)."""
    liqmap = {
        name.split("/")[-1]: table.sort_by(DATASETS[name].time_column).to_pandas()
        for name, table in read_unit(lake, unit, symbol, inputs.day).items()
    }
    summary = liqmap["liqmap_summary"]
    if not len(summary):
        return
    inputs.summaries[symbol] = summary
    bins = liqmap["liqmap_bins"]
    inputs.bins[symbol] = bins[bins["window"] == "7d"]
    inputs.heatmaps[symbol] = liqmap["liqmap_heatmap"]
    if at is not None:
        inputs.intraday_cutoff[symbol] = intraday_cutoff(at, liqmap.get("liqmap_sources"))


def intraday_cutoff(at: datetime, sources: pd.DataFrame | None) -> str:
    """The hour's cut-off line from the sources stored with its map (what the ledger said
    when it was mapped, whatever the archive has published since)."""
    from flows.intraday import cutoff_line, rest_days_of

    return cutoff_line(at, rest_days_of(sources if sources is not None else pd.DataFrame()))


def path_to_hour(lake: Lake, symbol: str, week: pd.DataFrame, at: datetime) -> pd.DataFrame:
    """An intraday heatmap's price path: the stored week to 00:00 of the date, then the
    date's hours closed by ``at`` (nothing after it), the 7 days before ``at`` kept."""
    ds = DATASETS["klines_5m"]
    day = at.date()
    today = lake.read(ds, symbol, day, day, ["close"])
    closed = today[ds.time_column] + pd.Timedelta(seconds=ds.bar_seconds) <= pd.Timestamp(at)
    path = pd.concat([week, hourly_path(today.loc[closed])], ignore_index=True)
    path["time"] = pd.to_datetime(path["time"], utc=True)
    since = pd.Timestamp(at) - pd.Timedelta(days=PRICE_PATH_DAYS)
    return path.loc[path["time"] > since].reset_index(drop=True)


def chart_series_of(lake: Lake, day: date, symbol: str) -> pd.DataFrame:
    """D's chart series, stored with its market context since the context step cuts them;
    a context written before that is refused with what to run, not drawn without charts."""
    from reports.briefing import BriefingDataError

    series = lake.read(DATASETS["chart_series"], symbol, day, day)
    if series.empty:  # a context always has some: it needs D − 1's inputs
        raise BriefingDataError(
            f"the lake's context of {symbol} on {day} has no chart series (it was written by an "
            f"older liqbrief): run `liqbrief context --date {day} --symbols {symbol}` first"
        )
    return series


def load_briefing_inputs(
    lake: Lake,
    day: date,
    symbols: list[str],
    venues: dict | None = None,
    at: datetime | None = None,
):
    """The date's frames; a symbol in ``venues`` (the daily job's coverage of its venues)
    is briefed on the aggregated map ("all") of those venues; with ``at`` (a whole UTC hour
    of ``day``) on the hour's stored map, the rest (context, records, macro) the day's own."""
    from reports.briefing import BriefingInputs

    inputs = BriefingInputs(day=day, symbols=symbols, at=at)

    def one_symbol(symbol: str) -> BriefingInputs:
        part = BriefingInputs(day=day, symbols=[symbol], at=at)
        load_symbol_inputs(lake, part, symbol, venues)
        return part

    # the symbols' reads are independent: concurrent on an object store, merged in order
    for part in lake.each(one_symbol, symbols):
        merge_symbol_inputs(inputs, part)
    if inputs.venue_maps:
        inputs.rest_note = rest_note(lake, day, list(inputs.venue_maps))
    inputs.macro = lake.read(DATASETS["macro_context"], MACRO_SYMBOL, day, day)
    inputs.events = lake.read(DATASETS["macro_events"], MACRO_SYMBOL, day, day)
    warning = calendar_warning(load_calendar(), day)
    if warning:
        inputs.notes.append(warning)
    return inputs


def merge_symbol_inputs(inputs, part) -> None:
    """Add one symbol's frames to ``inputs``: every by-symbol field (a dict or a set)."""
    for f in fields(part):
        value = getattr(part, f.name)
        if isinstance(value, dict | set):
            getattr(inputs, f.name).update(value)


def load_symbol_inputs(lake: Lake, inputs, symbol: str, venues: dict | None) -> None:
    """One symbol's map (the day's, the hour's, or the venues' aggregate), context, records,
    market-wide snapshots, track record and D − 1's realised liquidations."""
    day, at = inputs.day, inputs.at
    unit = "liqmap" if at is None else f"{intraday_venue(at.hour)}/liqmap"
    if venues and symbol in venues:
        unit = "all/liqmap"
        inputs.venue_maps[symbol] = venue_coverage(lake, day, symbol, venues[symbol])
    read_map(lake, inputs, symbol, unit, at)
    market = lake.read(DATASETS["market_context"], symbol, day, day)
    if len(market):
        inputs.market[symbol] = market
        series = chart_series_of(lake, day, symbol)
        inputs.price_paths[symbol] = price_path(series)
        if at is not None and symbol in inputs.summaries:  # the heatmap runs to the hour
            inputs.price_paths[symbol] = path_to_hour(lake, symbol, price_path(series), at)
        inputs.oi_history[symbol] = oi_history(series)
    records = lake.read(DATASETS["records"], symbol, day, day)
    if len(records):
        inputs.records[symbol] = records
    inputs.coinglass[symbol] = coinglass_snapshots(lake, day, symbol, at)
    inputs.validation[symbol] = validation_summary(lake, day, symbol)
    if inputs.validation[symbol].empty and realised_stored(lake, day, symbol):
        inputs.unvalidated.add(symbol)
    inputs.realised[symbol] = realised_yesterday(lake, day, symbol)


def briefing_names(
    day: date, at: datetime | None = None
) -> tuple[tuple[str, str], tuple[str, str]]:
    """The HTML's and the PDF's parts under the reports directory: ``<day>/liqbrief-<day>.*``,
    or an hour's ``<day>/liqbrief-<day>T1400.*`` (never the day's 00:00 briefing)."""
    folder = day.isoformat()
    stem = f"liqbrief-{day}" if at is None else f"liqbrief-{day}T{at:%H%M}"
    return (folder, f"{stem}.html"), (folder, f"{stem}.pdf")


def briefing_paths(reports_dir: str | Path, day: date) -> tuple[str, str]:
    """Where the day's HTML and PDF are (paths, or s3:// URIs)."""
    store = ArtefactStore(reports_dir)
    return tuple(store.location(*parts) for parts in briefing_names(day))  # type: ignore[return-value]


def briefing_complete(store: ArtefactStore, day: date) -> bool:
    """Both files are there: the day's briefing is done (the HTML is written last)."""
    return all(store.exists(*parts) for parts in briefing_names(day))


SYMBOLS_META = re.compile(r'<meta name="liqbrief-symbols" content="([A-Z0-9,]*)">')


def rendered_symbols(reports_dir: str | Path, day: date) -> list[str] | None:
    """The symbols of the briefing rendered for ``day`` (read from its HTML, which the PDF
    is rendered from), or None if there is none: `send` describes these, not an option."""
    html_parts, _ = briefing_names(day)
    try:
        html = ArtefactStore(reports_dir).read_bytes(*html_parts).decode("utf-8")
    except FileNotFoundError:
        return None
    found = SYMBOLS_META.search(html)
    return found.group(1).split(",") if found and found.group(1) else None


def require_usable_maps(inputs) -> None:
    """Refuse a briefing that has no map at all: the desk reads it for the map. (A stored
    map always has a price: the engine writes none without one.)"""
    from reports.briefing import BriefingDataError

    if not inputs.summaries and inputs.at is not None:
        raise BriefingDataError(
            f"no map of {inputs.at:%H:%M} UTC {inputs.day} stored for {','.join(inputs.symbols)}: "
            f"run `liqbrief daily --at {inputs.at:%Y-%m-%dT%H:%M} --symbols "
            f"{','.join(inputs.symbols)}`"
        )
    if not inputs.summaries:
        wanted = ",".join(inputs.symbols)
        raise BriefingDataError(
            f"nothing to brief on {inputs.day}: no map for {wanted} — run `liqbrief liqmap --symbols {wanted} "
            f"--start {inputs.day} --end {inputs.day}` (after `liqbrief extract` of the 30 days "
            "before it)"
        )


def write_briefing(
    lake: Lake,
    day: date,
    symbols: list[str],
    out_dir: str | Path,
    venues: dict | None = None,
    at: datetime | None = None,
) -> tuple[str, str]:
    """Build and render one briefing (of the hour ``at``'s map, with one); both files appear
    only when both are complete (the HTML last: a day with both files is done). Their
    locations (paths or s3:// URIs)."""
    from reports.briefing import build_briefing
    from reports.render import render_html, render_pdf

    inputs = load_briefing_inputs(lake, day, symbols, venues, at)
    require_usable_maps(inputs)
    briefing = build_briefing(inputs, chart_format=Settings.from_env().chart_format)
    html = render_html(briefing)
    pdf = render_pdf(html)
    store = ArtefactStore(out_dir)
    html_parts, pdf_parts = briefing_names(day, at)
    # the HTML marks the pair complete: removed first, written last, so a crash in between
    # never leaves a new HTML beside an old PDF that a backfill would count as done
    store.delete(*html_parts)
    pdf_at = store.write_bytes(pdf, *pdf_parts)
    return store.write_bytes(html.encode(), *html_parts), pdf_at


@task(task_run_name="render-briefing-{day}")
def render_briefing(
    day: date,
    symbols: list[str],
    out_dir: str | None = None,
    venues: dict | None = None,
    at: datetime | None = None,
) -> list[str]:
    settings = Settings.from_env()
    lake = Lake(settings.lake)
    paths = write_briefing(lake, day, symbols, out_dir or settings.reports_dir, venues, at)
    return [str(p) for p in paths]
