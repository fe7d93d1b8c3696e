"""The daily job: bring the lake up to date, then compute the latest complete day's maps,
score the day before against what was liquidated (the track record; never fatal), compute
its market context, records and macro context, then render the HTML/PDF briefing.

Coinglass (with COINGLASS_API_KEY) is brought up to date once per run, FRED by the context.
A snapshot at 00:00 UTC of date D needs every file of D − 1. The archive publishes a day
some hours after it ends, so a morning run asks for the last 31 days and maps the latest
date whose previous day is complete in the lake (usually today; yesterday if today's
input is not published yet). The PDF is e-mailed when SMTP is configured.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from flows.briefing import briefing_names, render_briefing
from flows.context import context, fetch_market_wide
from flows.daily_venues import extract_rest, latest_mappable_date, map_venues, more_than_binance
from flows.delivery import email_briefing
from flows.extract import ExtractIncompleteError, extract
from flows.liqmap import liqmap, missing_lines
from flows.validate import score_before_briefings
from liqbrief.settings import Settings
from liqbrief.symbols import Symbol
from reports.narrative import summary_sentences
from sources.errors import SourceError
from store.artefacts import ArtefactStore
from store.datasets import map_dataset
from store.lake import Lake
from store.read_cache import snapshot_reads
from transforms.liqmap.passes import pass_start

EXTRACT_DATASETS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m", "funding_rate"]


class DailyBriefingError(RuntimeError):
    """The daily job could not produce a briefing (the message says what to do)."""


def publish_artifacts(lake: Lake, day: date, symbols: list[str], venue: str = "binance") -> None:
    """A markdown artifact with each symbol's headline (of ``venue``'s map), and a link to the
    PDF (a file:// URI, or the object's s3:// URI)."""
    lines = [f"# liqbrief {day.isoformat()}", ""]
    for symbol in symbols:
        summary = lake.read(map_dataset(venue, "liqmap_summary"), symbol, day, day)
        if len(summary):
            row = summary.set_index("window").loc["7d"].to_dict()
            lines.append(f"- **{symbol}**: {summary_sentences(symbol, row)[0]}")
        else:
            lines.append(f"- **{symbol}**: no liquidation map")
    create_markdown_artifact("\n".join(lines), key="daily-headline", description=f"headline {day}")
    _, pdf_parts = briefing_names(day)
    store = ArtefactStore(Settings.from_env().reports_dir)
    create_link_artifact(store.uri(*pdf_parts), link_text=pdf_parts[-1], key="daily-briefing-pdf")


def mappable_date(lake: Lake, symbol: str, target: date, extract_problem: str) -> date:
    """The date to map for ``symbol`` (``target``, or the latest before it whose inputs are
    complete); raises DailyBriefingError when the lake has no such date."""
    latest = latest_mappable_date(lake, symbol, target)
    if latest is None:
        raise DailyBriefingError(
            f"{symbol}: no complete day of inputs in the 30 days before {target}; "
            "check the archive URL and network, then re-run"
            + (f". The extract said: {extract_problem}" if extract_problem else "")
        )
    if latest != target:
        get_run_logger().warning(
            "%s: inputs for %s are not complete yet; mapping %s", symbol, target, latest
        )
    return latest


@flow(name="daily-briefing")
def daily_briefing(
    day: date | None = None,
    symbols: list[Symbol] | None = None,
    send: bool = True,
    venues: list[str] | None = None,
) -> dict:
    """Extract what is missing, map the latest complete date (default: today, UTC), compute its
    context, render the briefing and e-mail it (when SMTP is configured and ``send``). With
    ``venues`` beyond Binance: their REST days too, and the briefing on their aggregated map."""
    symbols = symbols or ["BTCUSDT"]
    target = day or datetime.now(UTC).date()
    settings = Settings.from_env()
    if settings.dask_address:
        from flows.cluster import require_scheduler

        require_scheduler(settings.dask_address)  # before anything is fetched or written
    with snapshot_reads(settings.lake):  # the map, the scoring and the context read inputs once
        return _daily(settings, target, symbols, send, venues)


def _daily(
    settings: Settings, target: date, symbols: list[str], send: bool, venues: list[str] | None
) -> dict:
    logger = get_run_logger()
    extract_problem = ""
    # from the pass start of yesterday's map, so it is complete if today's cannot be made
    first = pass_start(target - timedelta(days=1))
    if not more_than_binance(venues) or "binance" in venues:
        try:
            extract(symbols, first, target - timedelta(days=1), EXTRACT_DATASETS)
        except (ExtractIncompleteError, SourceError) as exc:
            extract_problem = str(exc)
            logger.warning("continuing with what the lake has: %s", exc)
    lake = Lake(settings.lake)
    by_symbol, unmapped = {}, {}
    if more_than_binance(venues):  # every venue's REST days, each venue's map and their sum
        failed = extract_rest(venues, symbols, first, target)
        by_symbol = {s: _venue_maps(lake, s, venues, target, failed) for s in symbols}
        mapped = {s: maps.day for s, maps in by_symbol.items()}
    else:
        mapped, unmapped = _mappable_dates(lake, symbols, target, extract_problem)
        _binance_maps(settings, mapped)
    briefings: list[str] = []
    fetch_market_wide(symbols)  # once, whatever dates the symbols are mapped for
    for briefing_day in sorted(set(mapped.values())):
        day_symbols = [s for s, d in mapped.items() if d == briefing_day]
        score_before_briefings(day_symbols, briefing_day, briefing_day)  # never raises
        context(briefing_day, day_symbols, fetch_coinglass=False)
        coverage = {s: by_symbol[s].as_dict() for s in day_symbols if s in by_symbol}
        briefings += render_briefing(briefing_day, day_symbols, venues=coverage or None)
        publish_artifacts(lake, briefing_day, day_symbols, "all" if coverage else "binance")
        if send:
            email_briefing(briefing_day, day_symbols)  # skipped when no SMTP host is configured
    if unmapped:  # the others were briefed (and sent)
        raise DailyBriefingError(
            "; ".join(unmapped.values())
            + f" (briefed {', '.join(mapped)} without it: {briefings[-1]})"
        )
    result = {"mapped": mapped, "briefings": briefings}
    if by_symbol:
        result["venues"] = {s: maps.as_dict() for s, maps in by_symbol.items()}
    return result


def _mappable_dates(
    lake: Lake, symbols: list[str], target: date, extract_problem: str
) -> tuple[dict[str, date], dict[str, str]]:
    """Each symbol's date to map, and why a symbol has none: a symbol without inputs does
    not cost the desk the others' briefing (the run still fails afterwards, naming it);
    with none mappable, it fails now."""
    mapped, unmapped = {}, {}
    for symbol in symbols:
        try:
            mapped[symbol] = mappable_date(lake, symbol, target, extract_problem)
        except DailyBriefingError as exc:
            unmapped[symbol] = str(exc)
            get_run_logger().warning("%s", exc)
    if not mapped:
        raise DailyBriefingError("; ".join(unmapped.values()))
    return mapped, unmapped


def _binance_maps(settings: Settings, mapped: dict[str, date]) -> None:
    """Each symbol's Binance map of its date (on Dask with LIQBRIEF_DASK_ADDRESS); raises
    when a date has no map."""
    if settings.dask_address:
        from flows.daily_cluster import maps_on_cluster

        missing = maps_on_cluster(settings.dask_address, mapped)
    else:
        missing = {s: liqmap([s], d, d, heatmaps="last")[s]["missing"] for s, d in mapped.items()}
    for symbol in mapped:
        if missing[symbol]:
            raise DailyBriefingError(missing_lines(symbol, missing[symbol])[0])


def _venue_maps(lake: Lake, symbol: str, venues: list[str], target: date, failed: dict):
    """Each venue's map and their aggregate; raises when no venue has a complete day."""
    maps = map_venues(lake, symbol, venues, target, failed)
    if maps is None:
        reasons = "; ".join(f"{v}: {why}" for v, why in failed.items())
        raise DailyBriefingError(
            f"{symbol}: no venue of {','.join(venues)} has a complete day of inputs in the 30 "
            f"days before {target}; check the venues' URLs and network, then re-run"
            + (f". The extract said: {reasons}" if reasons else "")
        )
    return maps
