"""When does a path first touch a level? Vectorised over many (start, level) queries.

A sparse table of running minima (levels 2^k) lets each query skip whole blocks
that stay above its level, largest block first — O(log n) vectorised steps for
all queries at once instead of a scan per cohort.
"""

from __future__ import annotations

import numpy as np


class FirstTouch:
    """First index m >= start with values[m] <= level (len(values) if never)."""

    def __init__(self, values: np.ndarray) -> None:
        self.n = len(values)
        self.levels: list[np.ndarray] = [np.asarray(values, float)]
        size = 1
        while 2 * size <= self.n:
            previous = self.levels[-1]
            self.levels.append(np.minimum(previous[:-size], previous[size:]))
            size *= 2

    def first_at_or_below(self, start: np.ndarray, level: np.ndarray) -> np.ndarray:
        pos = np.asarray(start, np.int64).copy()
        level = np.asarray(level, float)
        for k in range(len(self.levels) - 1, -1, -1):
            table = self.levels[k]
            inside = pos < len(table)  # the block [pos, pos + 2^k) lies within the path
            if not inside.any():
                continue
            block_min = table[np.minimum(pos, len(table) - 1)]
            pos += np.where(inside & (block_min > level), 1 << k, 0)
        return pos


def first_low_touch(lows: np.ndarray, start: np.ndarray, level: np.ndarray) -> np.ndarray:
    """First minute at or after start whose low is <= level (a long's liquidation)."""
    return FirstTouch(lows).first_at_or_below(start, level)


def first_high_touch(highs: np.ndarray, start: np.ndarray, level: np.ndarray) -> np.ndarray:
    """First minute at or after start whose high is >= level (a short's liquidation)."""
    return FirstTouch(-np.asarray(highs, float)).first_at_or_below(start, -np.asarray(level, float))
