"""The event calendar (FOMC decisions, US jobs reports): ``data/events/calendar.csv`` plus,
if set, ``$LIQBRIEF_REFERENCE_DIR/events/calendar.csv`` (user additions win on the same date
and kind). Each event has a wall-clock time in its own zone (``time``, ``timezone``): a jobs
report at 08:30 America/New_York is not out at 00:00 UTC of its day. Jobs rows may name the
months they publish (``reference_month``, space-separated YYYY-MM; default the month before),
since a report can be late or cover two months (2025-12-16 published October and November)."""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from sources.reference_data import SHIPPED

CALENDAR_COLUMNS = ["date", "time", "timezone", "kind", "event", "status", "source"]


def _check(path: Path, frame: pd.DataFrame) -> None:
    """One clear error naming the file for a missing column, date, time or zone."""
    missing = set(CALENDAR_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: the event calendar lacks columns {sorted(missing)}")
    try:
        pd.to_datetime(frame["date"], format="%Y-%m-%d")
        for value in frame["time"]:
            time.fromisoformat(value)
        for zone in set(frame["timezone"]):
            ZoneInfo(zone)
    except (ValueError, TypeError, ZoneInfoNotFoundError) as exc:
        raise ValueError(
            f"{path}: bad date, time (HH:MM) or timezone (e.g. America/New_York): {exc}"
        ) from exc


def load_calendar() -> pd.DataFrame:
    paths = [SHIPPED / "events" / "calendar.csv"]
    extra = os.environ.get("LIQBRIEF_REFERENCE_DIR")
    if extra and (Path(extra) / "events" / "calendar.csv").exists():
        paths.append(Path(extra) / "events" / "calendar.csv")
    frames = [pd.read_csv(p, dtype=str) for p in paths]
    for path, frame in zip(paths, frames, strict=True):
        _check(path, frame)
    calendar = pd.concat(frames, ignore_index=True).drop_duplicates(["date", "kind"], keep="last")
    return calendar.sort_values("date").reset_index(drop=True)
