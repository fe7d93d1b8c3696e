"""A backfill on a real Dask cluster (a distributed LocalCluster of two worker processes):
the same files as the single-machine path; a worker killed mid-run, then a re-run,
completes every day exactly once.

The archive inputs are ingested once for the module and each run starts from a copy of that
lake (the extract runs on the machine, never on the cluster: downloading them again per run
proved nothing here and cost most of the module's time)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client, LocalCluster

from flows.backfill import BackfillFailedError, backfill
from flows.backfill_cluster import brief_batch_on_worker, collect_batches, render_batches
from flows.cluster import WarmWorker, worker_environment
from flows.daily import daily_briefing
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from store.lake import Lake
from tests.conftest import FAST_RETRY, cli_env
from tests.flows.test_backfill_interrupt import live_members

pytestmark = [pytest.mark.flow, pytest.mark.server]
DATASETS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m", "funding_rate"]
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
ARCHIVE = (date(2024, 1, 1), date(2024, 2, 12))  # the mirror's days
# the lake's tables the backfill writes: maps, context, track record (data, not ledgers)
COMPARED = ("liqmap_", "market_context", "records", "macro_", "validation")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Client]:
    """Two single-threaded worker processes, as a small real cluster would have."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        Client(local) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def sources() -> Iterator[dict[str, str]]:
    """A loopback archive (two symbols, 2024-01-01 .. 2024-02-12) and FRED."""
    archive = build_archive(SYMBOLS, DATASETS, *ARCHIVE, monthly=False)
    with ArchiveMirror(archive) as mirror:
        fred = FredServer({"DGS2": pd.DataFrame({"date": ["2024-02-01"], "value": [4.3]})})
        with fred:
            yield {
                "LIQBRIEF_BINANCE_ARCHIVE_URL": mirror.base_url,
                "LIQBRIEF_FRED_CSV_URL": fred.base_url,
            }


@pytest.fixture(scope="module")
def built_lake(sources: dict[str, str], tmp_path_factory) -> Path:
    """Every archive input of the mirror's days for both symbols, ingested once."""
    root = tmp_path_factory.mktemp("built") / "lake"
    report = ingest(Lake(str(root)), sources["LIQBRIEF_BINANCE_ARCHIVE_URL"], SYMBOLS, DATASETS,
                    *ARCHIVE, retry=FAST_RETRY, today=date(2025, 1, 1))  # fmt: skip
    assert not report.problems
    return root


def use(
    where: Path, sources: dict[str, str], monkeypatch, address: str | None, built: Path
) -> None:
    """Run in ``where``: a copy of the built lake, the loopback sources, Dask or not."""
    shutil.copytree(built, where / "lake")
    for name, value in sources.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIQBRIEF_LAKE", str(where / "lake"))
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(where / "out"))
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    monkeypatch.delenv("COINGLASS_API_KEY", raising=False)
    if address:
        monkeypatch.setenv("LIQBRIEF_DASK_ADDRESS", address)
    else:
        monkeypatch.delenv("LIQBRIEF_DASK_ADDRESS", raising=False)


def produced(where: Path) -> dict[str, bytes]:
    """The tables' parquet files and the HTML briefings, by relative path."""
    lake = where / "lake"
    tables = {
        p.relative_to(lake).as_posix(): p.read_bytes()
        for p in lake.rglob("*.parquet")
        if p.relative_to(lake).parts[1].startswith(COMPARED)
    }
    html = {p.relative_to(where).as_posix(): p.read_bytes() for p in where.rglob("*.html")}
    return tables | html


def briefings(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def test_the_cluster_writes_the_same_files_as_one_machine(
    prefect_harness, cluster: Client, sources, built_lake: Path, tmp_path: Path, monkeypatch
) -> None:
    start, end = date(2024, 2, 5), date(2024, 2, 7)
    use(tmp_path / "single", sources, monkeypatch, None, built_lake)
    single = backfill(start, end, SYMBOLS)
    use(tmp_path / "dask", sources, monkeypatch, cluster.scheduler.address, built_lake)
    on_cluster = backfill(start, end, SYMBOLS)
    assert (
        single == on_cluster == {"done": ["2024-02-05", "2024-02-06", "2024-02-07"], "skipped": []}
    )
    expected, got = produced(tmp_path / "single"), produced(tmp_path / "dask")
    assert sum(name.endswith(".html") for name in got) == 3
    assert any("liqmap_bins" in name for name in got) and any("records" in name for name in got)
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []
    a_day_fails_alone_in_its_batch(tmp_path / "dask", monkeypatch)


def a_day_fails_alone_in_its_batch(where: Path, monkeypatch) -> None:
    """A render batch whose first day has lost its map: that day fails with the reason, the
    next day of the same batch is still briefed (the batch task itself succeeds)."""
    shutil.rmtree(where / "lake/binance/liqmap_summary/symbol=BTCUSDT/date=2024-02-05")
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(where / "batch-out"))
    days = [date(2024, 2, 5), date(2024, 2, 6)]
    outcome = brief_batch_on_worker.fn(days, SYMBOLS, worker_environment(), {})
    assert "BTCUSDT" in outcome[days[0]] and outcome[days[1]] == "", outcome
    assert briefings(where / "batch-out") == [
        "2024-02-06/liqbrief-2024-02-06.html", "2024-02-06/liqbrief-2024-02-06.pdf"
    ]  # fmt: skip


def test_render_batches_cover_every_day_once_in_order_about_eight_per_worker() -> None:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(180)]
    for workers, count in ((1, 8), (2, 15), (3, 23), (64, 180)):  # 23, 12, 8, 1 days each
        batches = render_batches(days, workers)
        assert [d for batch in batches for d in batch] == days
        assert len(batches) == count, workers
        assert all(len(b) == len(batches[0]) for b in batches[:-1])  # the last may be shorter
        assert 0 < len(batches[-1]) <= len(batches[0])
    assert render_batches([], 2) == [] and render_batches(days[:3], 2) == [[d] for d in days[:3]]


class Settled:
    """What collect_batches tells the day ledger: each day's outcome, in order."""

    def __init__(self) -> None:
        self.days: list[tuple[date, str]] = []

    def settle(self, day: date, outcome: str) -> None:
        self.days.append((day, outcome))


def finished(outcome: dict | None = None, error: Exception | None = None) -> Future:
    future: Future = Future()
    future.set_exception(error) if error else future.set_result(outcome)
    return future


def test_a_batch_whose_worker_died_goes_out_again_a_day_per_task() -> None:
    """A day that kills its worker (KilledWorker after Dask's retries) fails alone: the
    batch's other days are rendered by single-day tasks; a day failing inside its batch
    and a day missing from a batch's answer fail with their reasons; each settles once."""
    d = [date(2024, 2, 1) + timedelta(days=i) for i in range(5)]
    poison = d[1]
    resubmitted: list[list[date]] = []

    def resubmit(days: list[date]) -> Future:
        resubmitted.append(days)
        if days == [poison]:
            return finished(error=RuntimeError("KilledWorker: the worker died 3 times"))
        return finished({days[0]: ""})

    pending = [
        (d[:3], finished(error=RuntimeError("KilledWorker"))),
        (d[3:], finished({d[3]: "ValueError: no map of BTCUSDT"})),  # d[4] not in the answer
    ]
    ledger = Settled()
    collect_batches(pending, ledger, SYMBOLS, False, resubmit)
    assert resubmitted == [[d[0]], [d[1]], [d[2]]]
    assert ledger.days == [
        (d[0], "done"), (d[1], "failed: RuntimeError: KilledWorker: the worker died 3 times"),
        (d[2], "done"), (d[3], "failed: ValueError: no map of BTCUSDT"),
        (d[4], "failed: not rendered"),
    ]  # fmt: skip


def test_the_daily_job_maps_its_symbols_on_the_cluster_as_one_machine_does(
    prefect_harness, cluster: Client, sources, built_lake: Path, tmp_path: Path, monkeypatch
) -> None:
    day = date(2024, 2, 12)
    use(tmp_path / "single", sources, monkeypatch, None, built_lake)
    single = daily_briefing(day, SYMBOLS, send=False)
    use(tmp_path / "dask", sources, monkeypatch, cluster.scheduler.address, built_lake)
    on_cluster = daily_briefing(day, SYMBOLS, send=False)
    assert single["mapped"] == on_cluster["mapped"] == dict.fromkeys(SYMBOLS, day)
    expected, got = produced(tmp_path / "single"), produced(tmp_path / "dask")
    assert sum("liqmap_heatmap" in name for name in got) == 2  # one per symbol, on the workers
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []


def kill_a_busy_worker_after_the_first_pdf(client: Client, out: Path, killed: list[int]) -> None:
    """Wait for the first briefing, then SIGKILL a worker that has a task in flight."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(out.rglob("*.pdf")):
        time.sleep(0.05)
    while time.monotonic() < deadline:
        busy = [address for address, keys in client.processing().items() if keys]
        if busy:
            victim = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            return
        time.sleep(0.01)


def test_a_worker_killed_mid_run_then_a_rerun_completes_every_day_once(
    prefect_harness, cluster: Client, sources, built_lake: Path, tmp_path: Path, monkeypatch
) -> None:
    start, end = date(2024, 2, 5), date(2024, 2, 12)
    days = [f"2024-02-{d:02d}" for d in range(5, 13)]
    use(tmp_path, sources, monkeypatch, cluster.scheduler.address, built_lake)
    killed: list[int] = []
    killer = threading.Thread(
        target=kill_a_busy_worker_after_the_first_pdf, args=(cluster, tmp_path / "out", killed)
    )
    killer.start()
    try:
        first = backfill(start, end, SYMBOLS)["done"]
    except BackfillFailedError:  # the days whose tasks died with the worker
        first = [d for d in days if (tmp_path / "out" / d / f"liqbrief-{d}.pdf").exists()]
    killer.join()
    assert killed, "no worker was killed while it had a task in flight"
    second = backfill(start, end, SYMBOLS)
    assert sorted(first + second["done"]) == days  # every day once: none twice, none lost
    assert second["skipped"] == sorted(first)
    assert briefings(tmp_path / "out") == [
        f"{d}/liqbrief-{d}.{ext}" for d in days for ext in ("html", "pdf")
    ]  # no temporary or partial file left beside them
    leftovers = [p for p in (tmp_path / "lake").rglob("*.tmp")]
    assert leftovers == []
    cluster.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker
    warmed = cluster.run(lambda dask_worker: WarmWorker.name in dask_worker.plugins)
    assert list(warmed.values()) == [True, True]  # the restarted one too: set up when it joined


def test_the_cli_with_a_local_cluster_briefs_the_days_and_keeps_dask_quiet(
    sources, built_lake: Path, tmp_path: Path
) -> None:
    """`local` starts a LocalCluster sized to the machine for the run: as a user runs it."""
    env = cli_env(tmp_path, **sources, LIQBRIEF_DASK_ADDRESS="local")
    shutil.copytree(built_lake, tmp_path / "lake")
    done = subprocess.run(
        [sys.executable, "-m", "liqbrief.cli", "backfill", "--start", "2024-02-05", "--end", "2024-02-05"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "done: 1 day(s)" in done.stderr
    assert "(Dask, " in done.stderr  # the renders ran on the cluster's workers
    assert briefings(tmp_path / "reports") == [
        "2024-02-05/liqbrief-2024-02-05.html", "2024-02-05/liqbrief-2024-02-05.pdf"
    ]  # fmt: skip
    assert "| INFO    | distributed." not in done.stderr  # workers joining and leaving


def dask_workers_started(pid: int) -> bool:
    """Whether the CLI ``pid`` has spawned its LocalCluster's worker processes (multiprocessing
    children; Prefect's server is its other child)."""
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in listing.read_text().split():
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return True
            except OSError:
                continue
    return False


def test_ctrl_c_while_a_local_cluster_starts_is_one_line_and_stops_it(
    sources, built_lake: Path, tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) the moment the
    LocalCluster's workers are spawned, still importing: exit 130 and one line, no
    worker's KeyboardInterrupt traceback, and no process left (the workers start deaf to
    SIGINT, so the CLI must stop them)."""
    env = cli_env(tmp_path, **sources, LIQBRIEF_DASK_ADDRESS="local")
    shutil.copytree(built_lake, tmp_path / "lake")
    run = subprocess.Popen(
        [sys.executable, "-m", "liqbrief.cli", "backfill", "--start", "2024-02-05", "--end", "2024-02-05"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not dask_workers_started(run.pid) and time.monotonic() < deadline:
            assert run.poll() is None, run.stderr.read().decode()[-2000:]
            time.sleep(0.02)
        os.killpg(run.pid, signal.SIGINT)
        stderr = run.communicate(timeout=20)[1].decode(errors="replace")
        time.sleep(1)
        left_behind = live_members(run.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 130, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == "liqbrief backfill: interrupted", stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-3000:]
    assert not left_behind, left_behind
