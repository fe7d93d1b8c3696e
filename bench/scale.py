#!/usr/bin/env python
"""Benchmark: a 4-symbol, 180-day backfill on one machine and on a Dask cluster (issue 15).

Warms one lake with the archive files the range needs (through the loopback mirror; not
timed), then for each variant copies it (inputs only, not timed) and times one `backfill`
flow run over the range into a fresh reports directory:
  (a) single     — the single-machine path (render worker processes);
  (b) cluster    — LIQBRIEF_DASK_ADDRESS at a distributed LocalCluster of 2 worker
                   processes (1 thread each), started before the clock (its start printed);
  (c) s3         — the lake and the reports dir on the loopback S3 server (moto, started
                   before the clock; the warm lake uploaded to it, not timed), one machine.
Prints wall time, per-day cost and, for a cluster, the scheduler's overhead per task (no-op
tasks through the same path: plain Dask, and Prefect tasks on Dask); for S3, the store's
requests per day by method (counted from the server's access log) and the CPU time the S3
server itself used (a real store's would be elsewhere). The machine is shared:
the load average is printed with each figure.

Targets (2-core machine): (b) within 15 % of (a); (c) within 30 % of (a).
Run: python bench/scale.py [--days 180] [--symbols 4] [--variants single,cluster,s3]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from prefect import flow, task

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.demo_lake import synthetic_fred
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from store.lake import Lake
from transforms.liqmap.passes import pass_start

DATASETS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m", "funding_rate"]
ALL_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "DOGEUSDT"]
OVERHEAD_TASKS = 200


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} (1/5 min)"


@dataclass(frozen=True)
class Bench:
    """What every variant shares: the warm lake, the range, the symbols."""

    root: Path
    warm_lake: Path
    symbols: list[str]
    first: date
    last: date


@dataclass(frozen=True)
class Figures:
    wall_s: float
    days: int
    overhead_per_task_ms: dict[str, float]
    note: str = ""
    load: str = field(default_factory=lambda: load())  # when the variant ended


def timed_backfill(bench: Bench, name: str, lake_uri: str | None = None, out_uri: str | None = None) -> tuple[float, int]:  # fmt: skip
    """Point the settings at a copy of the warm lake (``lake_uri`` if the caller made one)
    and a fresh reports dir, run one backfill."""
    if lake_uri is None:
        lake_uri = str(bench.root / f"lake-{name}")
        shutil.copytree(bench.warm_lake, lake_uri)
    os.environ["LIQBRIEF_LAKE"] = lake_uri
    os.environ["LIQBRIEF_REPORTS_DIR"] = out_uri or str(bench.root / f"out-{name}")
    from flows.backfill import backfill

    clock = time.perf_counter()
    result = backfill(bench.first, bench.last, bench.symbols)
    return time.perf_counter() - clock, len(result["done"])


def single(bench: Bench) -> Figures:
    """(a) the single-machine path."""
    os.environ.pop("LIQBRIEF_DASK_ADDRESS", None)
    wall, days = timed_backfill(bench, "single")
    return Figures(wall, days, {})


@task
def noop(i: int) -> int:
    return i


@flow
def prefect_tasks_on_dask(address: str, n: int) -> None:
    from flows.cluster import dask_runner

    with dask_runner(address) as runner:
        futures = [runner.submit(noop, {"i": i}) for i in range(n)]
        [future.result() for future in futures]


def scheduler_overhead(address: str) -> dict[str, float]:
    """Milliseconds per no-op task: plain Dask submit/gather, and a Prefect task on Dask."""
    from distributed import Client

    with Client(address) as client:
        clock = time.perf_counter()
        client.gather(client.map(lambda i: i, range(OVERHEAD_TASKS), pure=False))
        plain = (time.perf_counter() - clock) / OVERHEAD_TASKS
    clock = time.perf_counter()
    prefect_tasks_on_dask(address, OVERHEAD_TASKS)
    with_prefect = (time.perf_counter() - clock) / OVERHEAD_TASKS
    return {"dask": plain * 1000, "prefect task on dask": with_prefect * 1000}


def cluster(bench: Bench) -> Figures:
    """(b) a distributed LocalCluster of 2 single-threaded worker processes."""
    from distributed import LocalCluster

    clock = time.perf_counter()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        started = time.perf_counter() - clock
        os.environ["LIQBRIEF_DASK_ADDRESS"] = local.scheduler_address
        try:
            wall, days = timed_backfill(bench, "cluster")
            overhead = scheduler_overhead(local.scheduler_address)
        finally:
            os.environ.pop("LIQBRIEF_DASK_ADDRESS", None)
    return Figures(wall, days, overhead, f"cluster start-up {started:.1f} s, not in the wall time")


def s3(bench: Bench) -> Figures:
    """(c) the lake and the reports dir on the loopback S3 server, one machine."""
    import pyarrow.fs as pafs

    from liqbrief.testing.s3_server import S3Server

    os.environ.pop("LIQBRIEF_DASK_ADDRESS", None)
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")}  # fmt: skip
    with S3Server() as server:
        server.create_bucket("bench")
        os.environ.update(server.environment())
        remote, path = pafs.FileSystem.from_uri("s3://bench/lake")
        pafs.copy_files(str(bench.warm_lake), path, pafs.LocalFileSystem(), remote)
        before, server_cpu = server.request_count(), server.cpu_seconds()
        try:
            wall, days = timed_backfill(bench, "s3", "s3://bench/lake", "s3://bench/out")
            server_cpu = server.cpu_seconds() - server_cpu
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        by_method = server.requests_by_method(since=before)
    per_day = {m: n / max(days, 1) for m, n in sorted(by_method.items())}
    note = f"S3 requests: {sum(by_method.values()):,} in all, per day " + ", ".join(
        f"{m} {n:.0f}" for m, n in per_day.items()
    )
    note += f"; the S3 server's own CPU {server_cpu:.1f} s (on the same cores)"
    return Figures(wall, days, {}, note)


VARIANTS: dict[str, Callable[[Bench], Figures]] = {"single": single, "cluster": cluster, "s3": s3}


def warm_lake(
    root: Path, mirror: ArchiveMirror, symbols: list[str], first: date, last: date
) -> Path:
    """The archive inputs the backfill of [first, last] extracts, ingested through the mirror."""
    lake = root / "warm-lake"
    start = pass_start(first - timedelta(days=1))
    ingest(Lake(str(lake)), mirror.base_url, symbols, DATASETS, start, last, today=date(2030, 1, 1))  # fmt: skip
    return lake


def report(name: str, figures: Figures, baseline: Figures | None) -> None:
    per_day = figures.wall_s / max(figures.days, 1)
    line = f"({name}) {figures.days} days: {figures.wall_s:.1f} s, {per_day:.2f} s per day"
    if baseline is not None and baseline is not figures:
        target = "+30 %" if name == "s3" else "+15 %"
        line += f", {figures.wall_s / baseline.wall_s - 1:+.0%} vs single (target <= {target})"
    print(line + f"; {figures.load}")
    for what, ms in figures.overhead_per_task_ms.items():
        print(f"    scheduler overhead per task ({what}): {ms:.1f} ms")
    if figures.note:
        print(f"    {figures.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--symbols", type=int, default=4, choices=range(1, len(ALL_SYMBOLS) + 1))
    parser.add_argument("--variants", default="single,cluster,s3")
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; use {', '.join(VARIANTS)}")
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("distributed").setLevel(logging.WARNING)
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    from prefect.testing.utilities import prefect_test_harness

    symbols = ALL_SYMBOLS[: args.symbols]
    first = date(2024, 1, 2)
    last = first + timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        clock = time.perf_counter()
        files = build_archive(
            symbols, DATASETS, pass_start(first - timedelta(days=1)), last, monthly=False
        )
        with (
            ArchiveMirror(files) as mirror,
            FredServer(synthetic_fred(last)) as fred,
            prefect_test_harness(server_startup_timeout=90),
        ):
            bench = Bench(root, warm_lake(root, mirror, symbols, first, last), symbols, first, last)
            print(f"warm lake, {len(symbols)} symbols: {time.perf_counter() - clock:.0f} s (not timed); {load()}")  # fmt: skip
            os.environ["LIQBRIEF_BINANCE_ARCHIVE_URL"] = mirror.base_url
            os.environ["LIQBRIEF_FRED_CSV_URL"] = fred.base_url
            results = {name: VARIANTS[name](bench) for name in names}
    baseline = results.get("single")
    for name, figures in results.items():
        report(name, figures, baseline)


if __name__ == "__main__":
    main()
