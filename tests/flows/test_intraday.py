"""The intraday snapshot (flows/intraday.py): the book as of a whole hour, no look-ahead.

Byte tests: every input row after the hour perturbed (open interest tripled, prices moved
10 %, a Coinglass snapshot taken after the hour) leaves the map's summary and the hour's
rendered briefing HTML byte for byte; a row before the hour changed moves them. The hour's
map is its own unit in the lake: re-written whole by a re-run, never over the date's 00:00
map, and re-rendered with the cut-off line of the sources it was mapped from."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from flows.briefing import briefing_names, load_briefing_inputs
from flows.intraday import intraday_map, write_hour_map
from liqbrief.cli import app
from liqbrief.json_output import strict_json
from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.synthetic_archive import build_archive
from reports.briefing import build_briefing
from reports.render import render_html
from sources.binance_archive.ingest import ingest
from store.artefacts import ArtefactStore
from store.datasets import DATASETS, map_dataset
from store.lake import Lake
from store.ledger import LedgerEntry
from store.units import read_unit
from tests.conftest import FAST_RETRY, lake_files

pytestmark = [pytest.mark.server]

DAY = date(2024, 2, 4)
AT = datetime(2024, 2, 4, 14, tzinfo=UTC)
INPUTS = ["metrics", "klines_5m", "mark_klines_1m"]
PRICES = ["open", "high", "low", "close"]


@pytest.fixture(scope="module")
def hour_lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("intraday") / "lake"
    with ArchiveMirror(
        build_archive(["BTCUSDT"], INPUTS, date(2024, 1, 4), DAY, monthly=False)
    ) as m:
        report = ingest(Lake(str(root)), m.base_url, ["BTCUSDT"], INPUTS, date(2024, 1, 4), DAY,
                        retry=FAST_RETRY, today=date(2024, 6, 1))  # fmt: skip
    assert not report.problems
    return root


def perturb(
    lake: Lake,
    after: bool,
    rows_changed: int | None = None,
    source: str | None = "rest:binance:/test",
) -> None:
    """Change the day's rows after the hour (or the last ``rows_changed`` before it); the
    ledger then names ``source`` (None: the source it named)."""
    for name in INPUTS:
        ds = DATASETS[name]
        frame = lake.read(ds, "BTCUSDT", DAY, DAY)
        stamp = pd.Timestamp(AT)
        later = (
            frame[ds.time_column] >= stamp if name != "metrics" else frame[ds.time_column] > stamp
        )
        chosen = later if after else frame.index.isin(frame.index[~later][-rows_changed:])
        if name == "metrics":
            frame.loc[chosen, "sum_open_interest"] *= 3
        else:
            frame.loc[chosen, PRICES] *= 1.1
        table = pa.Table.from_pandas(frame, schema=ds.schema, preserve_index=False)
        entry = lake.ledger_entry(ds, "BTCUSDT", DAY)
        lake.write_day(ds, DAY, table, replace(entry, source_url=source or entry.source_url))


def test_the_hour_map_reads_nothing_after_the_hour(hour_lake: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "lake"
    shutil.copytree(hour_lake, root)
    lake = Lake(str(root))
    before = intraday_map(lake, "BTCUSDT", AT)
    assert before.summary["long_total_usd"] > 0 and before.rest_days == []
    assert (
        before.cutoff_line()
        == "Book as of 14:00 UTC 04 Feb 2024; every hour from the Binance archive"
    )
    perturb(lake, after=True)
    after = intraday_map(lake, "BTCUSDT", AT)
    assert strict_json(after.summary) == strict_json(before.summary)
    assert after.rest_days == [DAY]  # the rewritten day's ledger names REST
    assert after.cutoff_line().endswith(
        "from Binance REST (the archive lacks them): 04 Feb 00:00 – 04 Feb 14:00 UTC"
    )
    perturb(lake, after=False, rows_changed=3)  # the last readings before the hour do count
    assert strict_json(intraday_map(lake, "BTCUSDT", AT).summary) != strict_json(before.summary)


@pytest.fixture(scope="module")
def context_lake(hour_lake: Path, tmp_path_factory) -> Path:
    """The hour's lake with the date's own daily tables (market context, records, macro
    from a FRED replay) and its 00:00 map, made the way the daily job makes them."""
    import httpx

    from flows.context import macro_tables, store_fred_series, symbol_context
    from flows.liqmap import build_liquidation_maps
    from liqbrief.testing.demo_lake import FAST, synthetic_fred
    from liqbrief.testing.fred_server import FredServer
    from sources.fred import SERIES, FredClient

    root = tmp_path_factory.mktemp("hour-context") / "lake"
    shutil.copytree(hour_lake, root)
    lake, previous = Lake(str(root)), os.environ.get("LIQBRIEF_LAKE")
    os.environ["LIQBRIEF_LAKE"] = str(root)
    try:
        build_liquidation_maps.fn("BTCUSDT", DAY, DAY, "last")
        with FredServer(synthetic_fred(DAY - timedelta(days=1))) as fred, httpx.Client() as http:
            client = FredClient(http, fred.base_url, fred.base_url, None, FAST)
            for series in SERIES:
                store_fred_series(lake, client, series, date(DAY.year - 1, 1, 1), DAY)
        symbol_context.fn("BTCUSDT", DAY)
        macro_tables.fn(DAY)
    finally:
        os.environ.pop("LIQBRIEF_LAKE") if previous is None else os.environ.update(
            LIQBRIEF_LAKE=previous
        )
    return root


def hour_html(lake: Lake) -> bytes:
    """Map the hour from the lake, store it, render its briefing (HTML only: the PDF is
    rendered from these bytes) and return them."""
    write_hour_map(lake, "BTCUSDT", intraday_map(lake, "BTCUSDT", AT))
    inputs = load_briefing_inputs(lake, DAY, ["BTCUSDT"], at=AT)
    return render_html(build_briefing(inputs)).encode()


def put_exchange_list(lake: Lake, fetched_at: datetime) -> None:
    """A Coinglass open-interest exchange list of DAY and its fetch's outcome, as a fetch at
    ``fetched_at`` stores them."""
    stamp = pd.Timestamp(fetched_at)
    rows = {
        "oi_exchange_list": {
            "fetched_at": [stamp] * 2, "exchange": ["All", "Binance"],
            "open_interest_usd": [60e9, 18e9], "open_interest_by_coin_margin": [9e9, 2e9],
            "open_interest_by_stable_coin_margin": [51e9, 16e9],
            "open_interest_change_percent_24h": [1.5, 2.0],
        },
        "fetch_status": {
            "fetched_at": [stamp], "series": ["oi_exchange_list"], "outcome": ["ok"],
            "message": [""], "rows": [2], "first_time": [stamp], "last_time": [stamp],
        },
    }  # fmt: skip
    for name, columns in rows.items():
        ds = DATASETS[name]
        table = pa.Table.from_pandas(pd.DataFrame(columns), schema=ds.schema, preserve_index=False)
        entry = LedgerEntry("coinglass", name, "BTC", DAY.isoformat(), "test", "", 1, 0, 0, "now")
        lake.write_day(ds, DAY, table, entry)


def test_the_hour_briefing_html_reads_nothing_after_the_hour(
    context_lake: Path, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    shutil.copytree(context_lake, root)
    lake = Lake(str(root))
    before = hour_html(lake)
    text = before.decode()
    assert "Book as of 14:00 UTC 04 Feb 2024; every hour from the Binance archive" in text
    assert "Market context — daily, as of 00:00 UTC 04 Feb 2024" in text
    perturb(lake, after=True, source=None)  # every market row after the hour
    put_exchange_list(lake, AT + timedelta(minutes=5))  # a Coinglass snapshot after it
    assert hour_html(lake) == before
    put_exchange_list(lake, AT - timedelta(minutes=5))  # the same snapshot, before the hour
    assert "Coinglass exchange list at 04 Feb 2024 13:55 UTC" in hour_html(lake).decode()
    root_2 = tmp_path / "lake2"
    shutil.copytree(context_lake, root_2)
    lake_2 = Lake(str(root_2))
    perturb(lake_2, after=False, rows_changed=3, source=None)  # the last readings before it
    assert hour_html(lake_2) != before


def test_the_hour_map_is_its_own_unit_rewritten_whole_and_rerendered_as_mapped(
    context_lake: Path, tmp_path: Path, s3, monkeypatch
) -> None:
    root = tmp_path / "lake"
    shutil.copytree(context_lake, root)
    lake = Lake(str(root))
    day_manifest = Path(lake.manifest_path(map_dataset("binance", "liqmap_bins"), "BTCUSDT", DAY))
    day_map = day_manifest.read_bytes()
    perturb(lake, after=True)  # the ledger now says REST gave the day
    snapshot = intraday_map(lake, "BTCUSDT", AT)
    assert write_hour_map(lake, "BTCUSDT", snapshot) == "intraday/1400/liqmap"
    files = lake_files(root)
    write_hour_map(lake, "BTCUSDT", intraday_map(lake, "BTCUSDT", AT))  # a re-run: replaced
    assert lake_files(root) == files and day_manifest.read_bytes() == day_map
    hour = [f for f in files if f.startswith("intraday/")]
    assert sorted(hour) == [
        f"intraday/1400/liqmap_{name}/symbol=BTCUSDT/date=2024-02-04/data.parquet"
        for name in ("bins", "heatmap", "sources", "summary")
    ]
    stored = read_unit(lake, "intraday/1400/liqmap", "BTCUSDT", DAY)
    summary = stored["intraday/1400/liqmap_summary"].to_pandas().set_index("window").loc["7d"]
    assert summary["p0"] == snapshot.summary["p0"]
    assert stored["intraday/1400/liqmap_heatmap"].num_rows > 0
    # the archive publishes the day: the ledger no longer says REST, the stored map still does
    perturb(lake, after=True, source="https://data.binance.vision/test")
    store = ArtefactStore(f"s3://{s3.bucket}/briefings")  # the reports on an object store
    day_html = briefing_names(DAY)[0]
    store.write_bytes(b"<html>the day's 00:00 briefing</html>", *day_html)
    monkeypatch.setenv("LIQBRIEF_LAKE", str(root))
    run = CliRunner().invoke(app, ["brief", "--at", "2024-02-04T14:00", "--out", store.root])
    assert run.exit_code == 0, run.output
    html, pdf = run.stdout.split()  # `brief --at`: the stored hour's briefing, re-rendered
    assert (html, pdf) == tuple(store.location(*parts) for parts in briefing_names(DAY, AT))
    assert pdf == f"s3://{s3.bucket}/briefings/2024-02-04/liqbrief-2024-02-04T1400.pdf"
    assert store.read_bytes(*day_html) == b"<html>the day's 00:00 briefing</html>"
    (tmp_path / "hour.pdf").write_bytes(store.read_bytes(*briefing_names(DAY, AT)[1]))
    page_1 = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", tmp_path / "hour.pdf", "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert (
        "Book as of 14:00 UTC 04 Feb 2024; from Binance REST (the archive lacks them): "
        "04 Feb 00:00 – 04 Feb 14:00 UTC" in " ".join(page_1.split())
    )


def test_an_hour_without_inputs_says_which_extract_fills_it(tmp_path: Path) -> None:
    from flows.intraday import NoIntradayMapError

    with pytest.raises(NoIntradayMapError) as raised:
        intraday_map(Lake(str(tmp_path / "lake")), "BTCUSDT", AT)
    assert str(raised.value).startswith("no map for BTCUSDT at 2024-02-04T14:00: ")
    # from the pass start of February's maps: 30 days before 2024-02-01
    assert (
        "run `liqbrief extract --venues binance --symbols BTCUSDT --start 2024-01-02 --end 2024-02-04`"
        in str(raised.value)
    )


def test_the_archive_serves_the_hours_own_day_once_a_day_has_passed() -> None:
    from flows.intraday import archive_end

    assert archive_end(AT, date(2024, 2, 4)) == date(2024, 2, 3)  # today: REST has its hours
    assert archive_end(AT, date(2024, 2, 5)) == date(2024, 2, 3)  # maybe not yet published
    assert archive_end(AT, date(2024, 2, 6)) == DAY  # published: the archive has the day
    assert archive_end(AT, date(2026, 12, 7)) == DAY  # and REST no longer reaches it


@pytest.mark.flow
def test_an_hour_older_than_rest_reaches_is_mapped_from_the_archive(
    prefect_harness, tmp_path: Path, monkeypatch
) -> None:
    """Binance REST reaches 30 days back; an hour of 2024 comes from the archive, its own
    day included (REST on a closed port: asking it would fail the run)."""
    from flows.intraday import intraday_snapshot

    datasets = ["metrics", "klines_5m", "mark_klines_1m", "klines_1m", "funding_rate"]
    with ArchiveMirror(
        build_archive(["BTCUSDT"], datasets, date(2024, 1, 2), DAY, monthly=False)
    ) as m:
        for name, value in {
            "LIQBRIEF_LAKE": str(tmp_path / "lake"), "LIQBRIEF_BINANCE_ARCHIVE_URL": m.base_url,
            "LIQBRIEF_BINANCE_FAPI_URL": "http://127.0.0.1:9", "LIQBRIEF_HTTP_ATTEMPTS": "1",
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        result = intraday_snapshot(AT, ["BTCUSDT"], brief=False)
    mapped = result["symbols"]["BTCUSDT"]
    assert (
        mapped["cutoff"] == "Book as of 14:00 UTC 04 Feb 2024; every hour from the Binance archive"
    )
    assert mapped["summary"]["long_total_usd"] > 0 and mapped["summary"]["short_total_usd"] > 0
