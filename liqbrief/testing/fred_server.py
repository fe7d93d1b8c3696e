"""A loopback server replaying FRED: ``/fred/series/observations`` (JSON, with ALFRED's
real-time periods, ``limit``/``offset`` paging and ``count``) and ``/graph/fredgraph.csv``
(CSV, either layout, the latest revision only), with queued faults ("429", "500", "garbage")."""

from __future__ import annotations

import json
from collections import deque
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from liqbrief.testing.loopback import LoopbackServer, QuietHandler

OPEN_END = "9999-12-31"


class FredServer(LoopbackServer):
    def __init__(
        self, series: dict[str, pd.DataFrame], legacy_csv: bool = False, today: date | None = None
    ) -> None:
        """``series``: id → frame with date (YYYY-MM-DD) and value (NaN = missing), and
        optionally realtime_start/realtime_end (YYYY-MM-DD): one row per real-time period of
        an observation, as ALFRED keeps them. Without them a value is valid from its own
        date on. ``today``: the server's date, FRED's default real-time period."""
        self.series, self.legacy_csv = series, legacy_csv
        self.today = (today or datetime.now(UTC).date()).isoformat()
        self.faults: deque[str] = deque()
        self.max_vintage_dates = 2000  # FRED's limit per real-time range
        self.requests: list[dict[str, str]] = []

    def _periods(self, series: str, start: str, end: str) -> pd.DataFrame:
        frame = self.series[series]
        rows = frame[(frame["date"] >= start) & (frame["date"] <= end)].copy()
        if "realtime_start" not in rows:
            rows["realtime_start"], rows["realtime_end"] = rows["date"], OPEN_END
        return rows.sort_values(["date", "realtime_start"], kind="stable")

    def _observations(self, params: dict[str, str]) -> tuple[int, bytes]:
        series = params.get("series_id", "")
        if series not in self.series:
            return (
                400,
                b'{"error_code": 400, "error_message": "Bad Request. The series does not exist."}',
            )
        rt_start = params.get("realtime_start", self.today)
        rt_end = params.get("realtime_end", self.today)
        everything = self._periods(series, "0000", "9999")
        starts = everything["realtime_start"]
        vintage_dates = starts[(starts >= rt_start) & (starts <= rt_end)].nunique()
        if vintage_dates > self.max_vintage_dates:
            message = (
                f"Bad Request.  There are {vintage_dates} vintage dates in the specified real-time "
                f"period: {rt_start} to {rt_end}.  This exceeds the maximum number of vintage "
                f"dates allowed ({self.max_vintage_dates})."
            )
            return 400, json.dumps({"error_code": 400, "error_message": message}).encode()
        rows = self._periods(series, params["observation_start"], params["observation_end"])
        # FRED: the periods that overlap the requested real-time range, clipped to it
        rows = rows[(rows["realtime_start"] <= rt_end) & (rows["realtime_end"] >= rt_start)]
        observations = [
            {"realtime_start": max(s, rt_start), "realtime_end": min(e, rt_end), "date": d,
             "value": "." if pd.isna(v) else repr(float(v))}
            for d, v, s, e in zip(rows["date"], rows["value"], rows["realtime_start"],
                                  rows["realtime_end"], strict=True)
        ]  # fmt: skip
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100_000))
        payload = {
            "realtime_start": rt_start, "realtime_end": rt_end, "count": len(observations),
            "offset": offset, "limit": limit, "observations": observations[offset : offset + limit],
        }  # fmt: skip
        return 200, json.dumps(payload).encode()

    def _csv(self, params: dict[str, str]) -> tuple[int, bytes]:
        series = params.get("id", "")
        if series not in self.series:
            return 404, b"not found"
        rows = self._periods(series, params["cosd"], params["coed"])
        rows = rows[(rows["realtime_start"] <= self.today) & (rows["realtime_end"] >= self.today)]
        header, missing = ("DATE", ".") if self.legacy_csv else ("observation_date", "")
        lines = [f"{header},{series}"] + [
            f"{d},{missing if pd.isna(v) else v}"
            for d, v in zip(rows["date"], rows["value"], strict=True)
        ]
        return 200, ("\n".join(lines) + "\n").encode()

    def respond(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        self.requests.append({"path": path, **params})
        if self.faults:
            fault = self.faults.popleft()
            if fault in ("429", "500"):
                return int(fault), b'{"error_code": 429, "error_message": "Too Many Requests"}'
            return 200, b"<html>not what you asked for"
        if path == "/fred/series/observations":
            return self._observations(params)
        if path == "/graph/fredgraph.csv":
            return self._csv(params)
        return 404, b"not found"

    def handler(self) -> type[QuietHandler]:
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                self.reply(*outer.respond(parts.path, params))

        return Handler
