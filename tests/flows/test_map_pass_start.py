"""A date's map read from the lake is the same whatever range it is made in: the daily
job's single date and a backfill's range both start the date's pass on its fixed day
(transforms/liqmap/passes.py) and read each pass's days from the lake's own partitions,
whichever day an archive file files its midnight reading under."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from flows.liqmap import maps_of, model_for
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import (
    archive_entry,
    build_archive,
    daily_file,
    metrics_csv_to_next_midnight,
)
from sources.binance_archive.ingest import ingest
from store.datasets import DATASETS
from store.lake import Lake, days_between
from tests.conftest import FAST_RETRY
from tests.transforms.test_liqmap_correctness import as_bytes
from tests.transforms.test_liqmap_passes import only

pytestmark = [pytest.mark.server]

INPUTS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m"]
FIRST_STORED, LAST_STORED = date(2024, 1, 2), date(2024, 3, 6)
# their passes start 2024-01-02 (February) and 2024-01-31 (March)
DAYS = (date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 3), date(2024, 3, 6))


@pytest.fixture(scope="module", params=["midnight-first", "midnight-last"])
def lake(request, tmp_path_factory) -> Lake:
    """The archive's days ingested; "midnight-last": metrics files labelled as the real ones
    before 2026-06-25 are (00:05 .. next day's 00:00), the same readings filed a day apart."""
    root = tmp_path_factory.mktemp("pass-start") / "lake"
    files = build_archive(["BTCUSDT"], INPUTS, FIRST_STORED, LAST_STORED, monthly=False)
    if request.param == "midnight-last":
        for day in days_between(FIRST_STORED, LAST_STORED):
            body = metrics_csv_to_next_midnight("BTCUSDT", day)
            files |= archive_entry(daily_file("metrics", "BTCUSDT", day), body)
    with ArchiveMirror(files) as mirror:
        report = ingest(
            Lake(str(root)), mirror.base_url, ["BTCUSDT"], INPUTS, FIRST_STORED, LAST_STORED,
            retry=FAST_RETRY, today=date(2024, 6, 1),
        )  # fmt: skip
    assert not report.problems
    return Lake(str(root))


def test_the_daily_date_and_a_backfill_range_give_the_same_map(lake: Lake) -> None:
    days = days_between(date(2024, 2, 10), DAYS[-1])
    in_range = maps_of(model_for(lake, "BTCUSDT", days[0], days[-1]), days, days)
    assert not in_range.missing and len(in_range.summary) == 3 * len(days)
    for day in DAYS:
        alone = maps_of(model_for(lake, "BTCUSDT", day, day), [day], [day])
        assert len(alone.summary) == 3 and not alone.bins.empty and not alone.heatmap.empty
        assert as_bytes(only(in_range, day)) == as_bytes(alone), day


def test_the_midnight_reading_is_filed_under_the_day_before_in_real_files(
    lake: Lake, request
) -> None:
    """What makes the second labelling matter: the 2024-01-31 00:00 reading (the first of
    March's passes) sits in 2024-01-30's partition there."""
    stored = lake.read(DATASETS["metrics"], "BTCUSDT", date(2024, 1, 30), date(2024, 1, 30))
    last = "2024-01-31 00:00" if "midnight-last" in request.node.name else "2024-01-30 23:55"
    assert stored["create_time"].max() == pd.Timestamp(last, tz="UTC")
