"""Where a date's model pass starts, so its map does not depend on the range it was made in.

Step 7 of the model (survival.py) explains each fall of open interest first by the
liquidations, in that bar, of every cohort the pass knows, of any age. A pass that starts
earlier knows older cohorts, counts more liquidations, shrinks the survivors a little less,
and so gives a slightly different map of the same date (about 4e-5 of the 30d totals with a
31-day warm-up on the synthetic market). liquidation-model.md step 9 asks for a date's map
to be identical whether computed alone, in a month or in a year, so every date's pass starts
on a day fixed by the date itself: the longest window (30 days) before the first of its
month. A range is mapped by one pass per calendar month, each over its own inputs read for
its own days (1.4-1.5x the engine work of one pass over the range, bench/liqmap.py); a
single date reads 31 to 61 days of inputs. Each pass reads its days as the lake stores them
(not cut from a longer read): an archive day's file can hold the next day's 00:00 reading.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd

from transforms.liqmap.config import WINDOWS, ModelConfig
from transforms.liqmap.engine import (
    CHUNK_DAYS,
    NotEnoughDataError,
    parts_from_stream,
    streamed_pass,
)
from transforms.liqmap.map_tables import MapParts, unmappable_at
from transforms.liqmap.stream import StreamedPass
from transforms.venue_margin import MarginRules

WARMUP_DAYS = max(WINDOWS.values())
ENGINE_INPUTS = ("metrics", "klines_5m", "mark_klines_1m", "klines_1m")
# the engine's inputs (ENGINE_INPUTS) of the days [first, last], as the lake stores them
InputReader = Callable[[date, date], dict[str, pd.DataFrame]]


def month_of(day: date) -> date:
    return day.replace(day=1)


def pass_start(day: date) -> date:
    """The first day of inputs the pass that maps ``day`` reads."""
    return month_of(day) - timedelta(days=WARMUP_DAYS)


def first_mapped_on_or_after(day: date) -> date:
    """The first date whose pass starts on or after ``day``."""
    month = month_of(day + timedelta(days=WARMUP_DAYS))
    return month if pass_start(month) >= day else last_day_of_month(month) + timedelta(days=1)


def last_day_of_month(day: date) -> date:
    return (month_of(day) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def by_month(dates: list[date]) -> list[tuple[date, list[date]]]:
    """The dates grouped by calendar month, months and dates in order."""
    months: dict[date, list[date]] = {}
    for day in sorted(set(dates)):
        months.setdefault(month_of(day), []).append(day)
    return list(months.items())


class MonthlyPasses:
    """The engine passes of a range of dates up to ``last``: one streamed pass per calendar
    month, over the inputs ``read`` returns for the days [pass_start(month), the day after
    the month or ``last``], run as far as the month's dates asked for. Only the current
    month's pass is held; dates must be asked for in date order, as with one streamed pass."""

    def __init__(
        self,
        read: InputReader,
        rules: pd.DataFrame | MarginRules,
        config: ModelConfig,
        symbol: str,
        last: date,
        chunk_days: int = CHUNK_DAYS,
    ) -> None:
        self.read, self.rules, self.config = read, rules, config
        self.symbol, self.last, self.chunk_days = symbol, last, chunk_days
        self._current: tuple[date, StreamedPass] | None = None

    def of_month(self, month: date) -> StreamedPass:
        """The month's pass (a new one when the month changes; the previous is let go);
        NotEnoughDataError if its inputs cannot map anything. The inputs run to the day
        after the month (its first readings close the month's last day, which scoring reads)
        or to ``last``; no snapshot reads beyond its own time."""
        if self._current is None or self._current[0] != month:
            last = min(last_day_of_month(month) + timedelta(days=1), self.last)
            inputs = self.read(pass_start(month), last)
            streamed = streamed_pass(
                inputs["metrics"], inputs["klines_5m"], inputs["mark_klines_1m"], self.rules,
                self.config, symbol=self.symbol, last_1m=inputs["klines_1m"],
                chunk_days=self.chunk_days,
            )  # fmt: skip
            self._current = (month, streamed)
        return self._current[1]

    def unmappable(self, month: date, days: list[date]) -> dict[date, str]:
        """The month's ``days`` whose snapshot lacks a fresh price or open interest, with why."""
        try:
            maker = self.of_month(month).run_parts()[2]
        except NotEnoughDataError as exc:
            return dict.fromkeys(days, str(exc))
        return unmappable_at(maker, days, self.config)

    def parts(
        self, dates: list[date], heatmap_dates: list[date], *, venue: str = "binance"
    ) -> MapParts:
        """The maps of ``dates`` (and heatmaps of ``heatmap_dates``), each from its month's
        pass, in date order; later calls must not ask for dates before this call's first."""
        parts = MapParts(np.asarray(self.config.tiers.vectors()[0]))
        asked, heat = set(dates), set(heatmap_dates)
        for month, days in by_month([*asked, *heat]):
            try:
                streamed = self.of_month(month)
            except NotEnoughDataError as exc:  # inputs elsewhere in the range, none here
                parts.missing |= {d: str(exc) for d in days if d in asked}
                continue
            parts_from_stream(
                streamed, [d for d in days if d in asked], self.config, symbol=self.symbol,
                venue=venue, heatmap_dates=[d for d in days if d in heat], into=parts,
            )  # fmt: skip
        return parts
