#!/usr/bin/env python
"""Benchmark: render the two-symbol briefing (HTML + PDF) once, then 30 times in a loop.

Builds a demo lake for one date (BTCUSDT and ETHUSDT, through the real ingest, engine and
context code), then times: load inputs from the lake → build (sentences, tables, charts) →
HTML (Jinja) → PDF (WeasyPrint). The first render pays for template, font and matplotlib set-up;
the loop reuses them.

Targets (2-core machine): <= 1.5 s for one briefing; <= 0.5 s per briefing in the loop of 30.
The loop runs twice: in this one process (what one briefing costs once warm), then through the
backfill's render worker processes, one per core (files written), which is how a run of many
briefings is rendered in practice and what the loop target is judged on.
With --track-record the lake also holds a track record and 300 realised liquidations of the
day before per symbol: page 1's track-record lines and the realised overlay chart are drawn.
Run: python bench/render.py [--loops 30] [--workers 2] [--track-record]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from flows.briefing import load_briefing_inputs
from flows.render_workers import render, render_workers
from liqbrief.testing.demo_lake import build_demo_lake
from liqbrief.testing.track_record import add_track_record
from reports.briefing import build_briefing
from reports.render import render_html, render_pdf

DAY = date(2024, 3, 6)
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def one(lake) -> dict[str, float]:
    t0 = time.perf_counter()
    inputs = load_briefing_inputs(lake, DAY, SYMBOLS)
    t1 = time.perf_counter()
    briefing = build_briefing(inputs)
    t2 = time.perf_counter()
    html = render_html(briefing)
    t3 = time.perf_counter()
    render_pdf(html)
    t4 = time.perf_counter()
    return {
        "load": t1 - t0,
        "build+charts": t2 - t1,
        "html": t3 - t2,
        "pdf": t4 - t3,
        "total": t4 - t0,
    }


def verdict(seconds: float, target: float) -> str:
    return "met" if seconds <= target else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--track-record", action="store_true")
    args = parser.parse_args()
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as root:
        map_days = 2 if args.track_record else 1
        lake = build_demo_lake(
            Path(root) / "lake", DAY, SYMBOLS, history_days=35, map_days=map_days
        )
        if args.track_record:
            add_track_record(lake, DAY, SYMBOLS)
        t0 = time.perf_counter()
        import weasyprint  # noqa: F401  (reports.render imports it on first use)

        imports = time.perf_counter() - t0
        first = one(lake)
        print(
            f"import WeasyPrint: {imports:.2f} s (once per process, before the first briefing)\n"
            "first briefing: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in first.items())
            + f"   target total <= 1.5 s: {verdict(first['total'], 1.5)}"
        )
        runs = [one(lake) for _ in range(args.loops)]
        mean = {k: sum(r[k] for r in runs) / len(runs) for k in first}
        print(
            f"{args.loops} briefings in this process: {sum(r['total'] for r in runs):.1f} s, "
            "per briefing " + ", ".join(f"{k} {v:.2f} s" for k, v in mean.items())
        )
        with render_workers(args.workers), ThreadPoolExecutor(args.workers) as threads:

            def run(name: str) -> str:
                return render(str(lake.root), DAY, SYMBOLS, str(Path(root) / name))

            list(threads.map(run, [f"warm{i}" for i in range(args.workers)]))  # first per worker
            t0 = time.perf_counter()
            list(threads.map(run, [f"o{i}" for i in range(args.loops)]))
            wall = time.perf_counter() - t0
        print(
            f"{args.loops} briefings on {args.workers} worker processes (load, build, render, write): "
            f"{wall:.1f} s, {wall / args.loops:.2f} s per briefing"
            f"   target <= 0.5 s: {verdict(wall / args.loops, 0.5)}"
        )


if __name__ == "__main__":
    main()
