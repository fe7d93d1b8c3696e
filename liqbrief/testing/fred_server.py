"""A loopback server replaying FRED: ``/fred/series/observations`` (JSON) and
``/graph/fredgraph.csv`` (CSV, either layout), with queued faults ("429", "500", "garbage")."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pandas as pd


class FredServer:
    def __init__(self, series: dict[str, pd.DataFrame], legacy_csv: bool = False) -> None:
        """``series``: id → frame with date (YYYY-MM-DD) and value (NaN = missing)."""
        self.series, self.legacy_csv = series, legacy_csv
        self.faults: deque[str] = deque()
        self.requests: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    def _rows(self, series: str, start: str, end: str) -> pd.DataFrame:
        frame = self.series[series]
        return frame[(frame["date"] >= start) & (frame["date"] <= end)]

    def respond(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        self.requests.append({"path": path, **params})
        if self.faults:
            fault = self.faults.popleft()
            if fault in ("429", "500"):
                return int(fault), b'{"error_code": 429, "error_message": "Too Many Requests"}'
            return 200, b"<html>not what you asked for"
        if path == "/fred/series/observations":
            series = params.get("series_id", "")
            if series not in self.series:
                return (
                    400,
                    b'{"error_code": 400, "error_message": "Bad Request. The series does not exist."}',
                )
            rows = self._rows(series, params["observation_start"], params["observation_end"])
            observations = [
                {"realtime_start": "2026-11-24", "realtime_end": "2026-11-24", "date": d,
                 "value": "." if pd.isna(v) else repr(float(v))}
                for d, v in zip(rows["date"], rows["value"], strict=True)
            ]  # fmt: skip
            return 200, json.dumps({"observations": observations}).encode()
        if path == "/graph/fredgraph.csv":
            series = params.get("id", "")
            if series not in self.series:
                return 404, b"not found"
            rows = self._rows(series, params["cosd"], params["coed"])
            header, missing = ("DATE", ".") if self.legacy_csv else ("observation_date", "")
            lines = [f"{header},{series}"] + [
                f"{d},{missing if pd.isna(v) else v}"
                for d, v in zip(rows["date"], rows["value"], strict=True)
            ]
            return 200, ("\n".join(lines) + "\n").encode()
        return 404, b"not found"

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FredServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, body = outer.respond(parts.path, params)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
