"""The event calendar (FOMC decisions, US jobs reports): ``data/events/calendar.csv`` plus,
if set, ``$LIQBRIEF_REFERENCE_DIR/events/calendar.csv`` (user additions win on the same date
and kind)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from sources.reference_data import SHIPPED

CALENDAR_COLUMNS = ["date", "kind", "event", "status", "source"]


def load_calendar() -> pd.DataFrame:
    paths = [SHIPPED / "events" / "calendar.csv"]
    extra = os.environ.get("LIQBRIEF_REFERENCE_DIR")
    if extra and (Path(extra) / "events" / "calendar.csv").exists():
        paths.append(Path(extra) / "events" / "calendar.csv")
    frames = [pd.read_csv(p, dtype=str) for p in paths]
    for path, frame in zip(paths, frames, strict=True):
        missing = set(CALENDAR_COLUMNS) - set(frame.columns)
        if missing:
            raise ValueError(f"{path}: the event calendar lacks columns {sorted(missing)}")
        pd.to_datetime(frame["date"], format="%Y-%m-%d")  # raises on a bad date
    calendar = pd.concat(frames, ignore_index=True).drop_duplicates(["date", "kind"], keep="last")
    return calendar.sort_values("date").reset_index(drop=True)
