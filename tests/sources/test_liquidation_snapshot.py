"""liquidationSnapshot files -> realised liquidations through the real HTTP code path, against a
loopback mirror serving files in the archive's format: some days present, some 404, one with a
bad checksum, one listing every row twice (as real 2023-2024 files do)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import (
    archive_entry,
    daily_file,
    liquidation_snapshot_csv,
)
from sources.binance_archive.client import ArchiveClient
from sources.binance_archive.ingest import ingest
from sources.binance_archive.parse import parse_liquidation_snapshot
from sources.binance_archive.snapshot_ingest import ingest_snapshots_async, snapshot_coverage
from sources.errors import CorruptArchiveError, UnexpectedColumnsError
from sources.liquidation_streams.binance import parse_binance
from store.archive_probes import read_absences
from store.lake import Lake, days_between
from store.realised import read_coverage, read_realised
from tests.conftest import FAST_RETRY

pytestmark = pytest.mark.server

SYMBOL = "BTCUSDT"
DAYS = days_between(date(2023, 7, 1), date(2023, 7, 6))
FOUND, DOUBLED, NOT_SERVED, BAD_CHECKSUM, EMPTY, ALSO_NOT_SERVED = DAYS
TODAY = date(2024, 6, 1)
# the documented sample row (a COIN-M file quoted by a user of the real files)
SAMPLE_ROW = "1709598391022,SELL,LIMIT,IOC,1,67934.2,68203.4,FILLED,1,1"
HEADER = (
    "time,side,order_type,time_in_force,original_quantity,price,average_price,order_status,"
    "last_fill_quantity,accumulated_fill_quantity"
)


def path_of(day: date) -> str:
    return "/" + daily_file("liquidation_snapshot", SYMBOL, day).path


def serve(mirror: ArchiveMirror, day: date, content: bytes) -> None:
    mirror.add(archive_entry(daily_file("liquidation_snapshot", SYMBOL, day), content))


def served_lines(mirror: ArchiveMirror, days: list[date]) -> list[str]:
    """The data lines of the zips the mirror serves for ``days`` (header dropped)."""
    lines = []
    for day in days:
        with zipfile.ZipFile(io.BytesIO(mirror.files[path_of(day)])) as z:
            lines += z.read(z.namelist()[0]).decode().splitlines()[1:]
    return lines


@pytest.fixture
def world(mirror: ArchiveMirror) -> ArchiveMirror:
    serve(mirror, FOUND, liquidation_snapshot_csv(SYMBOL, FOUND))
    serve(mirror, DOUBLED, liquidation_snapshot_csv(SYMBOL, DOUBLED, doubled=True))
    serve(mirror, BAD_CHECKSUM, liquidation_snapshot_csv(SYMBOL, BAD_CHECKSUM))
    name = path_of(BAD_CHECKSUM).rsplit("/", 1)[1]
    mirror.files[path_of(BAD_CHECKSUM) + ".CHECKSUM"] = f"{'0' * 64}  {name}\n".encode()
    serve(mirror, EMPTY, liquidation_snapshot_csv(SYMBOL, EMPTY, events=0))
    return mirror


def run(lake: Lake, mirror: ArchiveMirror, *, force: bool = False, now: datetime | None = None):
    async def go():
        async with httpx.AsyncClient(timeout=10) as http:
            client = ArchiveClient(mirror.base_url, http, FAST_RETRY)
            return await ingest_snapshots_async(
                lake, client, SYMBOL, DAYS[0], DAYS[-1],
                concurrency=3, today=TODAY, force=force, now=now,
            )  # fmt: skip

    return asyncio.run(go())


def lake_bytes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*.parquet")
    }


def test_the_lake_holds_each_served_liquidation_once_with_sides_normalised(
    lake: Lake, world: ArchiveMirror
) -> None:
    report = run(lake, world)
    status = {o.label.rsplit(" ", 1)[1]: o.status for o in report.outcomes}
    assert status == {
        str(FOUND): "ingested", str(DOUBLED): "ingested", str(NOT_SERVED): "absent",
        str(BAD_CHECKSUM): "failed", str(EMPTY): "ingested", str(ALSO_NOT_SERVED): "absent",
    }  # fmt: skip
    [failed] = report.problems
    assert "checksum mismatch" in failed.error
    stored = read_realised(lake, "binance", SYMBOL, DAYS[0], DAYS[-1])
    expected = sorted(set(served_lines(world, [FOUND, DOUBLED, EMPTY])))
    assert len(served_lines(world, [DOUBLED])) == 2 * len(set(served_lines(world, [DOUBLED])))
    assert sorted(stored["raw"]) == expected and len(stored) == 80  # once each
    fields = stored["raw"].str.split(",", expand=True)
    assert (stored["side"] == fields[1].map({"SELL": "long", "BUY": "short"})).all()
    assert set(stored["side"]) == {"long", "short"}
    assert (stored["time"] == pd.to_datetime(fields[0].astype("int64"), unit="ms", utc=True)).all()
    assert (stored["price"] == fields[6].astype(float)).all()  # the average fill price
    assert (stored["quantity"] == fields[9].astype(float)).all()  # the filled quantity
    assert (stored["source"] == "archive").all() and stored["received_at"].isna().all()
    assert report.rows == 80


def test_coverage_rows_and_the_coverage_line_name_the_days_found_only(
    lake: Lake, world: ArchiveMirror
) -> None:
    run(lake, world)
    coverage = read_coverage(lake, "binance", SYMBOL, DAYS[0], DAYS[-1])
    starts = [t.date() for t in coverage["start"]]
    assert starts == [FOUND, DOUBLED, EMPTY] and (coverage["source"] == "archive").all()
    assert ((coverage["end"] - coverage["start"]) == pd.Timedelta(days=1)).all()
    line = snapshot_coverage(lake, SYMBOL, DAYS[0], DAYS[-1]).line()
    assert f"found 3 of 6 day(s) (first {FOUND}, last {EMPTY})" in line
    assert "not in the archive: 2" in line and "not known yet (failed" in line and ": 1" in line


def test_a_rerun_adds_nothing_and_asks_only_for_the_failed_day(
    lake: Lake, world: ArchiveMirror, tmp_path: Path
) -> None:
    run(lake, world)
    before = lake_bytes(tmp_path / "lake")
    world.requests.clear()
    report = run(lake, world)
    assert report.summary() == {
        "ingested": 0, "skipped": 3, "pending": 0, "missing": 0, "failed": 1, "absent": 2,
        "rows": 0,
    }  # fmt: skip
    asked = {p for p, _ in world.requests} - {"/"}  # "/": the reachability check
    assert asked == {path_of(BAD_CHECKSUM) + ".CHECKSUM", path_of(BAD_CHECKSUM)}
    assert lake_bytes(tmp_path / "lake") == before
    forced = run(lake, world, force=True)  # every day asked again: still nothing new
    assert forced.count("ingested") == 3 and forced.rows == 0
    assert len(read_realised(lake, "binance", SYMBOL, DAYS[0], DAYS[-1])) == 80


def test_a_day_published_later_is_picked_up_once_its_absence_is_old(
    lake: Lake, world: ArchiveMirror
) -> None:
    first = datetime(2024, 6, 1, 12, tzinfo=UTC)
    run(lake, world, now=first)
    assert sorted(read_absences(lake, "binance", "liquidation_snapshot", SYMBOL)) == [
        NOT_SERVED, ALSO_NOT_SERVED,
    ]  # fmt: skip
    serve(world, NOT_SERVED, liquidation_snapshot_csv(SYMBOL, NOT_SERVED, events=5))
    assert run(lake, world, now=first + timedelta(days=29)).count("absent") == 2  # trusted
    later = run(lake, world, now=first + timedelta(days=31))
    assert later.count("ingested") == 1 and later.rows == 5
    assert list(read_absences(lake, "binance", "liquidation_snapshot", SYMBOL)) == [ALSO_NOT_SERVED]
    assert NOT_SERVED in snapshot_coverage(lake, SYMBOL, DAYS[0], DAYS[-1]).found


def test_the_archive_having_nothing_is_not_a_failure(lake: Lake, mirror: ArchiveMirror) -> None:
    """As today: every day 404s. The public ingest reports them absent, raises nothing."""
    report = ingest(
        lake, mirror.base_url, [SYMBOL], ["liquidation_snapshot"], DAYS[0], DAYS[-1],
        retry=FAST_RETRY, today=TODAY,
    )  # fmt: skip
    assert report.count("absent") == 6 and report.problems == []
    line = snapshot_coverage(lake, SYMBOL, DAYS[0], DAYS[-1]).line()
    assert "found 0 of 6 day(s); not in the archive: 6" in line and "withdrawn" in line


# -- the file format, read by the stream's own extractor ------------------------------------


def test_a_row_reads_as_the_same_forceorder_event_reads() -> None:
    [row] = parse_liquidation_snapshot(f"{HEADER}\n{SAMPLE_ROW}\n".encode(), SYMBOL, "x")
    event = {
        "e": "forceOrder", "E": 1709598391100,
        "o": {"s": SYMBOL, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "1", "p": "67934.2",
              "ap": "68203.4", "X": "FILLED", "l": "1", "z": "1", "T": 1709598391022},
    }  # fmt: skip
    [streamed] = parse_binance(event, None).liquidations
    assert (row.side, row.price, row.quantity) == ("long", 68203.4, 1.0)  # SELL order: a long
    assert row.liq_id == streamed.liq_id and row.raw == SAMPLE_ROW
    buy = SAMPLE_ROW.replace("SELL", "BUY")
    [short] = parse_liquidation_snapshot(f"{HEADER}\n{buy}\n".encode(), SYMBOL, "x")
    assert short.side == "short"


def test_a_headerless_file_reads_like_one_with_a_header() -> None:
    content = liquidation_snapshot_csv(SYMBOL, FOUND, events=7)
    headerless = liquidation_snapshot_csv(SYMBOL, FOUND, events=7, header=False)
    assert parse_liquidation_snapshot(headerless, SYMBOL, "x") == parse_liquidation_snapshot(
        content, SYMBOL, "x"
    )


@pytest.mark.parametrize(
    ("content", "error", "phrase"),
    [
        (f"time,symbol,side\n{SAMPLE_ROW}\n", UnexpectedColumnsError, "differ from the expected"),
        (f"{HEADER}\n{SAMPLE_ROW}\n{SAMPLE_ROW.replace('SELL', 'HOLD')}\n", CorruptArchiveError,
         "line 3: field 'S' is 'HOLD'"),
        (f"{HEADER}\n{SAMPLE_ROW},extra\n", CorruptArchiveError, "line 2: 11 fields, expected 10"),
        (f"{HEADER}\n{SAMPLE_ROW.replace('67934.2,68203.4', 'x,0')}\n", CorruptArchiveError,
         "line 2: field 'p' is 'x'"),
        (f"{HEADER}\n{SAMPLE_ROW.replace('1709598391022', '1709598391')}\n", CorruptArchiveError,
         "line 2: field 'T' is '1709598391', not epoch milliseconds"),
        ("", CorruptArchiveError, "empty"),
    ],
)  # fmt: skip
def test_an_unreadable_file_fails_whole_naming_the_line(content, error, phrase) -> None:
    with pytest.raises(error, match=phrase):
        parse_liquidation_snapshot(content.encode(), SYMBOL, "BTCUSDT liquidation_snapshot d")


def test_the_files_live_where_the_archive_kept_them_daily_only() -> None:
    """binance-public-data #259 names data/futures/um/daily/liquidationSnapshot/BTCUSDT/
    BTCUSDT-liquidationSnapshot-2023-07-31; there were never monthly files."""
    from sources.binance_archive.layout import ARCHIVE_DATASETS, plan_files

    files = plan_files(
        ARCHIVE_DATASETS["liquidation_snapshot"], SYMBOL, date(2023, 7, 1), date(2023, 7, 31),
        TODAY,
    )  # fmt: skip
    assert len(files) == 31 and {f.period for f in files} == {"daily"}
    assert files[-1].path == (
        "data/futures/um/daily/liquidationSnapshot/BTCUSDT/BTCUSDT-liquidationSnapshot-2023-07-31.zip"
    )


def _stream_row(day: date) -> pd.DataFrame:
    """One liquidation the stream recorder stored on ``day`` (kept by a forced re-fetch)."""
    from sources.liquidation_streams.binance import parse_binance as parse
    from sources.liquidation_streams.model import liquidations_frame

    time_ms = int(pd.Timestamp(day, tz="UTC").timestamp() * 1000) + 5
    event = {"e": "forceOrder", "E": time_ms, "o": {"s": SYMBOL, "S": "SELL", "q": "1",
             "p": "9", "ap": "9", "l": "1", "z": "1", "T": time_ms}}  # fmt: skip
    return liquidations_frame(parse(event, None).liquidations, time_ms * 1000, "stream")


def test_force_replaces_a_republished_days_archive_rows_and_keeps_the_stream_rows(
    lake: Lake, world: ArchiveMirror
) -> None:
    from store.realised import merge_realised

    run(lake, world)
    merge_realised(lake, "binance", SYMBOL, _stream_row(FOUND), "spool:test")
    republished = liquidation_snapshot_csv(SYMBOL, FOUND).replace(
        b".", b"1.", 1
    )  # a corrected field
    serve(world, FOUND, republished)
    forced = run(lake, world, force=True)
    assert forced.count("ingested") == 3
    stored = read_realised(lake, "binance", SYMBOL, FOUND, FOUND)
    archive = stored[stored["source"] == "archive"]
    assert sorted(archive["raw"]) == sorted(served_lines(world, [FOUND]))  # the new file only
    assert len(archive) == 40 and (stored["source"] == "stream").sum() == 1


def test_force_repairs_a_corrupt_archive_day_and_sets_the_bad_file_aside(
    lake: Lake, world: ArchiveMirror, tmp_path: Path
) -> None:
    from store.datasets import realised_dataset
    from store.verify import verify_lake

    run(lake, world)
    path = Path(lake.data_path(realised_dataset("binance"), SYMBOL, FOUND))
    path.write_bytes(b"junk")
    assert not verify_lake(lake).ok
    forced = run(lake, world, force=True)
    assert forced.count("ingested") == 3, [o.error for o in forced.problems]
    stored = read_realised(lake, "binance", SYMBOL, FOUND, FOUND)
    assert sorted(stored["raw"]) == sorted(served_lines(world, [FOUND]))
    assert verify_lake(lake).ok
    [aside] = (tmp_path / "lake" / "_set_aside").rglob("*.parquet")
    assert aside.read_bytes() == b"junk"  # kept for the operator


def test_a_day_that_fails_after_a_404_is_not_called_absent(
    lake: Lake, world: ArchiveMirror
) -> None:
    run(lake, world)
    serve(world, NOT_SERVED, liquidation_snapshot_csv(SYMBOL, NOT_SERVED))
    name = path_of(NOT_SERVED).rsplit("/", 1)[1]
    world.files[path_of(NOT_SERVED) + ".CHECKSUM"] = f"{'0' * 64}  {name}\n".encode()
    forced = run(lake, world, force=True)
    assert {o.label.rsplit(" ", 1)[1] for o in forced.problems} == {
        str(NOT_SERVED),
        str(BAD_CHECKSUM),
    }
    coverage = snapshot_coverage(lake, SYMBOL, DAYS[0], DAYS[-1])
    assert coverage.absent == [ALSO_NOT_SERVED]  # NOT_SERVED failed: not known, not absent
    assert "not in the archive: 1" in coverage.line() and ": 2" in coverage.line()
