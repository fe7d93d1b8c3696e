"""Macro context as of a date D: per FRED series the value known at the snapshot instant
(00:00 UTC of D), its changes and staleness, and the events due in the next week.

*When* an observation became known is explicit: each series has a release rule (a time of
day in the publisher's own zone, see ``RELEASES``), the monthly labour series come out at
08:30 New York on their jobs-report day (from the event calendar). *What* was known comes
from FRED's real-time periods (ALFRED vintages): the value whose period contains the
snapshot, not today's revision. Rows of the keyless CSV have no vintages; a value first
seen after D is still shown (nothing better is known) and flagged ``latest_revision``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar
from pandas.tseries.offsets import CustomBusinessDay

NEW_YORK = "America/New_York"
OPEN_END = date(9999, 12, 31)
NEVER = np.iinfo(np.int64).max  # "known until": an open real-time period


@dataclass(frozen=True)
class Release:
    """When an observation dated d is published: ``business_days`` US business days after
    d (or, if ``weekly``, on the Monday after d's week) at ``at`` in ``zone``."""

    at: time
    zone: str = NEW_YORK
    business_days: int = 0
    weekly: bool = False


RELEASES = {
    "DFF": Release(time(9, 0), business_days=1),  # NY Fed: EFFR for d, next business day ~09:00
    "DFEDTARU": Release(time(14, 0)),  # FOMC statements at 14:00 New York
    "DFEDTARL": Release(time(14, 0)),
    "DGS2": Release(time(18, 0)),  # Treasury's daily par yield curve, by 18:00 New York
    "DGS10": Release(time(18, 0)),
    "VIXCLS": Release(time(16, 15)),  # Cboe close
    "SP500": Release(time(17, 0)),  # after the 16:00 close
    "DTWEXBGS": Release(time(16, 15), weekly=True),  # H.10: Mondays 16:15 for the prior week
    "UNRATE": Release(time(8, 30)),  # Employment Situation; the day comes from the calendar
    "PAYEMS": Release(time(8, 30)),
}
DEFAULT_RELEASE = Release(time(0, 0), zone="UTC", business_days=1)
FETCHED = Release(time(0, 0), zone="UTC")  # a keyless-CSV row: from its fetch date
MONTHLY = {"UNRATE", "PAYEMS"}
# Daily and weekly series are stale when the publications of STALE_AFTER_MISSED or more US
# business days are missing: the observations their release rule should have published by T
# (weekends, holidays and publication lags are not gaps). Monthly series: stale when the
# value became known more than STALE_MONTHLY_DAYS ago (a release is due about monthly).
STALE_AFTER_MISSED = 2
STALE_MONTHLY_DAYS = 40
EVENT_HORIZON_DAYS = 7
CALENDAR_MIN_LEAD_DAYS = 30
_BUSINESS_DAY = CustomBusinessDay(calendar=USFederalHolidayCalendar())


def snapshot_instant(as_of: date) -> pd.Timestamp:
    """The instant a briefing dated ``as_of`` describes: 00:00 UTC of that date."""
    return pd.Timestamp(as_of, tz="UTC")


def local_instants(days: pd.DatetimeIndex, at: time, zone: str) -> pd.DatetimeIndex:
    """``days`` at the wall-clock time ``at`` in ``zone``, as UTC instants."""
    naive = days.normalize() + pd.Timedelta(hours=at.hour, minutes=at.minute)
    return naive.tz_localize(ZoneInfo(zone)).tz_convert("UTC")


def event_instants(calendar: pd.DataFrame) -> pd.Series:
    """Each calendar event's instant, from its date, ``time`` and ``timezone`` columns."""
    out = pd.Series(pd.NaT, index=calendar.index, dtype="datetime64[ns, UTC]")
    for (at, zone), rows in calendar.groupby(["time", "timezone"]):
        days = pd.DatetimeIndex(pd.to_datetime(rows["date"]))
        out.loc[rows.index] = local_instants(days, time.fromisoformat(at), zone)
    return out


def _release_days(series: str, obs: pd.DatetimeIndex, calendar: pd.DataFrame) -> pd.DatetimeIndex:
    rule = RELEASES.get(series, DEFAULT_RELEASE)
    if series in MONTHLY:
        return _jobs_report_days(obs, calendar)
    if rule.weekly:
        obs = obs + pd.to_timedelta(7 - obs.day_of_week, unit="D")
        return _on_or_after_business_day(obs)
    if rule.business_days:
        return pd.DatetimeIndex([d + rule.business_days * _BUSINESS_DAY for d in obs])
    return obs


def _reference_months(calendar: pd.DataFrame) -> dict[str, pd.Timestamp]:
    """Reference month (YYYY-MM) → the first jobs report that published it: the calendar's
    ``reference_month`` (several when a report covered more, as on 2025-12-16), else the
    month before the report."""
    jobs = calendar[calendar["kind"] == "jobs"]
    months = jobs["reference_month"] if "reference_month" in jobs else pd.Series("", jobs.index)
    out: dict[str, pd.Timestamp] = {}
    for day, covered in sorted(zip(pd.to_datetime(jobs["date"]), months.fillna(""), strict=True)):
        previous = (day - pd.DateOffset(months=1)).strftime("%Y-%m")
        for month in str(covered).split() or [previous]:
            out.setdefault(month, day)
    return out


def _jobs_report_days(obs: pd.DatetimeIndex, calendar: pd.DataFrame) -> pd.DatetimeIndex:
    """The jobs report of each monthly observation; a month the calendar does not cover
    gets the first report after the month ends, or else a month and a week later."""
    by_month = _reference_months(calendar)
    releases = np.sort(np.array(list(by_month.values()), dtype="datetime64[ns]"))
    month_ends = (obs + pd.offsets.MonthEnd(0)).to_numpy()
    idx = np.searchsorted(releases, month_ends, side="right")
    days = []
    for d, i, late in zip(obs, idx, obs + pd.DateOffset(months=1, days=7), strict=True):
        listed = by_month.get(d.strftime("%Y-%m"))
        days.append(listed if listed is not None else releases[i] if i < len(releases) else late)
    return pd.DatetimeIndex(days)


def _on_or_after_business_day(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([(d - pd.Timedelta(days=1)) + _BUSINESS_DAY for d in days])


def first_known_at(observations: pd.DataFrame, calendar: pd.DataFrame) -> pd.Series:
    """The instant (UTC) each observation was first published, by its series' release rule."""
    out = pd.Series(pd.NaT, index=observations.index, dtype="datetime64[ns, UTC]")
    for series, rows in observations.groupby("series", sort=False):
        rule = RELEASES.get(series, DEFAULT_RELEASE)
        days = _release_days(series, pd.DatetimeIndex(pd.to_datetime(rows["date"])), calendar)
        out.loc[rows.index] = local_instants(days, rule.at, rule.zone)
    return out


def _seen_at(observations: pd.DataFrame, column: str) -> pd.Series:
    """The instant a real-time period starting on ``column``'s date became visible (NaT
    where the date is unknown): a FRED vintage at its series' release time that day; a CSV
    fetch at 00:00 UTC of its fetch date — the briefing of the fetch date counts it as known,
    as a live run that day can know no better."""
    out = pd.Series(pd.NaT, index=observations.index, dtype="datetime64[ns, UTC]")
    for (series, vintage), rows in observations.groupby(["series", "vintage"], sort=False):
        rule = RELEASES.get(series, DEFAULT_RELEASE) if vintage else FETCHED
        known = rows[column].notna()
        days = pd.DatetimeIndex(pd.to_datetime(rows.loc[known, column]))
        out.loc[rows.index[known]] = local_instants(days, rule.at, rule.zone)
    return out


def _ns(instants: pd.Series) -> np.ndarray:
    """UTC instants as int64 nanoseconds, NaT as NEVER."""
    return instants.astype("int64").where(instants.notna(), NEVER).to_numpy("int64")


def known_vintages(observations: pd.DataFrame, calendar: pd.DataFrame) -> pd.DataFrame:
    """Each stored row with the time span (UTC ns) in which it was the known value.

    ``observations``: series, date, value and FRED's realtime_start, realtime_end and
    vintage (absent or null: a latest revision seen at an unknown time). A row is known from
    ``known_at`` — its first publication, and for later vintages the day its real-time
    period began, at the release time — until the next period began (``known_until``).
    A CSV row's first period has no known start: it counts from first publication and
    ``seen_at`` records when it was actually fetched.
    """
    obs = observations.reset_index(drop=True)
    for column in ("realtime_start", "realtime_end", "vintage"):
        if column not in obs:
            obs[column] = None
    obs["vintage"] = obs["vintage"].astype("boolean").fillna(False).astype(bool)
    seen = _seen_at(obs, "realtime_start")
    first = first_known_at(obs, calendar)
    fetched = ~obs["vintage"]
    earliest = (
        obs[fetched]
        .groupby(["series", "date"])["realtime_start"]
        .transform("min")
        .reindex(obs.index)
    )
    first_fetch = fetched & (obs["realtime_start"].isna() | (obs["realtime_start"] == earliest))
    ends = obs["realtime_end"]
    finite = ends.notna() & (ends < OPEN_END)
    next_start = pd.Series(None, index=obs.index, dtype=object)
    next_start[finite] = [d + timedelta(days=1) for d in ends[finite]]
    until = _seen_at(obs.assign(next_start=next_start), "next_start")
    known_at = first.where(first_fetch, pd.concat([first, seen], axis=1).max(axis=1))
    return pd.DataFrame(
        {
            "series": obs["series"].to_numpy(), "date": obs["date"].to_numpy(),
            "value": obs["value"].to_numpy(float), "vintage": obs["vintage"].to_numpy(),
            "known_at": _ns(known_at), "known_until": _ns(until), "seen_at": _ns(seen),
        }
    ).dropna(subset=["value"])  # fmt: skip


class _SeriesVintages:
    """One series' rows as arrays: every "as of" question is a vectorised mask."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.days = pd.to_datetime(rows["date"]).to_numpy("datetime64[D]")
        self.obs_dates, self.values = rows["date"].to_numpy(), rows["value"].to_numpy(float)
        self.known_at, self.known_until = (
            rows["known_at"].to_numpy(),
            rows["known_until"].to_numpy(),
        )
        self.seen_at, self.vintage = rows["seen_at"].to_numpy(), rows["vintage"].to_numpy(bool)

    def latest(self, at: pd.Timestamp, dated_by: date | None = None) -> int:
        """Index of the latest-dated value known at ``at`` (dated on or before ``dated_by``
        if given), in the real-time period containing ``at``; -1 if none."""
        when = at.value
        valid = (self.known_at <= when) & (when < self.known_until)
        if dated_by is not None:
            valid &= self.days <= np.datetime64(dated_by, "D")
        candidates = np.flatnonzero(valid)
        if not candidates.size:
            return -1
        order = np.lexsort((self.known_at[candidates], self.days[candidates]))
        return int(candidates[order[-1]])

    def value(self, at: pd.Timestamp, dated_by: date | None = None) -> float:
        i = self.latest(at, dated_by)
        return float(self.values[i]) if i >= 0 else float("nan")


def expected_latest(series: list[str], as_of: date, calendar: pd.DataFrame) -> dict[str, date]:
    """Per daily or weekly series: the latest US business day whose observation its release
    rule has published by 00:00 UTC of ``as_of``."""
    names = [s for s in series if s not in MONTHLY]
    days = pd.date_range(end=pd.Timestamp(as_of), periods=20, freq=_BUSINESS_DAY).date
    frame = pd.DataFrame({"series": np.repeat(names, len(days)), "date": np.tile(days, len(names))})
    published = frame[(first_known_at(frame, calendar) <= snapshot_instant(as_of)).to_numpy()]
    return published.groupby("series")["date"].max().to_dict()


def _missed_business_days(obs_date: date, expected: date | None) -> int:
    if expected is None or expected <= obs_date:
        return 0
    return len(pd.date_range(obs_date + timedelta(days=1), expected, freq=_BUSINESS_DAY))


def _row(
    history: _SeriesVintages | None, series: str, label: str, as_of: date, expected: date | None
) -> dict:
    t = snapshot_instant(as_of)
    i = history.latest(t) if history is not None else -1
    if i < 0:
        return {"date": as_of, "series": series, "label": label, "obs_date": None,
                "value": np.nan, "chg_1d": np.nan, "chg_1w": np.nan, "chg_1m": np.nan,
                "chg_ytd": np.nan, "days_since_obs": None, "stale": True,
                "latest_revision": False}  # fmt: skip
    assert history is not None
    value, obs_date = float(history.values[i]), history.obs_dates[i]
    if series in MONTHLY:
        known = pd.Timestamp(history.known_at[i], tz="UTC").date()
        stale = (as_of - known).days > STALE_MONTHLY_DAYS
    else:
        stale = _missed_business_days(obs_date, expected) >= STALE_AFTER_MISSED
    return {
        "date": as_of, "series": series, "label": label, "obs_date": obs_date, "value": value,
        "chg_1d": value - history.value(t - pd.Timedelta(days=1)),
        "chg_1w": value - history.value(t - pd.Timedelta(days=7)),
        "chg_1m": value - history.value(t - pd.DateOffset(months=1)),
        "chg_ytd": value - history.value(t, dated_by=date(as_of.year, 1, 1) - timedelta(days=1)),
        "days_since_obs": (as_of - obs_date).days, "stale": stale,
        "latest_revision": bool(not history.vintage[i] and history.seen_at[i] > t.value),
    }  # fmt: skip


def macro_context_known(
    known: pd.DataFrame, calendar: pd.DataFrame, as_of: date, labels: dict[str, str]
) -> pd.DataFrame:
    """One row per series from ``known_vintages`` rows: the value known at 00:00 UTC of
    ``as_of``, its changes against the values known 1 day, 7 days and 1 month earlier and
    the last value dated in the previous year (as known now), and whether it is stale."""
    by_series = {name: _SeriesVintages(rows) for name, rows in known.groupby("series", sort=False)}
    expected = expected_latest(list(labels), as_of, calendar)
    rows = [_row(by_series.get(s), s, labels[s], as_of, expected.get(s)) for s in labels]
    return pd.DataFrame(rows)


def macro_context(
    observations: pd.DataFrame, calendar: pd.DataFrame, as_of: date, labels: dict[str, str]
) -> pd.DataFrame:
    """``macro_context_known`` of ``known_vintages(observations, calendar)``."""
    return macro_context_known(known_vintages(observations, calendar), calendar, as_of, labels)


def _when(days: int) -> str:
    return "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"


def upcoming_events(
    calendar: pd.DataFrame, as_of: date, horizon_days: int = EVENT_HORIZON_DAYS
) -> pd.DataFrame:
    """Events not yet past at 00:00 UTC of ``as_of`` and due by the end of ``as_of +
    horizon``: "US jobs report in 2 days". An event's instant comes from its date, time and
    zone; its date and the days until it are counted in UTC, like the briefing's date."""
    instants = event_instants(calendar)
    utc_dates = instants.dt.date
    ahead = (instants >= snapshot_instant(as_of)) & (
        utc_dates <= as_of + timedelta(days=horizon_days)
    )
    due = calendar[ahead].assign(event_date=utc_dates[ahead])
    due["days_until"] = [(d - as_of).days for d in due["event_date"]]
    due["text"] = [f"{e} {_when(n)}" for e, n in zip(due["event"], due["days_until"], strict=True)]
    due["date"] = as_of
    return (
        due[["date", "event_date", "event", "days_until", "text"]]
        .sort_values("event_date", kind="stable")
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
