"""The extract flow: Binance archive -> Parquet lake, one task per symbol and dataset."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from liqbrief.settings import Settings
from sources.binance_archive.ingest import IngestReport, ingest
from sources.binance_archive.layout import ARCHIVE_DATASETS, check_archive_range
from sources.binance_archive.report import FileOutcome
from sources.binance_archive.snapshot_ingest import snapshot_coverage
from sources.retry_policy import RetryPolicy
from store.datasets import DATASETS
from store.lake import Lake

# liquidation_snapshot is asked for by name only: the archive withdrew those files (it would 404)
DEFAULT_DATASETS = ["klines_1m", "klines_5m", "mark_klines_1m", "metrics", "funding_rate"]


class ExtractIncompleteError(RuntimeError):
    """Some archive files could not be stored; the rest were. ``unstored``: those files'
    outcomes (with the lake days each should have supplied)."""

    unstored: tuple[FileOutcome, ...] = ()

    @classmethod
    def of(cls, problems: list[FileOutcome], where: str) -> ExtractIncompleteError:
        """One line: how many files, the first one's error, where the whole list is."""
        first, more = problems[0], len(problems) - 1
        error = cls(
            f"{len(problems)} archive file(s) were not stored (everything else was); "
            f"first: {first.status}: {first.error}"
            + (f" (and {more} more, {where})" if more else "")
        )
        error.unstored = tuple(problems)
        return error

    def unfilled(self, lake: Lake) -> tuple[ExtractIncompleteError | None, int]:
        """The error for the files whose days the lake still lacks (None if it holds them
        all: another source, Binance's REST at the live edge, stored them since), and how
        many it holds. Without the files' days, this error as it is."""
        if not self.unstored:
            return self, 0
        left = [o for o in self.unstored if not _days_stored(lake, o)]
        filled = len(self.unstored) - len(left)
        where = "listed among the Prefect run's artifact extract-problems"
        return (ExtractIncompleteError.of(left, where) if left else None), filled


def _days_stored(lake: Lake, outcome: FileOutcome) -> bool:
    days = set(outcome.dates)
    ds = DATASETS.get(outcome.dataset)
    return bool(days) and ds is not None and lake.ingested_days(ds, outcome.symbol, days) == days


@task(task_run_name="extract-{symbol}-{dataset}")
def extract_dataset(
    symbol: str, dataset: str, start: date, end: date, force: bool = False
) -> IngestReport:
    settings = Settings.from_env()
    return ingest(
        Lake(settings.lake),
        settings.binance_archive_url,
        [symbol],
        [dataset],
        start,
        end,
        concurrency=settings.download_concurrency,
        force=force,
        retry=RetryPolicy(attempts=settings.http_attempts),  # tries per request, as documented
    )


@flow(name="extract")
def extract(
    symbols: list[str],
    start: date,
    end: date,
    datasets: list[str] | None = None,
    force: bool = False,
) -> dict[str, int]:
    """Bring the lake up to date for every symbol and dataset over [start, end]; with
    ``force``, fetch and replace every day of the range even if it is stored."""
    datasets = datasets or DEFAULT_DATASETS
    unknown = sorted(set(datasets) - set(ARCHIVE_DATASETS))
    if unknown:
        raise ValueError(f"unknown datasets {unknown}; choose from {sorted(ARCHIVE_DATASETS)}")
    check_archive_range(start, end, datetime.now(UTC).date())  # before any task or request
    report = IngestReport()
    for symbol in symbols:
        for dataset in datasets:
            report.extend(extract_dataset(symbol, dataset, start, end, force))
    logger = get_run_logger()
    summary = report.summary()
    logger.info("extract %s..%s %s: %s", start, end, ",".join(symbols), summary)
    if "liquidation_snapshot" in datasets:
        lake = Lake(Settings.from_env().lake)
        for symbol in symbols:
            logger.info(snapshot_coverage(lake, symbol, start, end).line())
    for outcome in report.outcomes:
        if outcome.status == "pending":
            logger.warning("not published yet: %s", outcome.label)
    if report.problems:
        create_markdown_artifact(  # the whole list stays in the Prefect run, off the terminal
            "\n".join(f"- {o.status}: {o.error}" for o in report.problems),
            key="extract-problems", description="Archive files that were not stored",
        )  # fmt: skip
        raise ExtractIncompleteError.of(
            report.problems, "listed in the Prefect run's artifact extract-problems"
        )
    return summary
