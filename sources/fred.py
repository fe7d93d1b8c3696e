"""FRED observations: the REST API (JSON, needs FRED_API_KEY) or the keyless CSV download.

Both base URLs are configurable (LIQBRIEF_FRED_URL, LIQBRIEF_FRED_CSV_URL) so tests replay
recorded responses from a loopback server. Missing values ("." in JSON and the old CSV
layout, empty in the new one) become NaN. Rate limits (429) are retried with backoff.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, date, datetime, timedelta

import httpx
import numpy as np
import pandas as pd
from tenacity import Retrying

from liqbrief.symbols import validate_symbol
from sources.errors import DownloadError, SourceError
from sources.retry_policy import RetryPolicy

# httpx logs every request URL at INFO; FRED's URLs carry the API key.
logging.getLogger("httpx").setLevel(logging.WARNING)

SERIES: dict[str, str] = {
    "DFF": "Effective fed funds rate, %",
    "DFEDTARU": "Fed funds target, upper, %",
    "DFEDTARL": "Fed funds target, lower, %",
    "DGS2": "2-year Treasury yield, %",
    "DGS10": "10-year Treasury yield, %",
    "DTWEXBGS": "Broad US dollar index",
    "VIXCLS": "VIX",
    "SP500": "S&P 500",
    "UNRATE": "Unemployment rate, %",
    "PAYEMS": "Nonfarm payrolls, thousands",
}
OBSERVATION_COLUMNS = ["date", "value", "realtime_start", "realtime_end", "vintage"]
# FRED's "latest" real-time period ends on this date; ALFRED periods of revised values end earlier.
OPEN_END = date(9999, 12, 31)
PAGE_LIMIT = 100_000  # FRED's maximum page size for series/observations
REALTIME_WINDOW_YEARS = 4  # about 1000 vintage dates of a daily series; FRED allows 2000


class FredFormatError(SourceError):
    """FRED answered with something that is not the documented JSON or CSV layout."""


class FredNoDataError(SourceError):
    """FRED answered with the layout but no rows: nothing is stored, nothing is deleted."""


class _Retryable(Exception):
    pass


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable | httpx.TransportError)


class FredClient:
    def __init__(
        self,
        http: httpx.Client,
        api_url: str = "https://api.stlouisfed.org",
        csv_url: str = "https://fred.stlouisfed.org",
        api_key: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.http, self.api_url, self.csv_url = http, api_url.rstrip("/"), csv_url.rstrip("/")
        self.api_key, self.retry = api_key, retry or RetryPolicy()
        self.page_limit = PAGE_LIMIT
        self.realtime_window_years = REALTIME_WINDOW_YEARS

    def _get(self, url: str, params: dict[str, str], what: str) -> bytes:
        try:
            for attempt in Retrying(**self.retry.tenacity_kwargs(_is_retryable)):
                with attempt:
                    response = self.http.get(url, params=params)
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _Retryable(f"HTTP {response.status_code}")
                    if response.status_code != 200:
                        raise DownloadError(
                            f"{what}: HTTP {response.status_code} from FRED ({response.text[:200]!r})"
                        )
                    return response.content
        except (_Retryable, httpx.TransportError) as exc:
            raise DownloadError(
                f"{what}: FRED kept failing ({exc}) after {self.retry.attempts} attempts; "
                "nothing was stored — re-run later (FRED allows about 120 requests a minute)"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def observations(
        self, series: str, start: date, end: date, fetched_on: date | None = None
    ) -> pd.DataFrame:
        """Observations of one series dated from ``start`` to ``end``.

        With an API key: every vintage (ALFRED real-time period) since ``start``, so a past
        date can be shown with what was known then. Without: the keyless CSV, which has only
        the latest revision, stamped as fetched on ``fetched_on`` (default: today, UTC) with
        ``vintage`` false. Raises FredNoDataError when FRED answers without any row.
        """
        validate_symbol(series)
        if self.api_key:
            frame = self._vintages(series, start, end)
        else:
            raw = self._get(
                f"{self.csv_url}/graph/fredgraph.csv",
                {"id": series, "cosd": start.isoformat(), "coed": end.isoformat()},
                f"FRED {series} (CSV)",
            )
            frame = parse_csv(raw, series, fetched_on or datetime.now(UTC).date())
        if frame.empty:
            raise FredNoDataError(
                f"FRED returned no observations for {series} from {start} to {end}; "
                "stored values kept — check the series and dates, or re-run later"
            )
        return frame

    def _vintages(self, series: str, start: date, end: date) -> pd.DataFrame:
        """All real-time periods from ``start`` on. FRED refuses a real-time range holding
        more than 2000 vintage dates (a daily series has about 250 a year), so the range is
        asked in windows of ``realtime_window_years``; a period cut at a window edge is
        joined again."""
        windows, first = [], start
        while True:
            last = date(first.year + self.realtime_window_years, 1, 1) - timedelta(days=1)
            if last >= datetime.now(UTC).date():
                windows.append((first, OPEN_END))
                break
            windows.append((first, last))
            first = last + timedelta(days=1)
        parts = [self._vintage_pages(series, start, end, *window) for window in windows]
        return _joined_periods(pd.concat(parts, ignore_index=True))

    def _vintage_pages(
        self, series: str, start: date, end: date, rt_start: date, rt_end: date
    ) -> pd.DataFrame:
        """One real-time window, page by page (FRED's limit/offset)."""
        pages: list[pd.DataFrame] = []
        offset, count = 0, 1
        while offset < count:
            raw = self._get(
                f"{self.api_url}/fred/series/observations",
                {
                    "series_id": series, "api_key": self.api_key, "file_type": "json",
                    "observation_start": start.isoformat(), "observation_end": end.isoformat(),
                    "realtime_start": rt_start.isoformat(), "realtime_end": rt_end.isoformat(),
                    "limit": str(self.page_limit), "offset": str(offset),
                },
                f"FRED {series}",
            )  # fmt: skip
            page, count = parse_json_page(raw, series)
            pages.append(page)
            if page.empty:
                break
            offset += len(page)
        return pd.concat(pages, ignore_index=True)


def _joined_periods(frame: pd.DataFrame) -> pd.DataFrame:
    """Join a date's consecutive real-time periods that hold the same value (a period
    split at a request window's edge)."""
    frame = _sorted(frame)
    if frame.empty:
        return frame
    same_date = frame["date"].eq(frame["date"].shift())
    previous_end = frame["realtime_end"].shift()
    touching = [
        bool(p is not None and p == s - timedelta(days=1)) if isinstance(p, date) else False
        for p, s in zip(previous_end, frame["realtime_start"], strict=True)
    ]
    value, before = frame["value"], frame["value"].shift()
    same_value = value.eq(before) | (value.isna() & before.isna())
    continues = same_date & pd.Series(touching, index=frame.index) & same_value
    group = (~continues).cumsum()
    joined = frame.groupby(group, sort=False).agg(
        date=("date", "first"), value=("value", "first"), realtime_start=("realtime_start", "first"),
        realtime_end=("realtime_end", "last"), vintage=("vintage", "first"),
    )  # fmt: skip
    return joined.reset_index(drop=True)


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="%Y-%m-%d").dt.date


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as dates, "." or "" as NaN; one row per (date, realtime_start)."""
    out = pd.DataFrame(
        {
            "date": _dates(frame["date"].astype(str)),
            "value": pd.to_numeric(
                frame["value"].replace({".": np.nan, "": np.nan}), errors="raise"
            ).astype("float64"),
            "realtime_start": _dates(frame["realtime_start"].astype(str)),
            "realtime_end": _dates(frame["realtime_end"].astype(str)),
            "vintage": frame["vintage"].astype(bool),
        }
    )
    return _sorted(out)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return (
        frame.sort_values(["date", "realtime_start"], kind="stable")
        .drop_duplicates(["date", "realtime_start"], keep="last")
        .reset_index(drop=True)
    )


def parse_json_page(raw: bytes, series: str) -> tuple[pd.DataFrame, int]:
    """One page of ``{"count", "observations": [{"realtime_start", "realtime_end", "date",
    "value"}]}`` → (frame of vintages, total row count FRED reports)."""
    try:
        payload = json.loads(raw)
        rows = payload["observations"]
        frame = pd.DataFrame(rows, columns=["date", "value", "realtime_start", "realtime_end"])
        frame["value"] = frame["value"].astype(str)
        frame["vintage"] = True
        return _typed(frame), int(payload.get("count", len(rows)))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FredFormatError(
            f"FRED {series}: the JSON answer is not the observations layout ({type(exc).__name__}: {exc}); "
            "nothing was stored"
        ) from exc


def parse_json(raw: bytes, series: str) -> pd.DataFrame:
    """A whole JSON answer (one page) → frame of vintages."""
    return parse_json_page(raw, series)[0]


def parse_csv(raw: bytes, series: str, fetched_on: date) -> pd.DataFrame:
    """fredgraph.csv in either layout: ``observation_date,<ID>`` (empty = missing) or
    the older ``DATE,<ID>`` ("." = missing). The CSV has no vintages: each row is the latest
    revision as seen on ``fetched_on`` (realtime_start), ``vintage`` false."""
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise FredFormatError(f"FRED {series}: unreadable CSV ({exc}); nothing was stored") from exc
    if list(frame.columns) not in (["observation_date", series], ["DATE", series]):
        raise FredFormatError(
            f"FRED {series}: CSV columns {list(frame.columns)}, expected observation_date/DATE and {series}; "
            "nothing was stored"
        )
    frame.columns = ["date", "value"]
    frame["realtime_start"], frame["realtime_end"] = fetched_on.isoformat(), OPEN_END.isoformat()
    frame["vintage"] = False
    try:
        return _typed(frame)
    except (ValueError, TypeError) as exc:
        raise FredFormatError(
            f"FRED {series}: bad value in the CSV ({exc}); nothing was stored"
        ) from exc


# -- merging a new answer into what is stored ------------------------------------------------
def merge_observations(stored: pd.DataFrame, fetched: pd.DataFrame) -> pd.DataFrame:
    """What is stored plus what FRED answered, keyed by (date, realtime_start): nothing
    stored is dropped unless the answer describes the same observation and real-time period.

    API vintages replace the stored periods of their date from their first realtime_start
    on (an earlier stored period is cut to end the day before) and supersede CSV rows of
    that date. A CSV row whose value differs from the stored open one closes it the day
    before the fetch and opens a new period; an unchanged value changes nothing.
    """
    merged = _blank_nulls(stored)
    vintages, latest = fetched[fetched["vintage"]], fetched[~fetched["vintage"]]
    if len(vintages):
        merged = _merge_vintages(merged, vintages)
    if len(latest):
        merged = _merge_latest(merged, latest)
    return _sorted(merged)[OBSERVATION_COLUMNS]


def _blank_nulls(stored: pd.DataFrame) -> pd.DataFrame:
    """Rows stored before vintages were kept have no real-time period: latest revisions seen
    at an unknown time, so at the latest today (UTC) — a claim that errs on the safe side
    (a past date showing them is flagged ``latest_revision``)."""
    out = stored.copy()
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OBSERVATION_COLUMNS}).astype(
            {"value": "float64", "vintage": bool}
        )
    unknown = out["realtime_start"].isna()
    out.loc[unknown, "realtime_start"] = datetime.now(UTC).date()
    out.loc[unknown, "realtime_end"] = OPEN_END
    out["vintage"] = out["vintage"].astype("boolean").fillna(False).astype(bool) & ~unknown
    return out


def _merge_vintages(stored: pd.DataFrame, vintages: pd.DataFrame) -> pd.DataFrame:
    first = vintages.groupby("date")["realtime_start"].min()
    since = stored["date"].map(first)
    covered = since.notna()
    replaced = covered & ((stored["realtime_start"] >= since) | ~stored["vintage"])
    kept = stored[~replaced].copy()
    cut = covered[~replaced] & (kept["realtime_end"] >= since[~replaced])
    kept.loc[cut, "realtime_end"] = [d - timedelta(days=1) for d in since[~replaced][cut]]
    return pd.concat([kept, vintages], ignore_index=True)


def _merge_latest(stored: pd.DataFrame, latest: pd.DataFrame) -> pd.DataFrame:
    open_rows = stored[stored["realtime_end"] == OPEN_END].drop_duplicates("date", keep="last")
    current = latest["date"].map(open_rows.set_index("date")["value"])
    has_open = latest["date"].isin(open_rows["date"])
    same = has_open & ((current == latest["value"]) | (current.isna() & latest["value"].isna()))
    changed = latest[~same]
    out = stored.copy()
    fetched_on = changed["realtime_start"].min() if len(changed) else None
    closing = (out["realtime_end"] == OPEN_END) & out["date"].isin(changed["date"])
    if fetched_on is not None:
        # a same-day re-fetch replaces the period it opened; older ones end the day before
        out = out[~(closing & (out["realtime_start"] >= fetched_on))].copy()
        closing = (out["realtime_end"] == OPEN_END) & out["date"].isin(changed["date"])
        out.loc[closing, "realtime_end"] = fetched_on - timedelta(days=1)
    return pd.concat([out, changed], ignore_index=True)
