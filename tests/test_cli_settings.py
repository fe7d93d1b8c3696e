"""Settings read once from the environment with bounds, and strict JSON output (in-process)."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liqbrief.json_output import strict_json
from liqbrief.settings import Settings, SettingsError, lake_problem


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LIQBRIEF_DOWNLOAD_CONCURRENCY", "0", "LIQBRIEF_DOWNLOAD_CONCURRENCY='0': use a whole number from 1 to 64"),
        ("LIQBRIEF_DOWNLOAD_CONCURRENCY", "65", "from 1 to 64"),
        ("LIQBRIEF_HTTP_ATTEMPTS", "many", "LIQBRIEF_HTTP_ATTEMPTS='many': use a whole number from 1 to 20"),
        ("LIQBRIEF_RENDER_WORKERS", "abc", "LIQBRIEF_RENDER_WORKERS='abc': use a whole number from 1 to"),
        ("LIQBRIEF_CHART_FORMAT", "gif", "LIQBRIEF_CHART_FORMAT='gif': use one of svg, png"),
        ("LIQBRIEF_FRED_URL", "file:///etc", "LIQBRIEF_FRED_URL='file:///etc': must be an http(s) URL"),
        ("LIQBRIEF_FRED_CSV_URL", "https://", "with a host"),
        ("LIQBRIEF_LAKE", "foo://x", "LIQBRIEF_LAKE='foo://x': unknown URI scheme; use a local path"),
        ("LIQBRIEF_LAKE", "ftp://host/lake", "unknown URI scheme"),
        ("LIQBRIEF_DASK_ADDRESS", "tcp://10.0.0.5", "LIQBRIEF_DASK_ADDRESS='tcp://10.0.0.5': use local"),
        ("LIQBRIEF_DASK_ADDRESS", "tcp://10.0.0.5:0", "a scheduler's tcp://host:port"),
        ("LIQBRIEF_DASK_ADDRESS", "tcp://10.0.0.5:65536", "a scheduler's tcp://host:port"),
        ("LIQBRIEF_DASK_ADDRESS", "inproc://x", "use local"),
        ("LIQBRIEF_DASK_ADDRESS", "LOCAL", "use local"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_one_line_naming_it(monkeypatch, name, value, message) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        Settings.from_env()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_defaults_and_overrides(monkeypatch) -> None:
    for name in ("LIQBRIEF_DOWNLOAD_CONCURRENCY", "LIQBRIEF_CHART_FORMAT", "FRED_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIQBRIEF_BINANCE_ARCHIVE_URL", "http://127.0.0.1:8765/")
    settings = Settings.from_env()
    assert settings.download_concurrency == 8 and settings.chart_format == "svg"
    assert settings.binance_archive_url == "http://127.0.0.1:8765" and settings.fred_api_key is None
    monkeypatch.setenv("LIQBRIEF_CHART_FORMAT", "png")
    assert Settings.from_env().chart_format == "png"  # a changed environment is read again


def test_the_fred_key_stays_out_of_reprs(monkeypatch) -> None:
    monkeypatch.setenv("FRED_API_KEY", "k3y-s3cret")
    settings = Settings.from_env()
    assert settings.fred_api_key == "k3y-s3cret" and "k3y-s3cret" not in repr(settings)


def test_lake_paths_that_cannot_hold_a_lake(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert "is a file" in lake_problem(str(tmp_path / "file"), writable=False)
    assert "cannot be created" in lake_problem(str(tmp_path / "file" / "lake"), writable=True)
    assert lake_problem(str(tmp_path / "new" / "lake"), writable=True) is None
    assert not (tmp_path / "new").exists()  # checking creates nothing
    assert lake_problem("s3://bucket/lake", writable=True) is None


def test_strict_json_turns_nan_and_infinity_into_null() -> None:
    row = {
        "p0": 100.5, "nan": math.nan, "inf": math.inf, "np": np.float64("nan"),
        "count": np.int64(3), "day": date(2024, 3, 6), "ts": pd.Timestamp("2024-03-06"),
        "nat": pd.NaT, "na": pd.NA, "nested": [np.float64("-inf"), {"x": 1.0}],
    }  # fmt: skip
    parsed = json.loads(strict_json(row), parse_constant=lambda token: 1 / 0)
    assert parsed == {
        "p0": 100.5, "nan": None, "inf": None, "np": None, "count": 3, "day": "2024-03-06",
        "ts": "2024-03-06T00:00:00", "nat": None, "na": None, "nested": [None, {"x": 1.0}],
    }  # fmt: skip


@pytest.mark.parametrize(
    "lake", ["./lake", "/abs/lake", "file:///tmp/lake", "s3://bucket/lake", "gs://b/l"]
)
def test_lake_paths_and_known_uris_are_accepted(monkeypatch, lake: str) -> None:
    monkeypatch.setenv("LIQBRIEF_LAKE", lake)
    assert Settings.from_env().lake == lake


def test_the_reports_dir_is_checked_and_the_check_leaves_nothing(
    monkeypatch, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(tmp_path / "new" / "briefings"))
    settings = Settings.from_env()
    assert settings.require_reports_dir() == str(tmp_path / "new" / "briefings")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing created or left
    assert settings.require_reports_dir(tmp_path) == str(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    with pytest.raises(
        SettingsError, match=r"^--out='.*file': is a file, not a directory; point --out"
    ):
        settings.require_reports_dir(tmp_path / "file")
    with pytest.raises(
        SettingsError, match=r"cannot be created \(in /proc\): .*LIQBRIEF_REPORTS_DIR"
    ):
        Settings.from_env().model_copy(
            update={"reports_dir": "/proc/briefings"}
        ).require_reports_dir()


@pytest.mark.parametrize(
    "address", ["local", "tcp://10.0.0.5:8786", "tcp://dask-scheduler:1", "tcp://[::1]:65535"]
)
def test_dask_addresses_that_are_accepted(monkeypatch, address: str) -> None:
    monkeypatch.setenv("LIQBRIEF_DASK_ADDRESS", address)
    assert Settings.from_env().dask_address == address
