"""ALFRED vintages end to end: real PAYEMS values and real BLS release dates served as FRED's
real-time periods by the loopback server, fetched by the real client, merged into the lake,
and read back by the macro context as known on a past date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from flows.context import macro_warnings, read_fred, store_fred_series
from liqbrief.testing.fred_server import FredServer
from sources.fred import OPEN_END, FredClient
from sources.reference_calendar import load_calendar
from store.lake import Lake
from tests.conftest import FAST_RETRY, SHARED_DATA
from transforms.context.macro import macro_context

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(
        not (SHARED_DATA / "401Alert-backtest-data").exists(), reason="shared/data absent"
    ),
]
KEY = "abcdef0123456789abcdef0123456789"
FEB = date(2024, 2, 1)
FIRST_RELEASE_SHIFT = -64.0  # a made-up first print, revised to the real value a month later


def real_payems() -> pd.DataFrame:
    frame = pd.read_csv(SHARED_DATA / "401Alert-backtest-data" / "PAYEMS.csv")
    frame.columns = ["date", "value"]
    return frame[(frame["date"] >= "2023-01-01") & (frame["date"] <= "2024-12-01")]


def release_dates() -> dict[str, str]:
    """Reference month (YYYY-MM-01) → the day BLS published it (real schedule)."""
    bls = pd.read_csv(SHARED_DATA / "bls-release-dates" / "employment_situation_release_dates.csv")
    months = pd.to_datetime(bls["reference_month_day12"]).dt.strftime("%Y-%m-01")
    return dict(zip(months, bls["release_date"], strict=True))


def alfred_periods(latest: pd.DataFrame, shift: float = FIRST_RELEASE_SHIFT) -> pd.DataFrame:
    """Two real-time periods per month, as ALFRED keeps them: the first print from its
    release day to the day before the next release (which revises it), then the latest."""
    released = release_dates()
    rows = []
    months = latest["date"].tolist()
    for month, value, following in zip(months, latest["value"], [*months[1:], None], strict=True):
        first = released[month]
        revised = released.get(following) if following else None
        if revised is None:
            rows.append((month, value, first, OPEN_END.isoformat()))
            continue
        end = (date.fromisoformat(revised) - timedelta(days=1)).isoformat()
        rows += [(month, value + shift, first, end), (month, value, revised, OPEN_END.isoformat())]
    return pd.DataFrame(rows, columns=["date", "value", "realtime_start", "realtime_end"])


def macro_as_of(lake: Lake, day: date) -> pd.DataFrame:
    fred = read_fred(lake, range(day.year - 1, day.year + 1))
    return macro_context(fred, load_calendar(), day, {"PAYEMS": "payrolls"})


def store(lake: Lake, periods: pd.DataFrame, key: str | None) -> None:
    with (
        FredServer({"PAYEMS": periods}, today=date(2026, 11, 24)) as server,
        httpx.Client() as http,
    ):
        client = FredClient(http, server.base_url, server.base_url, key, FAST_RETRY)
        client.page_limit = 7  # several pages, as FRED pages long answers
        store_fred_series(lake, client, "PAYEMS", date(2023, 1, 1), date(2024, 12, 31))


def test_a_past_date_shows_the_first_release_of_a_later_revised_value(tmp_path: Path) -> None:
    latest = real_payems()
    final = float(latest.loc[latest["date"] == FEB.isoformat(), "value"].iloc[0])
    lake = Lake(str(tmp_path / "lake"))
    store(lake, alfred_periods(latest), KEY)
    # February 2024 came out 2024-03-08 08:30 New York and was revised 2024-04-05
    row = macro_as_of(lake, date(2024, 3, 9)).iloc[0]
    assert row["obs_date"] == FEB and row["value"] == final + FIRST_RELEASE_SHIFT
    assert not row["latest_revision"]
    on_revision_day = macro_as_of(lake, date(2024, 4, 5)).iloc[0]  # 00:00 UTC: not out yet
    assert on_revision_day["value"] == final + FIRST_RELEASE_SHIFT


def test_revisions_published_after_t_change_nothing_for_t(tmp_path: Path) -> None:
    """Perturb every real-time period that starts after T: T's table keeps its bytes."""
    t = date(2024, 3, 9)
    periods = alfred_periods(real_payems())
    later = periods["realtime_start"] > t.isoformat()
    perturbed = periods.assign(value=periods["value"].where(~later, periods["value"] * 1.5))
    tables = []
    for n, frame in enumerate((periods, perturbed)):
        lake = Lake(str(tmp_path / f"lake{n}"))
        store(lake, frame, KEY)
        tables.append(macro_as_of(lake, t).to_parquet())
    assert tables[0] == tables[1]


def test_the_keyless_csv_has_no_vintages_and_says_so(tmp_path: Path) -> None:
    latest = real_payems()
    final = float(latest.loc[latest["date"] == FEB.isoformat(), "value"].iloc[0])
    lake = Lake(str(tmp_path / "lake"))
    store(lake, alfred_periods(latest), None)  # the CSV serves what FRED shows today
    macro = macro_as_of(lake, date(2024, 3, 9))
    assert macro.iloc[0]["value"] == final and bool(macro.iloc[0]["latest_revision"])
    assert any(
        "PAYEMS: latest-revision values" in w for w in macro_warnings(macro, date(2024, 3, 9))
    )
    stored = read_fred(lake, range(2024, 2025))
    stored = stored[stored["series"] == "PAYEMS"]
    fetched_on = datetime.now(UTC).date()
    assert not stored["vintage"].any() and (stored["realtime_start"] == fetched_on).all()
