"""The recorder's spool: every received frame and connection change, appended to a segment
file and handed to the operating system before the frame counts as received.

Layout of ``<spool>/``: ``recorder.lock`` (held by the one running recorder), the segment
being written ``<start_us>-<pid>.open`` and closed segments ``<start_us>-<pid>.seg`` (names
sort by time). A segment closes when its UTC hour (``rotate_s``) ends, on shutdown, and —
for a segment left ``.open`` by a killed recorder — when the next recorder starts. Only
closed segments are compacted into the lake, then removed.

One JSON object a line (ASCII): a header first
``{"k":"hdr","t":us,"pid":n,"symbols":{"bybit":["BTCUSDT"],…}}``, then
``{"k":"f","v":venue,"t":us,"x":text}`` per frame, ``{"k":"up"|"alive"|"down","v":venue,
"t":us[,"r":reason]}`` per connection change, and ``{"k":"drop","v":venue,"t":us,
"x":"FOOUSDT,…"}`` when the venue refused symbols (not recorded, so never covered, from
that segment on). A venue connected when a segment opens gets an ``up`` line there, dated
when it was last proven connected (a frame, an ``alive`` = a ping it answered), so each
segment is read alone and a connection is never covered past its last proof of life.

Durability: each line is one ``os.write`` on an O_APPEND descriptor — in the kernel's page
cache when ``on_frame`` returns, so it survives SIGKILL of the recorder. ``fsync`` runs every
``fsync_every_s`` (default 1 s), at rotation and at close: a power loss costs at most that
last second. A line torn by a crash (no newline, not JSON) is skipped when read.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

OPEN_SUFFIX, CLOSED_SUFFIX = ".open", ".seg"
LOCK_NAME = "recorder.lock"
EVENT_KINDS = ("up", "alive", "down")
DROP_KIND = "drop"


class SpoolError(RuntimeError):
    """The spool directory cannot be used; the message says why and what to do."""


class SpoolBusyError(SpoolError):
    """Another recorder holds the spool directory."""


@dataclass(frozen=True)
class SpoolLine:
    """One line of a segment, read back: a frame (kind "f", ``text``) or a connection change
    (kind "up", "alive" or "down", ``text`` = the reason of a "down")."""

    kind: str
    venue: str
    at_us: int
    text: str = ""


@dataclass
class Segment:
    """A segment file read back: the symbols recorded per venue, its lines, and how many
    lines could not be read (a torn last line after a crash)."""

    path: Path
    symbols: dict[str, list[str]]
    lines: list[SpoolLine]
    torn_lines: int


def now_us() -> int:
    return time.time_ns() // 1000


def closed_segments(directory: Path) -> list[Path]:
    """The closed segments waiting to be compacted, oldest first."""
    return sorted(directory.glob(f"*{CLOSED_SUFFIX}"))


def all_segments(directory: Path) -> list[Path]:
    """Closed and open segments, oldest first (what ``--status`` reads)."""
    return sorted([*directory.glob(f"*{CLOSED_SUFFIX}"), *directory.glob(f"*{OPEN_SUFFIX}")])


def _decode(raw: bytes) -> SpoolLine | dict | None:
    if not raw.endswith(b"\n"):
        return None  # torn: the write never finished
    try:
        item = json.loads(raw)
        if item["k"] == "hdr":
            return item
        return SpoolLine(item["k"], item["v"], int(item["t"]), item.get("x") or item.get("r", ""))
    except (ValueError, KeyError, TypeError):
        return None


def header_symbols(header: dict) -> dict[str, list[str]]:
    """The symbols a segment's header says each venue records."""
    return {venue: list(names) for venue, names in header.get("symbols", {}).items()}


def iter_segment(path: Path) -> Iterator[SpoolLine | dict | None]:
    """A segment's lines in order: the header as a dict, the rest as ``SpoolLine``, and None
    for a line that cannot be read."""
    with path.open("rb") as handle:
        for raw in handle:
            yield _decode(raw)


def read_segment(path: Path) -> Segment:
    """A whole segment in memory (a realistic hour is a few MB; the bench's 2,000 a second
    is ~60 MB)."""
    symbols: dict[str, list[str]] = {}
    lines: list[SpoolLine] = []
    torn = 0
    for item in iter_segment(path):
        if item is None:
            torn += 1
        elif isinstance(item, dict):
            symbols = header_symbols(item)
        else:
            lines.append(item)
    return Segment(path, symbols, lines, torn)


def _pid_in(handle) -> str:
    """The pid a recorder wrote into the lock file ("" if none)."""
    handle.seek(0)
    return handle.read().strip()


def lock_holder(directory: Path) -> int | None:
    """The pid of the recorder holding the spool, or None when no recorder runs. Opens the
    lock file for reading only (a shared lock probe): ``--status`` changes nothing and
    works for an operator who may read the spool but not write it."""
    try:
        handle = (directory / LOCK_NAME).open("r")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = _pid_in(handle)
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class SpoolWriter:
    """The running recorder's side of the spool (one per process, on the event loop's thread)."""

    def __init__(
        self,
        directory: Path,
        symbols: dict[str, list[str]],
        rotate_s: float = 3600.0,
        fsync_every_s: float = 1.0,
    ):
        self.directory, self.symbols = directory, symbols
        self.rotate_us = int(rotate_s * 1_000_000)
        self.fsync_every_s = fsync_every_s
        self.connected: set[str] = set()
        self.proven: dict[str, int] = {}  # venue → last time known connected (µs)
        self.fsyncs = 0
        self._fd: int | None = None
        self._path: Path | None = None
        self._period = 0
        self._last_fsync = time.monotonic()
        self._lock = None

    # -- lifecycle -------------------------------------------------------------------------

    def open(self, at_us: int | None = None) -> list[Path]:
        """Take the spool (SpoolBusyError if another recorder holds it), close the segments a
        killed recorder left open, and start a segment; returns the segments recovered."""
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            lock = (self.directory / LOCK_NAME).open("a+")
        except OSError as exc:
            raise SpoolError(
                f"cannot take the spool's lock file {self.directory / LOCK_NAME}: {exc.strerror}; "
                "remove what is there, or set LIQBRIEF_SPOOL_DIR to another directory"
            ) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _pid_in(lock) or "unknown"
            lock.close()
            raise SpoolBusyError(
                f"another recorder (pid {holder}) is writing to {self.directory}; stop it "
                "first, or set LIQBRIEF_SPOOL_DIR to another directory"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock
        recovered = []
        for stale in sorted(self.directory.glob(f"*{OPEN_SUFFIX}")):
            closed = stale.with_suffix(CLOSED_SUFFIX)
            stale.rename(closed)
            recovered.append(closed)
        self._start_segment(now_us() if at_us is None else at_us)
        return recovered

    def close(self) -> Path | None:
        """Sync and close the segment; returns it. The
        spool stays taken until ``release`` (the final compaction runs in between)."""
        return self._close_segment(now_us()) if self._fd is not None else None

    def release(self) -> None:
        """Let another recorder take the spool."""
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _start_segment(self, at_us: int, sync_dir: bool = True) -> None:
        self._period = at_us // self.rotate_us
        self._path = self.directory / f"{at_us:017d}-{os.getpid()}{OPEN_SUFFIX}"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        header = {"k": "hdr", "t": at_us, "pid": os.getpid(), "symbols": self.symbols}
        self._write(header)
        for venue in sorted(self.connected):  # connected since it was last proven so
            self._write({"k": "up", "v": venue, "t": self.proven.get(venue, at_us)})
        if sync_dir:
            self._sync_dir()

    def _close_segment(self, at_us: int) -> Path:
        return self.finish_closing(*self._hand_over(at_us))

    def _hand_over(self, at_us: int) -> tuple[int, Path]:
        """Stop writing to the segment; its descriptor and path, for ``finish_closing``. A
        connected venue's time in it ends when it was last proven connected (a frame, an
        ``alive``), never at ``at_us`` on trust: the next segment takes over from there."""
        assert self._fd is not None and self._path is not None
        handed = (self._fd, self._path)
        self._fd = self._path = None
        return handed

    def finish_closing(self, fd: int, path: Path) -> Path:
        """Sync, close and rename a segment no longer written to (safe in a worker thread:
        it touches only that descriptor, that file and the directory); returns the ``.seg``."""
        os.fsync(fd)
        os.close(fd)
        closed = path.with_suffix(CLOSED_SUFFIX)
        path.rename(closed)
        self._sync_dir()  # also makes the next segment's creation durable
        return closed

    def _sync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- writing ---------------------------------------------------------------------------

    def _write(self, item: dict) -> None:
        assert self._fd is not None, "open the spool first"
        os.write(self._fd, (json.dumps(item, separators=(",", ":")) + "\n").encode("ascii"))

    def append_frame(self, venue: str, at_us: int, text: str) -> None:
        """A received frame, in the OS's hands when this returns."""
        self._write({"k": "f", "v": venue, "t": at_us, "x": text})
        if venue in self.connected:
            self.proven[venue] = max(self.proven[venue], at_us)

    def append_event(self, kind: str, venue: str, at_us: int, reason: str = "") -> None:
        """A connection change ("up", "alive", "down" with its reason)."""
        assert kind in EVENT_KINDS, kind
        item = {"k": kind, "v": venue, "t": at_us} | ({"r": reason} if reason else {})
        self._write(item)
        if kind == "up":
            self.connected.add(venue)
            self.proven[venue] = at_us
        elif kind == "down":
            self.connected.discard(venue)
            self.proven.pop(venue, None)
        elif venue in self.connected:
            self.proven[venue] = max(self.proven[venue], at_us)

    def tick(self, at_us: int) -> Path | None:
        """Housekeeping, once a second or so: fsync when due, and rotate when the segment's
        period (UTC hour) has ended; returns the segment just closed, if any. (The recorder
        runs the same steps with the disk work in a thread: ``fsync_due``, ``rotate``.)"""
        fd = self.fsync_due()
        if fd is not None:
            os.fsync(fd)
        closing = self.rotate(at_us)
        return self.finish_closing(*closing) if closing else None

    def fsync_due(self) -> int | None:
        """The descriptor to fsync now (every ``fsync_every_s``), or None."""
        if time.monotonic() - self._last_fsync < self.fsync_every_s or self._fd is None:
            return None
        self.fsyncs += 1
        self._last_fsync = time.monotonic()
        return self._fd

    def rotate(self, at_us: int) -> tuple[int, Path] | None:
        """When the segment's period has ended: start the next segment and hand over the old
        one for ``finish_closing``; None otherwise. Frames go to the new segment at once."""
        if self._fd is None or at_us // self.rotate_us == self._period:
            return None
        closing = self._hand_over(at_us)
        self._start_segment(at_us, sync_dir=False)
        return closing

    def append_refused(self, venue: str, at_us: int, symbols: list[str]) -> None:
        """Symbols the venue refused: gone from this segment's coverage and later headers."""
        self._write({"k": DROP_KIND, "v": venue, "t": at_us, "x": ",".join(symbols)})
        kept = [s for s in self.symbols.get(venue, []) if s not in symbols]
        self.symbols = {**self.symbols, venue: kept}

    def note_alive(self, venue: str, at_us: int) -> None:
        """An ``alive`` line: the venue's connection answered a ping sent at ``at_us`` (how
        coverage knows a quiet stream was up)."""
        if venue in self.connected:
            self.append_event("alive", venue, at_us)
