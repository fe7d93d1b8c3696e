"""``<reports dir>/<date>/sent.json``: which recipient got the briefing of which day, when.

Senders of the same day hold ``.sent.json.lock`` (an OS file lock, released if the process
dies) from reading the ledger until they have recorded what they sent, so two concurrent
``liqbrief send`` runs cannot both send to the same recipient.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from store.files import atomic_write_bytes

LOCK_WAIT_S = 600.0  # a sender with retries finishes well within this


class SentLedgerError(RuntimeError):
    """The ledger is unreadable or held by another sender for too long; nothing was sent."""


class SentLedger:
    def __init__(self, reports_dir: str | Path, day: date, lock_wait_s: float = LOCK_WAIT_S):
        self.path = Path(reports_dir) / day.isoformat() / "sent.json"
        self.lock_wait_s = lock_wait_s

    @contextmanager
    def locked(self) -> Iterator[SentLedger]:
        """Hold the day's lock: check, send and record inside it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.path.with_name(".sent.json.lock"), timeout=self.lock_wait_s)
        try:
            with lock:
                yield self
        except Timeout:
            raise SentLedgerError(
                f"another sender of {self.path.parent.name} still holds {lock.lock_file} after "
                f"{self.lock_wait_s:.0f} s; nothing was sent — try again when it has finished"
            ) from None

    def sent(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        try:
            entries = json.loads(self.path.read_text())
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
        atomic_write_bytes(self.path, json.dumps(entries, indent=1, sort_keys=True).encode())
