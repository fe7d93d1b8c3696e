"""``MessageCounter``: the frames of one spool segment counted per venue and UTC hour of
receipt, by kind (data, control, malformed). Compaction stores the counts in the lake's
``recorder_messages`` (keyed by the segment, so a second compaction adds nothing) and
``--status`` counts the segments still in the spool the same way: one code path per fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sources.liquidation_streams.model import FRAME_KINDS

HOUR_US = 3_600_000_000


def segment_id(path: Path) -> str:
    """A segment's identity, the same while ``.open`` and once ``.seg``: ``<start_us>-<pid>``."""
    return path.stem


@dataclass
class HourCount:
    """One venue's frames of one hour of one segment."""

    data: int = 0
    control: int = 0
    malformed: int = 0
    first_us: int = 0
    last_us: int = 0

    @property
    def frames(self) -> int:
        return self.data + self.control + self.malformed


class MessageCounter:
    """Counts of one segment (``segment`` = its file name without suffix), fed frame by frame."""

    def __init__(self, segment: str) -> None:
        self.segment = segment
        self.hours: dict[tuple[str, int], HourCount] = {}

    def feed(self, venue: str, at_us: int, kind: str) -> None:
        """One received frame, with ``parse_frame``'s verdict."""
        assert kind in FRAME_KINDS, kind
        hour = at_us - at_us % HOUR_US
        count = self.hours.get((venue, hour))
        if count is None:
            count = self.hours[(venue, hour)] = HourCount(first_us=at_us, last_us=at_us)
        setattr(count, kind, getattr(count, kind) + 1)
        count.first_us, count.last_us = min(count.first_us, at_us), max(count.last_us, at_us)

    def rows(self, venue: str) -> pd.DataFrame:
        """One venue's rows in the lake's RECORDER_MESSAGES_SCHEMA."""
        found = sorted((hour, c) for (v, hour), c in self.hours.items() if v == venue)

        def times(values: list[int]) -> pd.Series:
            return pd.Series(
                pd.to_datetime(values, unit="us", utc=True), dtype="datetime64[us, UTC]"
            )

        return pd.DataFrame(
            {
                "segment": [self.segment] * len(found),
                "hour": times([h for h, _ in found]),
                "frames": [c.frames for _, c in found],
                "data": [c.data for _, c in found],
                "control": [c.control for _, c in found],
                "malformed": [c.malformed for _, c in found],
                "first_received": times([c.first_us for _, c in found]),
                "last_received": times([c.last_us for _, c in found]),
            }
        )

    def venues(self) -> list[str]:
        return sorted({venue for venue, _ in self.hours})
