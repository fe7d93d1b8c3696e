"""The extract flow and the ``liqbrief extract`` command under Prefect's test harness."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.extract import ExtractIncompleteError, extract
from liqbrief.cli import app
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import build_archive
from store.datasets import DATASETS
from store.lake import Lake

pytestmark = [pytest.mark.flow, pytest.mark.server]

START, END = date(2024, 1, 1), date(2024, 1, 2)


@pytest.fixture
def configured(prefect_harness, mirror: ArchiveMirror, tmp_path: Path, monkeypatch) -> Lake:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("LIQBRIEF_BINANCE_ARCHIVE_URL", mirror.base_url)
    return Lake(str(tmp_path / "lake"))


def test_the_flow_fills_the_lake_and_a_rerun_skips_everything(
    configured: Lake, mirror: ArchiveMirror
) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics", "klines_5m"], START, END))
    summary = extract(["BTCUSDT"], START, END, ["metrics", "klines_5m"])
    assert summary["ingested"] == 4 and summary["rows"] == 4 * 288
    assert len(configured.read(DATASETS["metrics"], "BTCUSDT", START, END)) == 576
    mirror.requests.clear()
    assert extract(["BTCUSDT"], START, END, ["metrics", "klines_5m"])["skipped"] == 4
    assert mirror.requests == []


def test_the_flow_fails_listing_what_was_not_stored_and_keeps_the_rest(
    configured: Lake, mirror: ArchiveMirror
) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, START))  # 2024-01-02 absent
    with pytest.raises(ExtractIncompleteError, match="BTCUSDT metrics 2024-01-02"):
        extract(["BTCUSDT"], START, END, ["metrics"])
    assert configured.ingested_days(DATASETS["metrics"], "BTCUSDT", [START, END]) == {START}


def test_many_missing_files_make_one_line_not_a_page(
    configured: Lake, mirror: ArchiveMirror
) -> None:
    """A backfill whose warm-up the archive lacks printed ~100 lines; the list now stays in
    the Prefect run (an artifact) and the error is one line."""
    mirror.add(build_archive(["BTCUSDT"], ["metrics", "klines_5m"], START, START))  # END absent
    with pytest.raises(ExtractIncompleteError) as caught:
        extract(["BTCUSDT"], START, END, ["metrics", "klines_5m"])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("2 archive file(s) were not stored (everything else was); first: ")
    assert "(and 1 more, listed in the Prefect run's artifact extract-problems)" in message


def test_the_flow_refuses_unknown_datasets(configured: Lake) -> None:
    with pytest.raises(ValueError, match="klines_5m"):
        extract(["BTCUSDT"], START, END, ["klines_7m"])


def test_cli_extract_fills_the_lake(configured: Lake, mirror: ArchiveMirror) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["funding_rate"], START, END))
    result = CliRunner().invoke(
        app,
        [
            "extract",
            "--symbols",
            "BTCUSDT",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
            "--datasets",
            "funding_rate",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "'ingested': 1" in result.output
    assert len(configured.read(DATASETS["funding_rate"], "BTCUSDT", START, END)) == 6


def test_cli_extract_names_a_symbol_the_archive_does_not_have(configured: Lake) -> None:
    result = CliRunner().invoke(
        app, ["extract", "--start", "2024-01-01", "--end", "2024-01-01", "--datasets", "metrics"]
    )
    assert result.exit_code == 1
    assert "no archive file exists for BTCUSDT" in result.output


def test_cli_extract_force_refetches_a_corrupt_day_that_lake_verify_found(
    configured: Lake, mirror: ArchiveMirror
) -> None:
    mirror.add(build_archive(["BTCUSDT"], ["metrics"], START, END))
    extract(["BTCUSDT"], START, END, ["metrics"])
    bad = Path(configured.data_path(DATASETS["metrics"], "BTCUSDT", END))
    bad.write_bytes(bad.read_bytes()[:-40] + bytes(40))
    verify = CliRunner().invoke(app, ["lake", "verify"])
    assert verify.exit_code == 1 and str(bad) in verify.output
    [command] = [line.strip() for line in verify.output.splitlines() if "--force" in line]
    mirror.requests.clear()
    result = CliRunner().invoke(app, command.split()[1:])  # exactly what verify printed
    assert result.exit_code == 0, result.output
    assert len(mirror.zip_requests()) == 1 and "'ingested': 1" in result.output
    assert CliRunner().invoke(app, ["lake", "verify"]).exit_code == 0
    assert len(configured.read(DATASETS["metrics"], "BTCUSDT", START, END)) == 2 * 288


def test_the_flow_refuses_a_twenty_year_range_before_any_request(
    configured: Lake, mirror: ArchiveMirror
) -> None:
    from sources.errors import ArchiveRangeError

    with pytest.raises(ArchiveRangeError, match="before the archive begins"):
        extract(["BTCUSDT"], date(2004, 1, 1), date(2024, 1, 1), ["klines_1m"])
    assert mirror.requests == []
