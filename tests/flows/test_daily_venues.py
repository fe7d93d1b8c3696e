"""`daily --venues`: the daily flow with Bybit and OKX beside Binance, at the live edge.

Real time: the archive mirror has Binance up to three days ago; the Binance and Bybit REST
stand-ins serve the days since (Binance's REST edge completes the archive); OKX's URL is a
closed port, so its fetch fails, and its ledger says yesterday is complete with no rows, so
its map cannot be made: it is left out and named. Bybit's older days are written as its extract stores them
(Binance's rows, open interest halved), so the run fetches only the last days (a 31-day
OKX/Bybit fetch costs minutes under ccxt's rate limiter: bench/venues.py)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.briefing_venues import snapshot_oi_usd
from flows.daily import EXTRACT_DATASETS, daily_briefing
from flows.daily_venues import own_reason
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.fred_server import FredServer
from liqbrief.testing.synthetic_archive import build_archive
from liqbrief.testing.venue_standin import VenueStandin
from reports.formatting import usd
from reports.venues import band_totals
from sources.binance_archive.ingest import ingest
from store.datasets import map_dataset, market_dataset
from store.lake import Lake
from tests.conftest import FAST_RETRY
from tests.flows.test_liqmap_venues_flow import copy_as_venue

pytestmark = [pytest.mark.flow, pytest.mark.server]

TODAY = datetime.now(UTC).date()
FIRST, ARCHIVE_LAST = TODAY - timedelta(days=33), TODAY - timedelta(days=3)
KEYS = ["window", "bin_lo", "side", "tier"]


@pytest.fixture
def live_edge(mirror: ArchiveMirror, tmp_path: Path, monkeypatch, request) -> Path:
    """The archive mirror up to three days ago, Binance's days in the lake, Bybit's older
    days beside them, FRED on loopback, no OKX; returns tmp_path."""
    root = tmp_path / "lake"
    monkeypatch.setenv("LIQBRIEF_LAKE", str(root))
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("LIQBRIEF_BINANCE_ARCHIVE_URL", mirror.base_url)
    monkeypatch.setenv("LIQBRIEF_OKX_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("LIQBRIEF_HTTP_ATTEMPTS", "1")
    fred = FredServer({"DGS2": pd.DataFrame({"date": [str(ARCHIVE_LAST)], "value": [4.4]})})
    fred.__enter__()
    request.addfinalizer(lambda: fred.__exit__(None, None, None))
    monkeypatch.setenv("LIQBRIEF_FRED_CSV_URL", fred.base_url)
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    mirror.add(build_archive(["BTCUSDT"], EXTRACT_DATASETS, FIRST, ARCHIVE_LAST, monthly=False))
    report = ingest(Lake(str(root)), mirror.base_url, ["BTCUSDT"], EXTRACT_DATASETS, FIRST,
                    ARCHIVE_LAST, retry=FAST_RETRY, today=TODAY)  # fmt: skip
    assert not report.problems
    copy_as_venue(Lake(str(root)), "bybit", 0.5, FIRST, ARCHIVE_LAST)
    return tmp_path


def okx_days_without_rows(lake: Lake) -> None:
    """Yesterday's OKX inputs recorded without a row (as an ended day the venue had nothing
    for is): complete in the ledger, nothing for the engine."""
    yesterday = TODAY - timedelta(days=1)
    for name in ("metrics", "klines_5m", "mark_klines_1m"):
        source, ds = market_dataset("binance", name), market_dataset("okx", name)
        entry = lake.ledger_entry(source, "BTCUSDT", ARCHIVE_LAST)
        empty = ds.schema.empty_table()
        lake.write_day(
            ds, yesterday, empty, replace(entry, venue="okx", rows=0, date=str(yesterday))
        )


def stored_bins(lake: Lake, venue: str) -> pd.Series:
    bins = lake.read(map_dataset(venue, "liqmap_bins"), "BTCUSDT", TODAY, TODAY)
    return bins.groupby(KEYS)["notional_usd"].sum()


def test_daily_venues_briefs_on_the_aggregate_and_names_the_missing_venue(
    prefect_harness, live_edge: Path, monkeypatch
) -> None:
    with VenueStandin("binance") as binance, VenueStandin("bybit") as bybit:
        monkeypatch.setenv("LIQBRIEF_BINANCE_FAPI_URL", binance.base_url)
        monkeypatch.setenv("LIQBRIEF_BYBIT_URL", bybit.base_url)
        okx_days_without_rows(Lake(str(live_edge / "lake")))  # OKX's map cannot be made
        result = daily_briefing(TODAY, ["BTCUSDT"], send=False, venues=["binance", "bybit", "okx"])
    assert result["mapped"] == {"BTCUSDT": TODAY}  # the REST days made today mappable
    coverage = result["venues"]["BTCUSDT"]
    assert coverage["members"] == ["binance", "bybit"] and set(coverage["absent"]) == {"okx"}
    why = coverage["absent"]["okx"]
    assert "liqbrief extract --venues okx" in why  # dropped, named, how to fix
    assert not why.startswith("okx: ")  # the lines showing it name the venue already
    lake = Lake(str(live_edge / "lake"))
    yesterday = TODAY - timedelta(days=1)
    entry = lake.ledger_entry(market_dataset("binance", "metrics"), "BTCUSDT", yesterday)
    assert entry.rows == 288 and "rest" in entry.source_url.lower()

    # the aggregate is Binance's and Bybit's maps summed bin by bin; OKX is not in it
    parts = [stored_bins(lake, v) for v in ("binance", "bybit")]
    summed = pd.concat(parts).groupby(level=KEYS).sum()
    stored = stored_bins(lake, "all")
    assert stored.index.equals(summed.index) and len(stored) > 0
    np.testing.assert_allclose(stored.to_numpy(), summed.to_numpy(), rtol=1e-12)
    summary = lake.read(map_dataset("all", "liqmap_summary"), "BTCUSDT", TODAY, TODAY)
    row = summary.set_index("window").loc["7d"]
    assert "okx" not in row["brackets_source"] and "bybit: " in row["brackets_source"]
    # the split's rows (each venue's bins in the aggregate's bands) sum to its key levels
    bins = {v: lake.read(map_dataset(v, "liqmap_bins"), "BTCUSDT", TODAY, TODAY) for v in ("binance", "bybit")}  # fmt: skip
    bands = [band_totals(b[b["window"] == "7d"], row["p0"]) for b in bins.values()]
    for side, pct in (("long", 2), ("long", 5), ("short", 2), ("short", 5)):
        total = sum(b[f"{side}_{pct}"] for b in bands)
        assert total == pytest.approx(row[f"cum_{side}_{pct}pct"], rel=1e-9, abs=1e-6)
    assert row["cum_long_5pct"] + row["cum_short_5pct"] > 0

    pdf = next(Path(p) for p in result["briefings"] if p.endswith(".pdf"))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "estimated model values, Binance + Bybit" in text
    # beside the summed map, Binance's own open interest and its record say whose they are
    assert "Binance BTC open interest is" in " ".join(text.split())
    first_rest, last_rest = TODAY - timedelta(days=2), TODAY - timedelta(days=1)
    flat = " ".join(text.split())  # the cut-off line wraps
    rest = f"Binance {first_rest:%d %b}–{last_rest:%d %b} from REST (not yet in the archive)"
    assert rest in flat
    # both books' open interest at the snapshot (Bybit's contracts valued at its own mark)
    held = [snapshot_oi_usd(lake, v, "BTCUSDT", TODAY) for v in ("binance", "bybit")]
    assert all(v > 1e9 for v in held)
    assert f"Book mapped: Binance + Bybit BTCUSDT perpetuals ({usd(sum(held))} open" in text
    assert "Market context — Binance BTCUSDT" in text
    assert "Missing: OKX" in text and "OKX left out of the Binance + Bybit map" in text
    assert "Binance + Bybit + OKX" not in text  # never the three when one is missing
    assert "each venue's share" in text and "Share of ±5 %" in text
    assert "Binance USD-M" not in text.split("Methods")[0]
    levels = text.split("If price drops below")[1].split("largest bin")[0]
    assert "0.0 %" not in levels  # no round level at the mark in the thresholds table
    # a desk's two pages: the summary, then the detail page holding the split and the methods
    # box (the split once pushed the methods box alone onto a third page)
    pages = text.split("\f")[:-1]
    assert len(pages) == 2 and "page 2 of 2" in pages[1]
    assert (
        "BTC in detail" in pages[1] and "each venue's share" in pages[1] and "Methods." in pages[1]
    )
    brief_renders_the_stored_venues(live_edge, Path(pdf).with_suffix(".html").read_text())


def brief_renders_the_stored_venues(root: Path, daily_html: str) -> None:
    """`liqbrief brief` of the date again (in the same lake): on the aggregated map the day
    stored, with its venues, as `daily --venues` briefed it; an explicit --venues chooses."""
    from typer.testing import CliRunner

    from liqbrief.cli import app

    def brief(*args: str, **env: str):
        out = root / f"brief{len(list(root.glob('brief*')))}"
        result = CliRunner().invoke(app, ["brief", "--date", str(TODAY), "--out", str(out), *args], env=env)  # fmt: skip
        html = out / str(TODAY) / f"liqbrief-{TODAY}.html"
        return result, html.read_text() if html.exists() else ""

    # no --venues and LIQBRIEF_VENUES unset: the stored map's venues, byte for byte the daily's
    # briefing but for OKX, which the daily named as asked for and brief was not asked about
    result, html = brief(LIQBRIEF_VENUES="binance")
    assert result.exit_code == 0, result.output
    assert "estimated model values, Binance + Bybit" in html and "venue-split" in html
    assert "Missing: OKX" not in html and "Binance + Bybit BTCUSDT perpetuals" in html
    # LIQBRIEF_VENUES names OKX too (as the daily job's default): named as not in the map
    result, html = brief(LIQBRIEF_VENUES="binance,bybit,okx")
    assert result.exit_code == 0, result.output
    assert "Missing: OKX" in html and "OKX left out of the Binance + Bybit map: not in the stored map" in html  # fmt: skip
    strip = re.compile(r"OKX left out of the Binance \+ Bybit map: [^<]*")
    assert strip.sub("", html) == strip.sub("", daily_html)  # the daily's briefing, re-rendered
    # an explicit --venues binance: Binance's own map, as before the venues
    result, html = brief("--venues", "binance", LIQBRIEF_VENUES="binance,bybit,okx")
    assert result.exit_code == 0 and "Binance USD-M" in html and "venue-split" not in html
    # an explicit --venues the stored map does not sum: one line, nothing rendered
    result, html = brief("--venues", "bybit,okx")
    assert result.exit_code == 1 and html == ""
    assert f"the stored map of BTCUSDT for {TODAY} is Binance + Bybit, not Bybit + OKX" in result.output  # fmt: skip


def test_the_intraday_snapshot_maps_the_last_hour_from_binance_rest(
    prefect_harness, live_edge: Path, monkeypatch
) -> None:
    """`daily --at <this hour> --json`: the hour mapped, stored and briefed beside the day."""
    import json

    from typer.testing import CliRunner

    from liqbrief.cli import app

    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with VenueStandin("binance") as binance:
        monkeypatch.setenv("LIQBRIEF_BINANCE_FAPI_URL", binance.base_url)
        run = CliRunner().invoke(app, ["daily", "--at", f"{at:%Y-%m-%dT%H:%M}", "--json"])
        asked = binance.total_requests
    assert run.exit_code == 0, run.output
    output = json.loads(run.stdout)
    assert asked > 0
    first_rest = TODAY - timedelta(days=2)  # the archive ends three days ago
    cutoff = (
        f"Book as of {at:%H:%M} UTC {at:%d %b %Y}; from Binance REST (the archive lacks them): "
        f"{first_rest:%d %b} 00:00 – {at:%d %b %H:%M} UTC"
    )
    result = output["symbols"]["BTCUSDT"]
    assert result["cutoff"] == cutoff and result["unit"] == f"intraday/{at:%H}00/liqmap"
    summary = result["summary"]
    assert summary["long_total_usd"] > 0 and summary["short_total_usd"] > 0
    # P0 is the mark price of the last minute before the hour, as the stand-in served it
    lake = Lake(str(live_edge / "lake"))
    marks = lake.read(market_dataset("binance", "mark_klines_1m"), "BTCUSDT", at.date(), at.date())
    closed = marks[marks["open_time"] < pd.Timestamp(at)]
    if len(closed):  # (at 00:00 the last minute is yesterday's)
        assert summary["p0"] == pytest.approx(closed["close"].iloc[-1])
    # the briefing of the hour, beside (never over) the day's, its page 1 naming the REST hours
    folder = live_edge / "out" / f"{at:%Y-%m-%d}"
    stem = f"liqbrief-{at:%Y-%m-%d}T{at:%H}00"
    assert output["briefing"] == {
        "html": str(folder / f"{stem}.html"),
        "pdf": str(folder / f"{stem}.pdf"),
    }
    assert sorted(p.name for p in folder.iterdir()) == [f"{stem}.html", f"{stem}.pdf"]
    page_1 = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", output["briefing"]["pdf"], "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    flat = " ".join(page_1.split())
    assert cutoff in flat and f"{at:%H:%M} UTC" in flat.split("Executive summary")[0]
    assert f"Records. Daily, as of 00:00 UTC {at:%d %b %Y}" in flat


def test_a_dropped_venues_reason_is_its_own_part_without_its_name() -> None:
    reason = (
        "no Binance + Bybit + OKX map: bybit: its price 1.00 is -3.0 % from Binance's 1.03; "
        "okx: its price 2.00 is +94.2 % from Binance's 1.03"
    )
    assert own_reason("okx", reason) == "its price 2.00 is +94.2 % from Binance's 1.03"
    assert own_reason("bybit", reason).startswith("its price 1.00 is -3.0 %")
    assert (
        own_reason("okx", "okx: BTCUSDT: no data; run `x` (a; b)")
        == "BTCUSDT: no data; run `x` (a; b)"
    )
    assert own_reason("okx", "inputs of 2024-01-01 not complete") == (
        "inputs of 2024-01-01 not complete"
    )
