"""``<reports dir>/<date>/sent.json``: which recipient got the briefing of which day, when.

Senders of the same day hold ``.sent.json.lock`` (an OS file lock, released if the process
dies) from reading the ledger until they have recorded what they sent, so two concurrent
``liqbrief send`` runs cannot both send to the same recipient. With the reports directory on
an object store the ledger is an object and the lock stays a local file (named by the
object's URI in the machine's temporary directory): it serialises the senders of one
machine; pyarrow offers no conditional PUT (If-None-Match) to lock across machines, so run
the sends of a day from one machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from store.artefacts import ArtefactStore

LOCK_WAIT_S = 600.0  # a sender with retries finishes well within this


class SentLedgerError(RuntimeError):
    """The ledger is unreadable or held by another sender for too long; nothing was sent."""


class SentLedger:
    def __init__(self, reports_dir: str | Path, day: date, lock_wait_s: float = LOCK_WAIT_S):
        self.store = ArtefactStore(reports_dir)
        self.parts = (day.isoformat(), "sent.json")
        self.path = self.store.location(*self.parts)
        self.day = day
        self.lock_wait_s = lock_wait_s

    @contextmanager
    def locked(self) -> Iterator[SentLedger]:
        """Hold the day's lock: check, send and record inside it."""
        lock = FileLock(self.store.lock_path(*self.parts), timeout=self.lock_wait_s)
        try:
            with lock:
                yield self
        except Timeout:
            raise SentLedgerError(
                f"another sender of {self.day} still holds {lock.lock_file} after "
                f"{self.lock_wait_s:.0f} s; nothing was sent — try again when it has finished"
            ) from None

    def sent(self) -> dict[str, str]:
        try:
            raw = self.store.read_bytes(*self.parts)
        except FileNotFoundError:
            return {}
        try:
            entries = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SentLedgerError(
                f"{self.path} is not a readable sent-ledger ({exc}); nothing was sent — fix or "
                "remove it (removing it means everyone gets the briefing again)"
            ) from None
        if not isinstance(entries, dict):
            raise SentLedgerError(f"{self.path} is not a JSON object; nothing was sent")
        return entries

    def record(self, recipients: list[str], message_id: str) -> None:
        entries = self.sent()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        entries |= {r: f"{now} {message_id}" for r in recipients}
        self.store.write_bytes(json.dumps(entries, indent=1, sort_keys=True).encode(), *self.parts)
