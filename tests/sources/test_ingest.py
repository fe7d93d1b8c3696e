"""Archive -> lake through the real HTTP code path, against a loopback mirror."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import (
    archive_entry,
    build_archive,
    daily_file,
    metrics_csv,
    monthly_file,
)
from sources.binance_archive.ingest import ingest
from sources.binance_archive.parse import KLINE_COLUMNS
from sources.errors import UnknownSymbolError
from store.datasets import DATASETS
from store.lake import Lake
from tests.conftest import FAST_RETRY, SHARED_DATA, lake_files

pytestmark = pytest.mark.server

START, END = date(2024, 1, 1), date(2024, 1, 3)
TODAY = date(2024, 6, 1)
ALL = ["klines_1m", "klines_5m", "mark_klines_1m", "metrics", "funding_rate"]


def run(
    lake: Lake, mirror: ArchiveMirror, datasets=ALL, start=START, end=END, symbols=("BTCUSDT",)
):
    return ingest(
        lake, mirror.base_url, list(symbols), list(datasets), start, end,
        retry=FAST_RETRY, today=TODAY, concurrency=4,
    )  # fmt: skip


def source_frame(mirror: ArchiveMirror, path: str) -> pd.DataFrame:
    with zipfile.ZipFile(io.BytesIO(mirror.files[path])) as z:
        return pd.read_csv(io.BytesIO(z.read(z.namelist()[0])))


def metrics_path(day: date) -> str:
    return "/" + daily_file("metrics", "BTCUSDT", day).path


def test_happy_path_stores_exactly_the_source_rows(lake: Lake, mirror: ArchiveMirror) -> None:
    mirror.add(build_archive(["BTCUSDT"], ALL, START, END))
    report = run(lake, mirror)
    assert (
        report.summary()["failed"] == 0 and report.count("ingested") == 13
    )  # 4 daily x 3 + funding
    for name in ["klines_1m", "klines_5m", "mark_klines_1m", "metrics"]:
        stored = lake.read(DATASETS[name], "BTCUSDT", START, END)
        source = pd.concat(
            [
                source_frame(mirror, "/" + daily_file(name, "BTCUSDT", d).path)
                for d in (START, date(2024, 1, 2), END)
            ]
        )
        assert len(stored) == len(source), name
        for column in stored.columns:
            if column in ("open_time", "close_time"):
                expected = pd.to_datetime(source[column], unit="ms", utc=True).to_numpy()
            elif column == "create_time":
                expected = pd.to_datetime(source[column], utc=True).to_numpy()
            else:
                expected = source[column].to_numpy()
            assert (stored[column].to_numpy() == expected).all(), (name, column)
    funding = lake.read(DATASETS["funding_rate"], "BTCUSDT", START, END)
    source = source_frame(mirror, "/" + monthly_file("funding_rate", "BTCUSDT", START).path)
    assert list(funding["last_funding_rate"]) == list(source["last_funding_rate"][:9])


def test_a_rerun_downloads_nothing_and_changes_nothing(
    lake: Lake, mirror: ArchiveMirror, tmp_path: Path
) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics", "funding_rate"], START, END))
    run(lake, mirror, ["metrics", "funding_rate"])
    files_before = {p: (tmp_path / "lake" / p).read_bytes() for p in lake_files(tmp_path / "lake")}
    mirror.requests.clear()
    report = run(lake, mirror, ["metrics", "funding_rate"])
    assert mirror.requests == []
    assert report.count("skipped") == 4 and report.rows == 0
    assert {
        p: (tmp_path / "lake" / p).read_bytes() for p in lake_files(tmp_path / "lake")
    } == files_before


def test_duplicated_and_missing_metrics_rows_are_deduplicated_and_counted(
    lake: Lake, mirror: ArchiveMirror
) -> None:
    file = daily_file("metrics", "BTCUSDT", START)
    mirror.add(
        archive_entry(
            file,
            metrics_csv(
                "BTCUSDT", START, duplicate_rows=(3, 9), missing_rows=(20, 21, 22), shuffle=True
            ),
        )
    )
    run(lake, mirror, ["metrics"], START, START)
    stored = lake.read(DATASETS["metrics"], "BTCUSDT", START, START)
    assert len(stored) == 285 and stored["create_time"].is_monotonic_increasing
    entry = lake.ledger_entry(DATASETS["metrics"], "BTCUSDT", START)
    assert (entry.rows, entry.duplicates_dropped, entry.missing_rows) == (285, 2, 3)
    assert entry.source_url.endswith(file.path) and len(entry.source_sha256) == 64


def test_a_500_then_success_is_retried(lake: Lake, mirror: ArchiveMirror) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, START))
    mirror.inject(metrics_path(START), "500", "503")
    report = run(lake, mirror, ["metrics"], START, START)
    assert report.count("ingested") == 1
    assert len(lake.read(DATASETS["metrics"], "BTCUSDT", START, START)) == 288
    assert [f for p, f in mirror.requests if p == metrics_path(START)] == ["500", "503", None]


def test_a_connection_reset_mid_body_is_retried(lake: Lake, mirror: ArchiveMirror) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, START))
    mirror.inject(metrics_path(START), "reset")
    report = run(lake, mirror, ["metrics"], START, START)
    assert report.count("ingested") == 1
    assert len(lake.read(DATASETS["metrics"], "BTCUSDT", START, START)) == 288


def test_persistent_server_errors_fail_the_file_and_store_nothing(
    lake: Lake, mirror: ArchiveMirror, tmp_path: Path
) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, date(2024, 1, 2)))
    mirror.inject(metrics_path(START), "500", "500", "500")
    report = run(lake, mirror, ["metrics"], START, date(2024, 1, 2))
    [problem] = report.problems
    assert problem.status == "failed" and "after 3 attempts" in problem.error
    assert lake_files(tmp_path / "lake") == [
        "_ledger/binance/metrics/symbol=BTCUSDT/2024-01-02.json",
        "binance/metrics/symbol=BTCUSDT/date=2024-01-02/data.parquet",
    ]


def test_a_checksum_mismatch_stores_nothing_and_says_so(
    lake: Lake, mirror: ArchiveMirror, tmp_path: Path
) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, START))
    path = metrics_path(START)
    name = path.rsplit("/", 1)[1]
    mirror.files[path + ".CHECKSUM"] = f"{'0' * 64}  {name}\n".encode()
    [outcome] = run(lake, mirror, ["metrics"], START, START).outcomes
    assert (
        outcome.status == "failed"
        and "checksum mismatch" in outcome.error
        and "re-run" in outcome.error
    )
    assert lake_files(tmp_path / "lake") == []


def test_a_truncated_zip_is_a_corrupt_archive_and_keeps_the_previous_day(
    lake: Lake, mirror: ArchiveMirror, tmp_path: Path
) -> None:
    import hashlib

    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, START))
    run(lake, mirror, ["metrics"], START, START)
    before = {p: (tmp_path / "lake" / p).read_bytes() for p in lake_files(tmp_path / "lake")}
    path = metrics_path(START)
    truncated = mirror.files[path][: len(mirror.files[path]) // 2]
    name = path.rsplit("/", 1)[1]
    mirror.files[path] = truncated
    mirror.files[path + ".CHECKSUM"] = f"{hashlib.sha256(truncated).hexdigest()}  {name}\n".encode()
    # A re-ingest is forced by removing the ledger record: the stored day must survive the bad file.
    lake.fs.delete_file(lake.ledger_path(DATASETS["metrics"], "BTCUSDT", START))
    [outcome] = run(lake, mirror, ["metrics"], START, START).outcomes
    assert outcome.status == "failed" and "corrupt or truncated zip" in outcome.error
    data = "binance/metrics/symbol=BTCUSDT/date=2024-01-01/data.parquet"
    assert lake_files(tmp_path / "lake") == [data]
    assert (tmp_path / "lake" / data).read_bytes() == before[data]


def test_a_404_for_an_old_day_is_missing_and_for_yesterday_pending(
    lake: Lake, mirror: ArchiveMirror
) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, START))
    yesterday = date(2024, 5, 31)
    report = ingest(
        lake,
        mirror.base_url,
        ["BTCUSDT"],
        ["metrics"],
        START,
        date(2024, 1, 2),
        retry=FAST_RETRY,
        today=TODAY,
    )
    assert [(o.label, o.status) for o in report.problems] == [
        ("BTCUSDT metrics 2024-01-02", "missing")
    ]
    assert "404" in report.problems[0].error
    report = ingest(
        lake,
        mirror.base_url,
        ["BTCUSDT"],
        ["metrics"],
        yesterday,
        yesterday,
        retry=FAST_RETRY,
        today=TODAY,
    )
    assert [o.status for o in report.outcomes] == ["pending"] and report.problems == []


def test_a_missing_monthly_file_falls_back_to_daily_files(
    lake: Lake, mirror: ArchiveMirror
) -> None:
    feb_start, feb_end = date(2024, 2, 1), date(2024, 2, 29)
    mirror.add(build_archive(["BTCUSDT"], ["klines_5m"], feb_start, feb_end, monthly=False))
    report = run(lake, mirror, ["klines_5m"], feb_start, feb_end)
    assert report.count("ingested") == 29 and report.problems == []
    assert [p for p, _ in mirror.requests if "/monthly/" in p] == [
        "/" + monthly_file("klines_5m", "BTCUSDT", feb_start).path + ".CHECKSUM"
    ]
    assert len(lake.read(DATASETS["klines_5m"], "BTCUSDT", feb_start, feb_end)) == 29 * 288


def test_a_monthly_file_is_split_into_daily_partitions(lake: Lake, mirror: ArchiveMirror) -> None:
    feb_start, feb_end = date(2024, 2, 1), date(2024, 2, 29)
    mirror.add(build_archive(["BTCUSDT"], ["klines_5m"], feb_start, feb_end))
    run(lake, mirror, ["klines_5m"], feb_start, feb_end)
    assert mirror.zip_requests() == ["/" + monthly_file("klines_5m", "BTCUSDT", feb_start).path]
    day = lake.read(DATASETS["klines_5m"], "BTCUSDT", date(2024, 2, 10), date(2024, 2, 10))
    assert len(day) == 288 and set(day["open_time"].dt.day) == {10}


def test_a_symbol_the_archive_does_not_know_is_a_clear_error(
    lake: Lake, mirror: ArchiveMirror
) -> None:
    with pytest.raises(UnknownSymbolError, match="NOSUCHUSDT"):
        run(lake, mirror, ["metrics"], symbols=("NOSUCHUSDT",))


@pytest.mark.skipif(
    not (SHARED_DATA / "btcusdt").exists(), reason="shared/data/btcusdt (real archive CSVs) absent"
)
def test_real_archive_files_served_as_monthly_zips(lake: Lake, mirror: ArchiveMirror) -> None:
    """The real Dec-2024 (ms) and Jan-2025 (µs) files, zipped into the archive layout."""
    for month in (date(2024, 12, 1), date(2025, 1, 1)):
        raw = (SHARED_DATA / "btcusdt" / f"BTCUSDT-5m-{month:%Y-%m}.csv").read_bytes()
        mirror.add(archive_entry(monthly_file("klines_5m", "BTCUSDT", month), raw))
    report = ingest(
        lake, mirror.base_url, ["BTCUSDT"], ["klines_5m"], date(2024, 12, 1), date(2025, 1, 31),
        retry=FAST_RETRY, today=date(2025, 6, 1),
    )  # fmt: skip
    assert report.count("ingested") == 2 and report.rows == 2 * 8928
    frame = lake.read(DATASETS["klines_5m"], "BTCUSDT", date(2024, 12, 1), date(2025, 1, 31))
    assert len(frame) == 17856
    assert frame["open_time"].diff().dropna().eq(pd.Timedelta(minutes=5)).all()
    seed_day = lake.read(DATASETS["klines_5m"], "BTCUSDT", date(2025, 1, 8), date(2025, 1, 8))
    assert (seed_day["low"].min(), seed_day["high"].max()) == (92500.90, 97268.65)
    source = pd.read_csv(
        SHARED_DATA / "btcusdt" / "BTCUSDT-5m-2025-01.csv", header=None, names=KLINE_COLUMNS
    )
    assert (frame["close"].to_numpy()[8928:] == source["close"].to_numpy()).all()


def test_an_unreachable_archive_is_one_clear_error(lake: Lake, tmp_path: Path) -> None:
    import socket

    from sources.errors import ArchiveUnreachableError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(ArchiveUnreachableError, match="does not answer"):
        ingest(lake, closed, ["BTCUSDT"], ALL, START, END, retry=FAST_RETRY, today=TODAY)
    assert lake_files(tmp_path / "lake") == []


def test_the_monthly_404_fallback_stays_under_the_concurrency_limit(lake: Lake) -> None:
    """Two unpacked months fall back to 60 daily files: never more than 2 requests at once
    (the fallback used to run every daily file of a month at the same time)."""
    import asyncio

    import httpx

    from sources.binance_archive.client import ArchiveClient
    from sources.binance_archive.ingest import ingest_dataset_async

    first, last = date(2024, 3, 1), date(2024, 4, 30)
    files = build_archive(["BTCUSDT"], ["metrics", "klines_5m"], first, last, monthly=False)
    with ArchiveMirror(files, delay_s=0.01) as slow:

        async def go():
            async with httpx.AsyncClient() as http:  # no pool limit: the ingest must keep it
                client = ArchiveClient(slow.base_url, http, FAST_RETRY)
                return await ingest_dataset_async(
                    lake, client, "BTCUSDT", "klines_5m", first, last, concurrency=2, today=TODAY
                )

        report = asyncio.run(go())
    assert report.count("ingested") == 61 and report.problems == []
    assert 1 <= slow.max_in_flight <= 2


@pytest.mark.parametrize(
    ("start", "end", "phrase"),
    [
        (date(2004, 1, 1), date(2024, 1, 31), "before the archive begins"),
        (date(2024, 1, 1), date(2030, 1, 1), "after yesterday"),
        (date(2024, 1, 31), date(2024, 1, 1), "before start"),
    ],
)
def test_an_absurd_range_is_refused_before_any_request(
    lake: Lake, mirror: ArchiveMirror, tmp_path: Path, start: date, end: date, phrase: str
) -> None:
    from sources.errors import ArchiveRangeError

    with pytest.raises(ArchiveRangeError, match=phrase):
        run(lake, mirror, ["klines_1m"], start, end)
    assert mirror.requests == [] and lake_files(tmp_path / "lake") == []


def test_a_plain_rerun_refetches_a_day_whose_file_lost_its_recorded_size(
    lake: Lake, mirror: ArchiveMirror
) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, END))
    run(lake, mirror, ["metrics"])
    Path(lake.data_path(DATASETS["metrics"], "BTCUSDT", START)).write_bytes(b"cut short")
    mirror.requests.clear()
    report = run(lake, mirror, ["metrics"])
    assert report.count("skipped") == 2 and report.count("ingested") == 1
    assert len(lake.read(DATASETS["metrics"], "BTCUSDT", START, END)) == 3 * 288


def test_force_refetches_a_stored_corrupt_day_and_reads_then_work(
    lake: Lake, mirror: ArchiveMirror
) -> None:
    from store.errors import CorruptPartitionError

    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, END))
    run(lake, mirror, ["metrics"])
    broken = Path(lake.data_path(DATASETS["metrics"], "BTCUSDT", START))
    broken.write_bytes(b"x" * broken.stat().st_size)  # the size its record holds
    with pytest.raises(CorruptPartitionError, match="--force") as error:
        lake.read(DATASETS["metrics"], "BTCUSDT", START, END)
    assert str(broken) in str(error.value)
    mirror.requests.clear()
    assert run(lake, mirror, ["metrics"]).count("skipped") == 3  # plain re-run trusts it
    report = ingest(
        lake, mirror.base_url, ["BTCUSDT"], ["metrics"], START, START,
        retry=FAST_RETRY, today=TODAY, force=True,
    )  # fmt: skip
    assert report.count("ingested") == 1 and len(mirror.zip_requests()) == 1
    assert len(lake.read(DATASETS["metrics"], "BTCUSDT", START, END)) == 3 * 288
