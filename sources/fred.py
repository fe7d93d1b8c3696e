"""FRED observations: the REST API (JSON, needs FRED_API_KEY) or the keyless CSV download.

Both base URLs are configurable (LIQBRIEF_FRED_URL, LIQBRIEF_FRED_CSV_URL) so tests replay
recorded responses from a loopback server. Missing values ("." in JSON and the old CSV
layout, empty in the new one) become NaN. Rate limits (429) are retried with backoff.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import date

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
OBSERVATION_COLUMNS = ["date", "value", "realtime_start", "realtime_end"]


class FredFormatError(SourceError):
    """FRED answered with something that is not the documented JSON or CSV layout."""


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

    def observations(self, series: str, start: date, end: date) -> pd.DataFrame:
        """Observations of one series between two dates, through the API if a key is set."""
        validate_symbol(series)
        if self.api_key:
            raw = self._get(
                f"{self.api_url}/fred/series/observations",
                {
                    "series_id": series,
                    "api_key": self.api_key,
                    "file_type": "json",
                    "observation_start": start.isoformat(),
                    "observation_end": end.isoformat(),
                },
                f"FRED {series}",
            )
            return parse_json(raw, series)
        raw = self._get(
            f"{self.csv_url}/graph/fredgraph.csv",
            {"id": series, "cosd": start.isoformat(), "coed": end.isoformat()},
            f"FRED {series} (CSV)",
        )
        return parse_csv(raw, series)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "date": pd.to_datetime(frame["date"]).dt.date,
            "value": pd.to_numeric(
                frame["value"].replace({".": np.nan, "": np.nan}), errors="raise"
            ),
            "realtime_start": pd.to_datetime(frame["realtime_start"]).dt.date
            if "realtime_start" in frame
            else None,
            "realtime_end": pd.to_datetime(frame["realtime_end"]).dt.date
            if "realtime_end" in frame
            else None,
        }
    )
    return (
        out.astype({"value": "float64"})
        .sort_values("date")
        .drop_duplicates("date", keep="last")
        .reset_index(drop=True)
    )


def parse_json(raw: bytes, series: str) -> pd.DataFrame:
    """``{"observations": [{"realtime_start", "realtime_end", "date", "value"}]}`` → frame."""
    try:
        payload = json.loads(raw)
        rows = payload["observations"]
        frame = pd.DataFrame(rows, columns=["date", "value", "realtime_start", "realtime_end"])
        frame["value"] = frame["value"].astype(str)
        return _typed(frame)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FredFormatError(
            f"FRED {series}: the JSON answer is not the observations layout ({type(exc).__name__}: {exc}); "
            "nothing was stored"
        ) from exc


def parse_csv(raw: bytes, series: str) -> pd.DataFrame:
    """fredgraph.csv in either layout: ``observation_date,<ID>`` (empty = missing) or
    the older ``DATE,<ID>`` ("." = missing)."""
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
    try:
        return _typed(frame)
    except (ValueError, TypeError) as exc:
        raise FredFormatError(
            f"FRED {series}: bad value in the CSV ({exc}); nothing was stored"
        ) from exc
