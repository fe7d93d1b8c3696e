from __future__ import annotations

from datetime import date

import pytest

from liqbrief.symbols import InvalidSymbolError
from sources.binance_archive.layout import ARCHIVE_DATASETS, plan_files

TODAY = date(2025, 6, 1)


def test_urls_follow_the_archive_layout_of_the_design_note() -> None:
    klines = plan_files(
        ARCHIVE_DATASETS["klines_1m"], "BTCUSDT", date(2025, 1, 8), date(2025, 1, 8), TODAY
    )
    metrics = plan_files(
        ARCHIVE_DATASETS["metrics"], "BTCUSDT", date(2025, 1, 8), date(2025, 1, 8), TODAY
    )
    funding = plan_files(
        ARCHIVE_DATASETS["funding_rate"], "BTCUSDT", date(2025, 1, 8), date(2025, 1, 8), TODAY
    )
    mark = plan_files(
        ARCHIVE_DATASETS["mark_klines_1m"], "BTCUSDT", date(2025, 1, 8), date(2025, 1, 8), TODAY
    )
    assert [f.path for f in klines] == [
        "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-08.zip"
    ]
    assert [f.path for f in metrics] == [
        "data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2025-01-08.zip"
    ]
    assert [f.path for f in funding] == [
        "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-01.zip"
    ]
    assert [f.path for f in mark] == [
        "data/futures/um/daily/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2025-01-08.zip"
    ]
    assert funding[0].days == (date(2025, 1, 8),)


def test_whole_finished_months_use_monthly_files_and_the_rest_daily() -> None:
    files = plan_files(
        ARCHIVE_DATASETS["klines_5m"], "BTCUSDT", date(2024, 1, 30), date(2024, 3, 2), TODAY
    )
    assert [(f.period, f.stamp) for f in files] == [
        ("daily", "2024-01-30"), ("daily", "2024-01-31"), ("monthly", "2024-02"),
        ("daily", "2024-03-01"), ("daily", "2024-03-02"),
    ]  # fmt: skip
    assert len(files[2].days) == 29  # leap year
    covered = [d for f in files for d in f.days]
    assert covered == sorted(set(covered)) and len(covered) == 33


def test_the_current_month_is_fetched_daily_because_its_monthly_file_does_not_exist_yet() -> None:
    files = plan_files(
        ARCHIVE_DATASETS["klines_5m"],
        "BTCUSDT",
        date(2025, 5, 1),
        date(2025, 5, 31),
        date(2025, 5, 31),
    )
    assert {f.period for f in files} == {"daily"} and len(files) == 31


def test_metrics_are_daily_only() -> None:
    files = plan_files(
        ARCHIVE_DATASETS["metrics"], "BTCUSDT", date(2024, 2, 1), date(2024, 2, 29), TODAY
    )
    assert {f.period for f in files} == {"daily"} and len(files) == 29


def test_bad_ranges_and_symbols_are_refused() -> None:
    with pytest.raises(ValueError, match="before start"):
        plan_files(
            ARCHIVE_DATASETS["metrics"], "BTCUSDT", date(2024, 2, 2), date(2024, 2, 1), TODAY
        )
    with pytest.raises(InvalidSymbolError):
        plan_files(ARCHIVE_DATASETS["metrics"], "../etc", date(2024, 2, 1), date(2024, 2, 1), TODAY)
