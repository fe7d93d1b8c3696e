"""`liqbrief extract --datasets liquidation_snapshot` as a user runs it: the real CLI in a
subprocess against a loopback mirror; it prints the coverage of the range, a 404 is no
failure, a bad file is (exit 1, one line), and bad options get one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import archive_entry, daily_file, liquidation_snapshot_csv
from tests.conftest import cli_env

pytestmark = pytest.mark.server
SYMBOL = "BTCUSDT"
RANGE = ("--start", "2023-07-01", "--end", "2023-07-03")


def serve(mirror: ArchiveMirror, day: date, events: int = 10) -> str:
    file = daily_file("liquidation_snapshot", SYMBOL, day)
    mirror.add(archive_entry(file, liquidation_snapshot_csv(SYMBOL, day, events=events)))
    return "/" + file.path


def extract(root: Path, mirror: ArchiveMirror, *args: str) -> subprocess.CompletedProcess:
    env = cli_env(root, LIQBRIEF_BINANCE_ARCHIVE_URL=mirror.base_url, LIQBRIEF_HTTP_ATTEMPTS="1")
    return subprocess.run(
        [sys.executable, "-m", "liqbrief.cli", "extract", "--symbols", SYMBOL, *args],
        env=env, cwd=root, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


@pytest.mark.flow
def test_extract_prints_the_coverage_and_a_rerun_finds_the_same(
    tmp_path: Path, mirror: ArchiveMirror
) -> None:
    serve(mirror, date(2023, 7, 1))
    serve(mirror, date(2023, 7, 2), events=4)  # 2023-07-03 answers 404
    args = ("--datasets", "liquidation_snapshot", *RANGE)
    first = extract(tmp_path, mirror, *args)
    assert first.returncode == 0, first.stderr
    line = (
        "liquidationSnapshot BTCUSDT 2023-07-01..2023-07-03: found 2 of 3 day(s) "
        "(first 2023-07-01, last 2023-07-02); not in the archive: 1"
    )
    assert line in first.stdout.splitlines()
    assert "'ingested': 2" in first.stderr and "'absent': 1" in first.stderr  # the summary
    assert "'rows': 14" in first.stderr
    mirror.requests.clear()
    again = extract(tmp_path, mirror, *args)
    assert again.returncode == 0 and line in again.stdout.splitlines()
    assert "'rows': 0" in again.stderr and "'skipped': 2" in again.stderr
    assert [p for p, _ in mirror.requests] == []  # nothing asked: stored or known absent


@pytest.mark.flow
def test_a_bad_file_fails_the_run_in_one_line_after_the_coverage(
    tmp_path: Path, mirror: ArchiveMirror
) -> None:
    serve(mirror, date(2023, 7, 1))
    bad = serve(mirror, date(2023, 7, 2))
    mirror.files[bad] = mirror.files[bad][:-20]  # truncated: no longer matches its checksum
    result = extract(tmp_path, mirror, "--datasets", "liquidation_snapshot", *RANGE)
    assert result.returncode == 1
    assert "found 1 of 3 day(s) (first 2023-07-01, last 2023-07-01)" in result.stdout
    assert "not known yet (failed or not published yet): 1" in result.stdout
    ours = [line for line in result.stderr.splitlines() if line.startswith("liqbrief extract:")]
    assert len(ours) == 1 and "checksum mismatch" in ours[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("--datasets", "liquidationSnapshot"), "unknown dataset 'liquidationSnapshot'"),
        (("--datasets", "liquidation_snapshot", "--start", "2019-01-01", "--end", "2019-01-02"),
         "before 2019-09-01"),
        (("--datasets", "liquidation_snapshot", "--start", "2024-03-05", "--end", "2024-03-01"),
         "is before --start"),
        (("--datasets", "liquidation_snapshot", "--end", "2999-01-01"), "is in the future"),
    ],
)  # fmt: skip
def test_bad_options_get_one_line_and_exit_2(
    tmp_path: Path, mirror: ArchiveMirror, args: tuple[str, ...], phrase: str
) -> None:
    result = extract(tmp_path, mirror, *args)
    assert result.returncode == 2 and phrase in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) <= 2
    assert mirror.requests == [] and not (tmp_path / "lake").exists()
