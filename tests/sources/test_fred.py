"""FRED through its real HTTP path against a loopback replay of the JSON and CSV formats."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from flows.context import read_fred, store_fred_series
from liqbrief.testing.fred_server import FredServer
from sources.errors import DownloadError
from sources.fred import FredClient, FredFormatError, merge_observations, parse_csv
from store.lake import Lake
from tests.conftest import FAST_RETRY, SHARED_DATA, lake_files

pytestmark = pytest.mark.server
KEY = "abcdef0123456789abcdef0123456789"
DFF = pd.DataFrame(
    {
        "date": ["2024-01-02", "2024-01-03", "2024-01-04", "2025-01-02"],
        "value": [5.33, np.nan, 5.33, 4.33],
    }
)


def client(server: FredServer, http: httpx.Client, key: str | None = KEY) -> FredClient:
    return FredClient(http, server.base_url, server.base_url, key, FAST_RETRY)


@pytest.mark.parametrize("key", [KEY, None], ids=["json-api", "keyless-csv"])
def test_observations_with_missing_values(key: str | None) -> None:
    with FredServer({"DFF": DFF}) as server, httpx.Client() as http:
        frame = client(server, http, key).observations("DFF", date(2024, 1, 1), date(2024, 12, 31))
    assert frame["date"].tolist() == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
    assert frame["value"].iloc[0] == 5.33 and np.isnan(frame["value"].iloc[1])
    if key:  # every vintage since the start: the periods FRED reports
        assert frame["realtime_start"].iloc[0] == date(2024, 1, 2) and frame["vintage"].all()
        assert server.requests[0]["api_key"] == KEY and server.requests[0]["file_type"] == "json"
        assert server.requests[0]["realtime_end"] == "9999-12-31"
    else:  # no vintages in the CSV: the latest revision, stamped with the fetch date
        assert (frame["realtime_start"] == datetime.now(UTC).date()).all()
        assert not frame["vintage"].any()


def test_the_legacy_csv_layout_parses_too() -> None:
    with FredServer({"DFF": DFF}, legacy_csv=True) as server, httpx.Client() as http:
        frame = client(server, http, None).observations("DFF", date(2024, 1, 1), date(2024, 12, 31))
    assert len(frame) == 3 and np.isnan(frame["value"].iloc[1])


def test_a_429_is_retried_then_succeeds() -> None:
    with FredServer({"DFF": DFF}) as server, httpx.Client() as http:
        server.faults.extend(["429", "429"])
        frame = client(server, http).observations("DFF", date(2024, 1, 1), date(2024, 12, 31))
    assert len(frame) == 3 and len(server.requests) == 3


def test_persistent_429_is_a_clear_error_that_never_shows_the_key(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    lake = Lake(str(tmp_path / "lake"))
    with FredServer({"DFF": DFF}) as server, httpx.Client() as http:
        server.faults.extend(["429"] * 3)
        with pytest.raises(DownloadError, match="FRED kept failing") as error:
            store_fred_series(
                lake, client(server, http), "DFF", date(2024, 1, 1), date(2024, 12, 31)
            )
    assert KEY not in str(error.value) and KEY not in caplog.text
    assert lake_files(tmp_path / "lake") == []


def test_a_malformed_body_is_a_clear_error_and_nothing_is_written(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    with FredServer({"DFF": DFF}) as server, httpx.Client() as http:
        server.faults.append("garbage")
        with pytest.raises(FredFormatError, match="not the observations layout"):
            store_fred_series(
                lake, client(server, http), "DFF", date(2024, 1, 1), date(2025, 12, 31)
            )
    assert lake_files(tmp_path / "lake") == []


def test_stored_series_are_split_by_year_and_read_back(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    with FredServer({"DFF": DFF}) as server, httpx.Client() as http:
        assert (
            store_fred_series(
                lake, client(server, http), "DFF", date(2024, 1, 1), date(2025, 12, 31)
            )
            == 4
        )
    frame = read_fred(lake, range(2024, 2026))
    assert frame[frame["series"] == "DFF"]["date"].tolist() == [
        date(2024, 1, 2),
        date(2024, 1, 3),
        date(2024, 1, 4),
        date(2025, 1, 2),
    ]
    assert "binance" not in lake_files(tmp_path / "lake")[0]


def test_csv_with_the_wrong_series_column_is_refused() -> None:
    with pytest.raises(FredFormatError, match="expected observation_date/DATE and DFF"):
        parse_csv(b"observation_date,DGS2\n2024-01-02,4.3\n", "DFF", date(2026, 1, 1))


@pytest.mark.skipif(
    not (SHARED_DATA / "Dissertation").exists(), reason="shared/data FRED CSVs absent"
)
@pytest.mark.parametrize(
    ("path", "series", "rows", "missing"),
    [
        ("Dissertation/DFEDTARU.csv", "DFEDTARU", 5525, 0),
        ("Dissertation/DGS2_from2020.csv", "DGS2", 1062, 44),
        ("intermaket_cycle_analysis---dxy-stocks-and-vix/VIXCLS.csv", "VIXCLS", 1305, 19),
    ],
)
def test_real_fred_files_in_both_layouts(path: str, series: str, rows: int, missing: int) -> None:
    frame = parse_csv((SHARED_DATA / path).read_bytes(), series, date(2026, 1, 1))
    assert len(frame) == rows and int(frame["value"].isna().sum()) == missing
    assert frame["date"].is_monotonic_increasing


def test_an_unreachable_fred_is_tried_once_not_once_per_series(tmp_path: Path, monkeypatch) -> None:
    import socket

    from flows.context import extract_fred

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("LIQBRIEF_FRED_CSV_URL", closed)
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    monkeypatch.setenv("LIQBRIEF_HTTP_ATTEMPTS", "2")
    outcome = extract_fred.fn(date(2024, 1, 1), date(2024, 1, 31))
    failures = [o for o in outcome.values() if o.startswith("failed")]
    assert len(failures) == 10
    assert sum("skipped, FRED unreachable" in o for o in failures) == 9
    assert lake_files(tmp_path / "lake") == []


# -- nothing lost ---------------------------------------------------------------------------
def lake_bytes(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in lake_files(root)}


def test_an_answer_with_only_this_years_rows_keeps_last_years(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    days = pd.date_range("2024-01-01", "2025-06-30", freq="D").strftime("%Y-%m-%d")
    full = pd.DataFrame({"date": days, "value": 5.0})
    with FredServer({"DFF": full}) as server, httpx.Client() as http:
        store_fred_series(
            lake, client(server, http, None), "DFF", date(2024, 1, 1), date(2025, 6, 30)
        )
    with FredServer({"DFF": full[full["date"] >= "2025-01-01"]}) as server, httpx.Client() as http:
        store_fred_series(
            lake, client(server, http, None), "DFF", date(2024, 1, 1), date(2025, 6, 30)
        )
    stored = read_fred(lake, range(2024, 2026))
    dff = stored[stored["series"] == "DFF"]
    assert sum(d.year == 2024 for d in dff["date"]) == 366  # leap year: nothing wiped
    assert sum(d.year == 2025 for d in dff["date"]) == 181


@pytest.mark.parametrize("key", [KEY, None], ids=["json-api", "keyless-csv"])
def test_an_empty_answer_is_a_clear_error_and_deletes_nothing(tmp_path: Path, key) -> None:
    from sources.fred import FredNoDataError

    lake = Lake(str(tmp_path / "lake"))
    with FredServer({"DFF": DFF}) as server, httpx.Client() as http:
        store_fred_series(
            lake, client(server, http, key), "DFF", date(2024, 1, 1), date(2025, 12, 31)
        )
    before = lake_bytes(tmp_path / "lake")
    empty = DFF.iloc[:0]
    with (
        FredServer({"DFF": empty}) as server,
        httpx.Client() as http,
        pytest.raises(FredNoDataError, match="FRED returned no observations for DFF") as error,
    ):
        store_fred_series(
            lake, client(server, http, key), "DFF", date(2024, 1, 1), date(2025, 12, 31)
        )
    assert "stored values kept" in str(error.value)
    assert lake_bytes(tmp_path / "lake") == before


def test_an_empty_answer_is_reported_by_the_extract_task(tmp_path: Path, monkeypatch) -> None:
    from flows.context import extract_fred

    series = {name: DFF.iloc[:0] for name in ("DFF", "DGS2")}
    with FredServer(series) as server:
        monkeypatch.setenv("LIQBRIEF_LAKE", str(tmp_path / "lake"))
        monkeypatch.setenv("LIQBRIEF_FRED_CSV_URL", server.base_url)
        monkeypatch.delenv("FRED_API_KEY", raising=False)
        outcome = extract_fred.fn(date(2024, 1, 1), date(2024, 1, 31))
    assert outcome["DFF"].startswith("failed: FRED returned no observations for DFF")
    assert lake_files(tmp_path / "lake") == []


# -- merging answers into what is stored (pure) ----------------------------------------------
def rows(*items: tuple[str, float, str, str, bool]) -> pd.DataFrame:
    frame = pd.DataFrame(
        items, columns=["date", "value", "realtime_start", "realtime_end", "vintage"]
    )
    for column in ("date", "realtime_start", "realtime_end"):
        frame[column] = [date.fromisoformat(d) for d in frame[column]]
    return frame


def as_tuples(frame: pd.DataFrame) -> list[tuple]:
    return [
        (str(r.date), r.value, str(r.realtime_start), str(r.realtime_end), bool(r.vintage))
        for r in frame.itertuples()
    ]


def test_a_csv_value_that_changed_opens_a_new_period_and_keeps_the_old() -> None:
    stored = rows(("2024-01-02", 5.0, "2024-01-03", "9999-12-31", False),
                  ("2024-01-03", 5.1, "2024-01-04", "9999-12-31", False))  # fmt: skip
    fetched = rows(("2024-01-02", 5.5, "2024-02-01", "9999-12-31", False),
                   ("2024-01-03", 5.1, "2024-02-01", "9999-12-31", False))  # fmt: skip
    assert as_tuples(merge_observations(stored, fetched)) == [
        ("2024-01-02", 5.0, "2024-01-03", "2024-01-31", False),
        ("2024-01-02", 5.5, "2024-02-01", "9999-12-31", False),
        ("2024-01-03", 5.1, "2024-01-04", "9999-12-31", False),  # unchanged: first sighting kept
    ]


def test_api_vintages_supersede_csv_rows_and_keep_earlier_periods() -> None:
    stored = rows(("2024-01-02", 5.0, "2024-02-01", "9999-12-31", False),
                  ("2024-01-03", 4.0, "2024-01-04", "9999-12-31", True),
                  ("2024-01-04", 3.0, "2024-01-05", "9999-12-31", True))  # fmt: skip
    fetched = rows(("2024-01-02", 4.9, "2024-01-03", "2024-01-09", True),
                   ("2024-01-02", 5.0, "2024-01-10", "9999-12-31", True),
                   ("2024-01-03", 4.2, "2024-03-01", "9999-12-31", True))  # fmt: skip
    assert as_tuples(merge_observations(stored, fetched)) == [
        ("2024-01-02", 4.9, "2024-01-03", "2024-01-09", True),
        ("2024-01-02", 5.0, "2024-01-10", "9999-12-31", True),
        ("2024-01-03", 4.0, "2024-01-04", "2024-02-29", True),  # cut where the answer begins
        ("2024-01-03", 4.2, "2024-03-01", "9999-12-31", True),
        ("2024-01-04", 3.0, "2024-01-05", "9999-12-31", True),  # not in the answer: kept
    ]


def test_long_answers_are_fetched_page_by_page() -> None:
    with FredServer({"DFF": DFF}) as server, httpx.Client() as http:
        fred = client(server, http)
        fred.page_limit = 2
        frame = fred.observations("DFF", date(2024, 1, 1), date(2025, 12, 31))
    assert len(frame) == 4 and [r["offset"] for r in server.requests] == ["0", "2"]


def test_a_long_real_time_range_is_asked_in_windows_fred_accepts() -> None:
    """FRED refuses more than its maximum of vintage dates per real-time range; the client
    asks in windows and joins a period cut at a window's edge."""
    periods = pd.DataFrame(
        {
            "date": ["2019-01-02"] * 6,
            "value": [1.0, 2.0, 3.0, 4.0, 5.0, 5.0],
            "realtime_start": ["2019-01-03", "2020-06-01", "2021-06-01", "2022-06-01",
                               "2023-06-01", "2024-01-01"],
            "realtime_end": ["2020-05-31", "2021-05-31", "2022-05-31", "2023-05-31",
                             "2023-12-31", "9999-12-31"],
        }
    )  # fmt: skip
    with FredServer({"DFF": periods}) as server, httpx.Client() as http:
        server.max_vintage_dates = 3
        fred = client(server, http)
        with pytest.raises(DownloadError, match="exceeds the maximum number of vintage dates"):
            fred.realtime_window_years = 10
            fred.observations("DFF", date(2019, 1, 1), date(2019, 12, 31))
        fred.realtime_window_years = 2
        frame = fred.observations("DFF", date(2019, 1, 1), date(2019, 12, 31))
    assert frame["value"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]  # 5.0's two periods joined
    assert frame["realtime_start"].tolist()[-1] == date(2023, 6, 1)
    assert frame["realtime_end"].tolist()[-1] == date(9999, 12, 31)
