"""The whole pipeline on an S3 API (moto on loopback): extract, map, context, brief, send
and backfill with LIQBRIEF_LAKE and LIQBRIEF_REPORTS_DIR on s3:// give the same tables and
byte-identical briefings as on local paths; the e-mail attaches the PDF read from the store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from flows.backfill import backfill
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.s3_server import S3Server
from liqbrief.testing.smtp_inbox import Inbox, free_port
from liqbrief.testing.synthetic_archive import build_archive
from store.artefacts import ArtefactStore
from store.datasets import DATASETS
from store.lake import Lake, days_between
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.flow, pytest.mark.server]
INPUTS = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m", "funding_rate"]
DAYS = days_between(date(2024, 2, 4), date(2024, 2, 7))  # 4 days: renders in 2 spawned workers
FETCH_STATUS_LISTING = "?delimiter=/&list-type=2&max-keys=1000&prefix=lake/_ledger/coinglass/fetch_status/symbol%3DBTC/"  # fmt: skip
WALL_CLOCK = {"fetched_at", "computed_at", "written_at", "ingested_at"}  # when, not what


@pytest.fixture
def sources(prefect_harness, monkeypatch):
    mirror = ArchiveMirror(
        build_archive(["BTCUSDT"], INPUTS, date(2024, 1, 3), date(2024, 2, 7), monthly=False)
    ).start()
    fred = FredServer({"DGS2": pd.DataFrame({"date": ["2024-02-01"], "value": [4.3]})}).__enter__()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    for name, value in {
        "LIQBRIEF_BINANCE_ARCHIVE_URL": mirror.base_url, "LIQBRIEF_FRED_CSV_URL": fred.base_url,
        "LIQBRIEF_SMTP_HOST": "127.0.0.1", "LIQBRIEF_SMTP_PORT": str(smtp.port),
        "LIQBRIEF_SMTP_SECURITY": "none", "LIQBRIEF_DESK_TO": "desk@example.com",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    yield inbox
    smtp.stop()
    fred.__exit__(None, None, None)
    mirror.stop()


def run_everything(lake: str, reports: str, monkeypatch) -> dict[str, list[str]]:
    monkeypatch.setenv("LIQBRIEF_LAKE", lake)
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", reports)
    return backfill(DAYS[0], DAYS[-1], ["BTCUSDT"], send=True)


def stored_tables(local_root: Path) -> list[tuple]:
    """(dataset, symbol, first day, last day) of every dataset the local lake holds."""
    spans: dict[tuple, list[date]] = {}
    for path in local_root.rglob("data.parquet"):
        venue, name, symbol, day = path.relative_to(local_root).parts[:4]
        ds = next(d for d in DATASETS.values() if d.venue == venue and d.name == name)
        spans.setdefault((ds, symbol.removeprefix("symbol=")), []).append(
            date.fromisoformat(day.removeprefix("date="))
        )
    return [(ds, symbol, min(days), max(days)) for (ds, symbol), days in spans.items()]


def test_the_pipeline_on_s3_gives_the_same_tables_and_briefings(
    sources: Inbox, s3: S3Server, tmp_path: Path, monkeypatch
) -> None:
    here = run_everything(str(tmp_path / "lake"), str(tmp_path / "out"), monkeypatch)
    before = s3.request_count()
    there = run_everything(f"s3://{s3.bucket}/lake", f"s3://{s3.bucket}/out", monkeypatch)
    assert here == there == {"done": [d.isoformat() for d in DAYS], "skipped": []}
    # a record directory is listed whole once a run, not once a day's briefing: the renders
    # (worker processes) adopt the run's listings
    whole = Counter(p.split("&continuation")[0] for _, p, _ in s3.requests()[before:]
                    if "list-type" in p and "prefix=lake/_ledger" in p and "start-after" not in p)  # fmt: skip
    assert whole["/" + s3.bucket + FETCH_STATUS_LISTING] == 1 and max(whole.values()) == 1, whole
    local, remote = Lake(str(tmp_path / "lake")), Lake(f"s3://{s3.bucket}/lake")
    tables = stored_tables(tmp_path / "lake")
    assert {ds.name for ds, *_ in tables} >= {*INPUTS, "liqmap_summary", "market_context",
                                               "records", "validation"}  # fmt: skip
    rows = {}
    for ds, symbol, first, last in tables:
        mine, theirs = (lake.read_table(ds, symbol, first, last) for lake in (local, remote))
        same = [c for c in ds.schema.names if c not in WALL_CLOCK]
        assert mine.select(same).equals(theirs.select(same)), ds.name
        rows[ds.name] = mine.num_rows
    assert all(rows[name] > 0 for name in [*INPUTS, "liqmap_summary", "market_context"])
    stores = ArtefactStore(tmp_path / "out"), ArtefactStore(f"s3://{s3.bucket}/out")
    for day in DAYS:
        for suffix in ("html", "pdf"):
            parts = (day.isoformat(), f"liqbrief-{day}.{suffix}")
            assert stores[0].read_bytes(*parts) == stores[1].read_bytes(*parts)
    # each day mailed once per run, the attachment the PDF as the store holds it
    assert len(sources.messages) == 2 * len(DAYS)
    for message in sources.messages[len(DAYS) :]:
        day = message["Subject"].split()[1].rstrip(":")
        attachment = next(message.iter_attachments()).get_content()
        assert attachment == stores[1].read_bytes(day, f"liqbrief-{day}.pdf")
        assert "desk@example.com" in stores[1].read_bytes(day, "sent.json").decode()
    # a re-run finds every day done on the store and sends nothing again
    again = run_everything(f"s3://{s3.bucket}/lake", f"s3://{s3.bucket}/out", monkeypatch)
    assert again == {"done": [], "skipped": [d.isoformat() for d in DAYS]}
    assert len(sources.messages) == 2 * len(DAYS)
    # the command line on the same store: every partition matches its ledger record
    verify = subprocess.run(
        [sys.executable, "-m", "liqbrief.cli", "lake", "verify"],
        env=os.environ | {"PYTHONPATH": str(PROJECT_ROOT)}, cwd=tmp_path,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert verify.returncode == 0 and "Traceback" not in verify.stderr, verify.stderr
    assert "bad" not in verify.stdout.lower() or " 0 bad" in verify.stdout.lower(), verify.stdout
