"""Macro context as of a date: the latest known value of each FRED series, its changes,
staleness, and the events due in the next week — using only what was known by then.

An observation dated d is *known* from d + lag: a daily close the day after, the effective
fed funds rate two days after (published the next business day), the weekly dollar index a
week after, a monthly labour series on its jobs-report day (from the event calendar).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

KNOWN_AFTER_DAYS = {
    "DFF": 2, "DFEDTARU": 1, "DFEDTARL": 1, "DGS2": 1, "DGS10": 1,
    "DTWEXBGS": 7, "VIXCLS": 1, "SP500": 1,
}  # fmt: skip
MONTHLY = {"UNRATE", "PAYEMS"}
# Daily and weekly series: days since the observation (weekends and holidays carry over).
# Monthly series: days since the value became known (a release is due about monthly).
STALE_AFTER_DAYS = {"daily": 4, "weekly": 10, "monthly": 40}
EVENT_HORIZON_DAYS = 7
CALENDAR_MIN_LEAD_DAYS = 30


def known_from(observations: pd.DataFrame, calendar: pd.DataFrame) -> pd.Series:
    """The date each observation became known (see the module note)."""
    return _known_from_times(observations, calendar).dt.date


def _known_from_times(observations: pd.DataFrame, calendar: pd.DataFrame) -> pd.Series:
    series, obs = observations["series"], pd.to_datetime(observations["date"])
    lag = series.map(KNOWN_AFTER_DAYS).fillna(1).astype(int)
    known = obs + pd.to_timedelta(lag, unit="D")
    monthly = series.isin(MONTHLY)
    if monthly.any():
        releases = np.sort(
            pd.to_datetime(calendar.loc[calendar["kind"] == "jobs", "date"]).to_numpy()
        )
        # data for month M is released in month M+1 (sometimes later): the first release after M ends
        month_end = (obs[monthly] + pd.offsets.MonthEnd(0)).to_numpy()
        idx = np.searchsorted(releases, month_end, side="right")
        fallback = (obs[monthly] + pd.DateOffset(months=1, days=7)).to_numpy()
        known.loc[monthly] = np.where(
            idx < len(releases), releases[np.minimum(idx, len(releases) - 1)], fallback
        )
    return known


def _frequency(series: str) -> str:
    return "monthly" if series in MONTHLY else "weekly" if series == "DTWEXBGS" else "daily"


def _age(series: str, as_of: date, obs_date: date, known: date) -> int:
    return (as_of - (known if series in MONTHLY else obs_date)).days


class _KnownSeries:
    """One series' observations ordered by when they became known (then by date), as
    arrays: every "as of" question is a binary search, not a DataFrame filter."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.known_from = rows["known_from"].to_numpy("datetime64[D]")
        self.dates = rows["day"].to_numpy("datetime64[D]")
        self.obs_dates = rows["date"].to_numpy()
        self.values = rows["value"].to_numpy(float)

    def count_known(self, when: date) -> int:
        """How many observations were known on ``when`` (they come first)."""
        return int(np.searchsorted(self.known_from, np.datetime64(when, "D"), side="right"))

    def value_as_of(self, when: date) -> float:
        n = self.count_known(when)
        return float(self.values[n - 1]) if n else float("nan")

    def last_observed_by(self, day: date, known: int) -> float:
        """The last observation dated on or before ``day`` among the first ``known``."""
        dates = self.dates[:known]
        candidates = np.flatnonzero(dates <= np.datetime64(day, "D"))
        if not candidates.size:
            return float("nan")
        return float(self.values[candidates[np.argmax(dates[candidates])]])


def macro_context(
    observations: pd.DataFrame, calendar: pd.DataFrame, as_of: date, labels: dict[str, str]
) -> pd.DataFrame:
    """One row per series: latest known value as of ``as_of`` and its changes.

    ``observations``: series, date, value (NaN = missing, skipped). Changes are differences
    of known values: as of 1 day / 7 days / 1 month before, and the last value known in the
    previous year's last observation (YTD).
    """
    obs = observations.dropna(subset=["value"]).copy()
    obs["known_from"] = _known_from_times(obs, calendar)
    obs["day"] = pd.to_datetime(obs["date"])  # datetime64: fast to sort and search
    obs = obs.sort_values(["series", "known_from", "day"], kind="stable")
    by_series = {name: _KnownSeries(rows) for name, rows in obs.groupby("series", sort=False)}
    month_ago = (pd.Timestamp(as_of) - pd.DateOffset(months=1)).date()
    year_start = date(as_of.year, 1, 1) - timedelta(days=1)
    rows = []
    for series in labels:
        history = by_series.get(series)
        n = history.count_known(as_of) if history is not None else 0
        if not n:
            rows.append({"date": as_of, "series": series, "label": labels[series], "obs_date": None,
                         "value": np.nan, "chg_1d": np.nan, "chg_1w": np.nan, "chg_1m": np.nan,
                         "chg_ytd": np.nan, "days_since_obs": -1, "stale": True})  # fmt: skip
            continue
        value, obs_date = float(history.values[n - 1]), history.obs_dates[n - 1]
        known = history.known_from[n - 1].astype(object)
        rows.append(
            {
                "date": as_of, "series": series, "label": labels[series], "obs_date": obs_date,
                "value": value,
                "chg_1d": value - history.value_as_of(as_of - timedelta(days=1)),
                "chg_1w": value - history.value_as_of(as_of - timedelta(days=7)),
                "chg_1m": value - history.value_as_of(month_ago),
                "chg_ytd": value - history.last_observed_by(year_start, n),
                "days_since_obs": (as_of - obs_date).days,
                "stale": _age(series, as_of, obs_date, known) > STALE_AFTER_DAYS[_frequency(series)],
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def _when(days: int) -> str:
    return "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"


def upcoming_events(
    calendar: pd.DataFrame, as_of: date, horizon_days: int = EVENT_HORIZON_DAYS
) -> pd.DataFrame:
    """Events from ``as_of`` to ``as_of + horizon``: "US jobs report in 2 days"."""
    dates = pd.to_datetime(calendar["date"]).dt.date
    due = calendar[(dates >= as_of) & (dates <= as_of + timedelta(days=horizon_days))].copy()
    due["event_date"] = pd.to_datetime(due["date"]).dt.date
    due["days_until"] = [(d - as_of).days for d in due["event_date"]]
    due["text"] = [f"{e} {_when(n)}" for e, n in zip(due["event"], due["days_until"], strict=True)]
    due["date"] = as_of
    return (
        due[["date", "event_date", "event", "days_until", "text"]]
        .sort_values("event_date")
        .reset_index(drop=True)
    )


def calendar_warning(calendar: pd.DataFrame, as_of: date) -> str | None:
    """A warning when the calendar does not reach 30 days past ``as_of``."""
    last = pd.to_datetime(calendar["date"]).dt.date.max()
    if last is None or pd.isna(last) or last < as_of + timedelta(days=CALENDAR_MIN_LEAD_DAYS):
        return (
            f"the event calendar ends on {last}, less than {CALENDAR_MIN_LEAD_DAYS} days after {as_of}: "
            "add FOMC and jobs-report dates to data/events/calendar.csv"
        )
    return None
