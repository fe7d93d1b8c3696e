"""A date's map read from the lake is the same whatever range it is made in: the daily
job's single date and a backfill's range both start the date's pass on its fixed day
(transforms/liqmap/passes.py), read through the lake's own day partitions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from flows.liqmap import maps_of, model_for
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from store.lake import Lake, days_between
from tests.conftest import FAST_RETRY
from tests.transforms.test_liqmap_correctness import as_bytes
from tests.transforms.test_liqmap_passes import only

pytestmark = [pytest.mark.server]

INPUTS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m"]
FIRST_STORED, LAST_STORED = date(2024, 1, 2), date(2024, 3, 5)
DAY = date(2024, 3, 3)  # its pass starts 2024-01-31; February's start 2024-01-02


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    root = tmp_path_factory.mktemp("pass-start") / "lake"
    files = build_archive(["BTCUSDT"], INPUTS, FIRST_STORED, LAST_STORED, monthly=False)
    with ArchiveMirror(files) as mirror:
        report = ingest(
            Lake(str(root)), mirror.base_url, ["BTCUSDT"], INPUTS, FIRST_STORED, LAST_STORED,
            retry=FAST_RETRY, today=date(2024, 6, 1),
        )  # fmt: skip
    assert not report.problems
    return Lake(str(root))


def test_the_daily_date_and_a_backfill_range_give_the_same_map(lake: Lake) -> None:
    alone = maps_of(model_for(lake, "BTCUSDT", DAY, DAY), [DAY], [DAY])
    days = days_between(date(2024, 2, 10), DAY + timedelta(days=2))
    in_range = maps_of(model_for(lake, "BTCUSDT", days[0], days[-1]), days, days)
    assert not in_range.missing and len(in_range.summary) == 3 * len(days)
    assert len(alone.summary) == 3 and not alone.bins.empty and not alone.heatmap.empty
    assert as_bytes(only(in_range, DAY)) == as_bytes(alone)
