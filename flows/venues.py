"""The venues' REST extract: one task per venue (each with its own rate limiter, run side
by side), every symbol and day of the range into the lake (sources/venues)."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task

from liqbrief.settings import Settings
from sources.retry_policy import RetryPolicy
from sources.venues.fetchers import DATASET_NAMES
from sources.venues.ingest import ingest_venues
from store.lake import Lake


@task(task_run_name="extract-rest-{venue}")
def extract_venue(
    venue: str, symbols: list[str], start: date, end: date, force: bool = False,
    datasets: tuple[str, ...] = DATASET_NAMES,
) -> list[dict]:  # fmt: skip
    settings = Settings.from_env()
    reports = ingest_venues(
        Lake(settings.lake), {venue: settings.rest_urls[venue]}, symbols, start, end,
        force=force, datasets=datasets, policy=RetryPolicy(attempts=settings.http_attempts),
    )  # fmt: skip
    return [r.as_dict() for r in reports]


@flow(name="extract-venues")
def extract_venues(
    venues: list[str], symbols: list[str], start: date, end: date, force: bool = False,
    datasets: tuple[str, ...] = DATASET_NAMES,
) -> list[dict]:  # fmt: skip
    """Fetch each venue's 5-minute OI, 5-minute klines, 1-minute mark klines and funding
    over [start, end]; returns one report per venue and symbol (stored rows, warnings)."""
    futures = [extract_venue.submit(v, symbols, start, end, force, datasets) for v in venues]
    reports = [r for f in futures for r in f.result()]
    logger = get_run_logger()
    for report in reports:
        for line in report["warnings"]:
            logger.warning("coverage: %s", line)
        for line in report["failures"]:
            logger.error("%s %s: %s", report["venue"], report["symbol"], line)
    return reports
