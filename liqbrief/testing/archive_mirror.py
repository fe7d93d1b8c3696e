"""A loopback HTTP server that serves files in the archive's exact URL layout.

Files are held in memory by URL path (``/data/futures/um/daily/...zip``) or
loaded from a directory laid out like the archive. Faults can be queued per
path — a 500, a connection reset mid-body, a 404 — to exercise the real
download code. Every request is logged so tests can assert what was fetched, and the most
requests answered at once is counted (with ``delay_s`` holding each answer open).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FAULTS = ("500", "503", "429", "reset", "404")


class _Handler(BaseHTTPRequestHandler):
    server: _MirrorHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        mirror = self.server.mirror
        mirror.request_started()
        try:
            self._answer(mirror)
        finally:
            mirror.request_finished()

    def _answer(self, mirror: ArchiveMirror) -> None:
        path = self.path.split("?", 1)[0]
        fault = mirror.take_fault(path)
        mirror.log_request(path, fault)
        if mirror.delay_s:
            time.sleep(mirror.delay_s)  # holds the request open, so overlaps can be counted
        body = mirror.files.get(path)
        if fault == "404" or (fault is None and body is None):
            self._send(404, b"<Error><Code>NoSuchKey</Code></Error>")
        elif fault in ("500", "503", "429"):
            self._send(int(fault), b"<Error><Code>InternalError</Code></Error>")
        elif fault == "reset":
            self.send_response(200)
            self.send_header("Content-Length", str(len(body or b"x" * 100)))
            self.end_headers()
            self.wfile.write((body or b"x" * 100)[: max(1, len(body or b"") // 2)])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self._send(200, body or b"")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _MirrorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    mirror: ArchiveMirror


class ArchiveMirror:
    """Serve archive files on 127.0.0.1; use as a context manager."""

    def __init__(self, files: dict[str, bytes] | None = None, delay_s: float = 0.0) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.requests: list[tuple[str, str | None]] = []
        self.delay_s = delay_s  # each answer waits this long
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests being answered at once
        self._faults: dict[str, deque[str]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server: _MirrorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- content -----------------------------------------------------------
    def add(self, files: dict[str, bytes]) -> None:
        self.files.update(files)

    def load_dir(self, root: Path) -> None:
        """Serve every file under ``root`` at its relative path (root holds ``data/...``)."""
        for path in root.rglob("*"):
            if path.is_file():
                self.files["/" + path.relative_to(root).as_posix()] = path.read_bytes()

    def inject(self, path: str, *faults: str) -> None:
        """Queue faults for the next requests of ``path`` (each used once, in order)."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; choose from {FAULTS}")
        with self._lock:
            self._faults[path].extend(faults)

    def take_fault(self, path: str) -> str | None:
        with self._lock:
            queue = self._faults.get(path)
            return queue.popleft() if queue else None

    def log_request(self, path: str, fault: str | None) -> None:
        with self._lock:
            self.requests.append((path, fault))

    def request_started(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def request_finished(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def zip_requests(self) -> list[str]:
        return [p for p, _ in self.requests if p.endswith(".zip")]

    # -- lifecycle ---------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "mirror not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ArchiveMirror:
        self._server = _MirrorHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.mirror = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ArchiveMirror:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
