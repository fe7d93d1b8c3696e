"""Backfills under Prefect's harness: resume after a partial run, failed days, no double e-mail."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from flows.backfill import BackfillFailedError, backfill
from liqbrief import progress
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.smtp_inbox import Inbox, free_port
from liqbrief.testing.synthetic_archive import build_archive

pytestmark = [pytest.mark.flow, pytest.mark.server]
DATASETS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m", "funding_rate"]


@pytest.fixture
def world(prefect_harness, tmp_path: Path, monkeypatch):
    mirror = ArchiveMirror(
        build_archive(["BTCUSDT"], DATASETS, date(2024, 1, 1), date(2024, 2, 8), monthly=False)
    ).start()
    fred = FredServer({"DGS2": pd.DataFrame({"date": ["2024-02-01"], "value": [4.3]})}).__enter__()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    for name, value in {
        "LIQBRIEF_LAKE": str(tmp_path / "lake"), "LIQBRIEF_REPORTS_DIR": str(tmp_path / "out"),
        "LIQBRIEF_BINANCE_ARCHIVE_URL": mirror.base_url, "LIQBRIEF_FRED_CSV_URL": fred.base_url,
        "LIQBRIEF_SMTP_HOST": "127.0.0.1", "LIQBRIEF_SMTP_PORT": str(smtp.port), "LIQBRIEF_SMTP_SECURITY": "none",
        "LIQBRIEF_DESK_TO": "desk@example.com",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    yield tmp_path / "out", inbox
    smtp.stop()
    fred.__exit__(None, None, None)
    mirror.stop()


def briefings(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("liqbrief-*"))


def test_a_backfill_resumes_without_duplicates_or_double_mail(world) -> None:
    out, inbox = world
    first = backfill(date(2024, 2, 5), date(2024, 2, 6), ["BTCUSDT"], send=True)
    assert first["done"] == ["2024-02-05", "2024-02-06"]
    # as if the run had died after two days: the re-run over four days completes the rest
    second = backfill(date(2024, 2, 5), date(2024, 2, 8), ["BTCUSDT"], send=True)
    assert second == {"done": ["2024-02-07", "2024-02-08"], "skipped": ["2024-02-05", "2024-02-06"]}
    assert briefings(out) == [
        f"2024-02-0{d}/liqbrief-2024-02-0{d}.{ext}" for d in (5, 6, 7, 8) for ext in ("html", "pdf")
    ]
    subjects = sorted(m["Subject"][:19] for m in inbox.messages)
    assert subjects == [f"liqbrief 2024-02-0{d}" for d in (5, 6, 7, 8)]  # each day once
    # the track record: the day before each briefing scored, each briefing date's summaries
    from store.datasets import DATASETS as LAKE_DATASETS
    from store.lake import Lake

    lake = Lake(os.environ["LIQBRIEF_LAKE"])
    scored = lake.read(LAKE_DATASETS["validation"], "BTCUSDT", date(2024, 2, 1), date(2024, 2, 9))
    assert sorted(set(scored["date"].astype(str))) == [f"2024-02-0{d}" for d in (4, 5, 6, 7)]
    track = lake.read(LAKE_DATASETS["validation_summary"], "BTCUSDT", date(2024, 2, 1), date(2024, 2, 9))  # fmt: skip
    assert sorted(set(track["date"].astype(str))) == [f"2024-02-0{d}" for d in (5, 6, 7, 8)]


def test_complete_days_not_yet_sent_go_out_when_a_rerun_sends(world) -> None:
    """A backfill without --send (or whose sending failed), then one with it over the same
    complete days: nothing is left to render, and each day is still mailed, once."""
    _, inbox = world
    assert backfill(date(2024, 2, 5), date(2024, 2, 6), ["BTCUSDT"])["done"] == ["2024-02-05", "2024-02-06"]  # fmt: skip
    assert inbox.messages == []
    again = backfill(date(2024, 2, 5), date(2024, 2, 6), ["BTCUSDT"], send=True)
    assert again == {"done": [], "skipped": ["2024-02-05", "2024-02-06"]}
    assert sorted(m["Subject"][:19] for m in inbox.messages) == ["liqbrief 2024-02-05", "liqbrief 2024-02-06"]  # fmt: skip
    assert all(m["Date"] for m in inbox.messages)  # RFC 5322: every message is dated
    backfill(date(2024, 2, 5), date(2024, 2, 6), ["BTCUSDT"], send=True)
    assert len(inbox.messages) == 2  # the sent-ledger: nobody gets a day twice


def test_a_failed_day_does_not_stop_the_others_and_the_run_names_it(world) -> None:
    out, inbox = world
    out.mkdir(parents=True)
    (out / "2024-02-07").write_text(
        "a file where the day's folder should go"
    )  # that day cannot be written
    events: list[tuple[str, int]] = []
    with (
        progress.reporting_to(lambda event, n: events.append((event, n))),
        pytest.raises(BackfillFailedError, match="2024-02-07") as error,
    ):
        backfill(date(2024, 2, 6), date(2024, 2, 8), ["BTCUSDT"])
    # the progress bar reaches its end, failed day included
    advanced = sum(n for event, n in events if event == "advance")
    assert advanced == sum(n for event, n in events if event == "total") and advanced >= 3
    assert "1 of 3 day(s) failed" in str(error.value)
    assert briefings(out) == [
        f"2024-02-0{d}/liqbrief-2024-02-0{d}.{ext}" for d in (6, 8) for ext in ("html", "pdf")
    ]
    assert inbox.messages == []  # backfills never e-mail unless asked


def test_worker_processes_render_the_same_bytes_as_the_flow_process(world, monkeypatch) -> None:
    out, _ = world
    monkeypatch.setenv("LIQBRIEF_RENDER_WORKERS", "2")
    assert backfill(date(2024, 2, 5), date(2024, 2, 8), ["BTCUSDT"])["done"] == [
        f"2024-02-0{d}" for d in (5, 6, 7, 8)
    ]
    from flows.briefing import write_briefing
    from store.lake import Lake

    here = write_briefing(
        Lake(os.environ["LIQBRIEF_LAKE"]), date(2024, 2, 7), ["BTCUSDT"], out.parent / "here"
    )
    there = (
        out / "2024-02-07" / "liqbrief-2024-02-07.html",
        out / "2024-02-07" / "liqbrief-2024-02-07.pdf",
    )
    assert [Path(p).read_bytes() for p in here] == [p.read_bytes() for p in there]


def test_the_progress_counts_days_not_the_extract_files(world) -> None:
    events: list[tuple[str, int]] = []
    with progress.reporting_to(lambda event, n: events.append((event, n))):
        backfill(date(2024, 2, 6), date(2024, 2, 7), ["BTCUSDT"])
    assert [n for event, n in events if event == "total"] == [2]
    assert sum(n for event, n in events if event == "advance") == 2


def test_a_day_whose_map_cannot_be_written_fails_and_a_rerun_retries_it(world) -> None:
    out, _ = world
    lake = Path(os.environ["LIQBRIEF_LAKE"])
    blocked = lake / "binance" / "liqmap_summary" / "symbol=BTCUSDT" / "date=2024-02-07"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the day's map partition should go")
    with pytest.raises(BackfillFailedError, match=r"2024-02-07: failed: map BTCUSDT") as error:
        backfill(date(2024, 2, 6), date(2024, 2, 8), ["BTCUSDT"])
    assert "1 of 3 day(s) failed" in str(error.value)
    assert briefings(out) == [
        f"2024-02-0{d}/liqbrief-2024-02-0{d}.{ext}" for d in (6, 8) for ext in ("html", "pdf")
    ]
    blocked.unlink()
    again = backfill(date(2024, 2, 6), date(2024, 2, 8), ["BTCUSDT"])
    assert again == {"done": ["2024-02-07"], "skipped": ["2024-02-06", "2024-02-08"]}


def test_a_backfill_needs_no_archive_when_the_lake_has_every_input(world, monkeypatch) -> None:
    backfill(date(2024, 2, 7), date(2024, 2, 7), ["BTCUSDT"])
    monkeypatch.setenv("LIQBRIEF_BINANCE_ARCHIVE_URL", "http://127.0.0.1:9")  # nothing listens
    again = backfill(date(2024, 2, 7), date(2024, 2, 7), ["BTCUSDT"], force=True)
    assert again == {"done": ["2024-02-07"], "skipped": []}


def test_an_unreachable_archive_fails_only_the_days_that_lack_inputs(world, monkeypatch) -> None:
    """The lake has what the map and context of 2024-02-07 read, but not the extra day the
    extract range asks for (31 days back): the archive's silence is a warning, not a failure."""
    backfill(date(2024, 2, 7), date(2024, 2, 7), ["BTCUSDT"])
    lake = Path(os.environ["LIQBRIEF_LAKE"])
    extra = [*lake.rglob("date=2024-01-07"), *lake.rglob("2024-01-07.json")]
    assert len(extra) >= 10  # five datasets: data and ledger
    for path in extra:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    monkeypatch.setenv("LIQBRIEF_BINANCE_ARCHIVE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LIQBRIEF_HTTP_ATTEMPTS", "1")
    again = backfill(date(2024, 2, 7), date(2024, 2, 7), ["BTCUSDT"], force=True)
    assert again == {"done": ["2024-02-07"], "skipped": []}


def test_an_end_before_the_start_is_refused_by_the_flow(world) -> None:
    with pytest.raises(ValueError, match="the end is before the start"):
        backfill(date(2024, 2, 7), date(2024, 2, 6), ["BTCUSDT"])


def test_a_deployment_symbol_is_checked_at_the_flow_edge(world) -> None:
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match=r"invalid symbol '\.\./x'"):
        backfill(date(2024, 2, 7), date(2024, 2, 7), ["../x"])


def test_a_day_without_fresh_inputs_fails_with_the_engines_reason(world) -> None:
    """The archive ends on 2024-02-08: 2024-02-10's snapshot has no price or open interest
    in the hour before it, so it gets no map and fails (named, retried by a re-run); the day
    before it is briefed."""
    out, _ = world
    with pytest.raises(BackfillFailedError, match="2024-02-10: failed: map BTCUSDT") as error:
        backfill(date(2024, 2, 9), date(2024, 2, 10), ["BTCUSDT"])
    assert "in the hour before the snapshot" in str(error.value)
    assert briefings(out) == [f"2024-02-09/liqbrief-2024-02-09.{ext}" for ext in ("html", "pdf")]
