"""The intraday snapshot (flows/intraday.py): the book as of a whole hour, no look-ahead.

Byte test: every input row after the hour perturbed (open interest tripled, prices moved 10 %)
leaves the map's summary byte for byte; one row before the hour changed moves it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from flows.intraday import intraday_map
from liqbrief.json_output import strict_json
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import FAST_RETRY

pytestmark = [pytest.mark.server]

DAY = date(2024, 2, 4)
AT = datetime(2024, 2, 4, 14, tzinfo=UTC)
INPUTS = ["metrics", "klines_5m", "mark_klines_1m"]
PRICES = ["open", "high", "low", "close"]


@pytest.fixture(scope="module")
def hour_lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("intraday") / "lake"
    with ArchiveMirror(
        build_archive(["BTCUSDT"], INPUTS, date(2024, 1, 4), DAY, monthly=False)
    ) as m:
        report = ingest(Lake(str(root)), m.base_url, ["BTCUSDT"], INPUTS, date(2024, 1, 4), DAY,
                        retry=FAST_RETRY, today=date(2024, 6, 1))  # fmt: skip
    assert not report.problems
    return root


def perturb(lake: Lake, after: bool, rows_changed: int | None = None) -> None:
    """Change the day's rows after the hour (or the last ``rows_changed`` before it)."""
    for name in INPUTS:
        ds = DATASETS[name]
        frame = lake.read(ds, "BTCUSDT", DAY, DAY)
        stamp = pd.Timestamp(AT)
        later = (
            frame[ds.time_column] >= stamp if name != "metrics" else frame[ds.time_column] > stamp
        )
        chosen = later if after else frame.index.isin(frame.index[~later][-rows_changed:])
        if name == "metrics":
            frame.loc[chosen, "sum_open_interest"] *= 3
        else:
            frame.loc[chosen, PRICES] *= 1.1
        table = pa.Table.from_pandas(frame, schema=ds.schema, preserve_index=False)
        entry = lake.ledger_entry(ds, "BTCUSDT", DAY)
        lake.write_day(ds, DAY, table, replace(entry, source_url="rest:binance:/test"))


def test_the_hour_map_reads_nothing_after_the_hour(hour_lake: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "lake"
    shutil.copytree(hour_lake, root)
    lake = Lake(str(root))
    before = intraday_map(lake, "BTCUSDT", AT)
    assert before.summary["long_total_usd"] > 0 and before.rest_days == []
    assert (
        before.cutoff_line()
        == "Book as of 14:00 UTC 04 Feb 2024; every hour from the Binance archive"
    )
    perturb(lake, after=True)
    after = intraday_map(lake, "BTCUSDT", AT)
    assert strict_json(after.summary) == strict_json(before.summary)
    assert after.rest_days == [DAY]  # the rewritten day's ledger names REST
    assert after.cutoff_line().endswith(
        "from Binance REST (the archive lacks them): 04 Feb 00:00 – 04 Feb 14:00 UTC"
    )
    perturb(lake, after=False, rows_changed=3)  # the last readings before the hour do count
    assert strict_json(intraday_map(lake, "BTCUSDT", AT).summary) != strict_json(before.summary)
