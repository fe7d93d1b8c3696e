"""Sending over SMTP with retries on transient failures, and a ledger of who got which day.

Settings come from the environment (LIQBRIEF_SMTP_HOST, _PORT, _USER, _PASSWORD, _FROM,
_SECURITY = starttls | ssl | none, LIQBRIEF_DESK_TO); the password may instead live in a Prefect
Secret block named by LIQBRIEF_SMTP_PASSWORD_BLOCK. It is never logged or shown.
"""

from __future__ import annotations

import json
import os
import smtplib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

from tenacity import Retrying

from delivery.message import parse_recipients
from sources.retry_policy import RetryPolicy
from store.files import atomic_write_bytes


class DeliveryError(RuntimeError):
    """The briefing could not be sent; the ledger records only what the server accepted."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipients: list[str]
    security: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # a secret: not in repr or logs

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        """None when no SMTP host is configured (the daily job then skips e-mail)."""
        host = os.environ.get("LIQBRIEF_SMTP_HOST")
        if not host:
            return None
        security = os.environ.get("LIQBRIEF_SMTP_SECURITY", "starttls")
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"LIQBRIEF_SMTP_SECURITY={security!r}: use starttls, ssl or none")
        return cls(
            host=host,
            port=int(os.environ.get("LIQBRIEF_SMTP_PORT", "465" if security == "ssl" else "587")),
            sender=os.environ.get("LIQBRIEF_SMTP_FROM", "liqbrief@localhost"),
            recipients=parse_recipients(os.environ.get("LIQBRIEF_DESK_TO", "")),
            security=security,
            user=os.environ.get("LIQBRIEF_SMTP_USER") or None,
            password=os.environ.get("LIQBRIEF_SMTP_PASSWORD") or _secret_block_password(),
        )


def _secret_block_password() -> str | None:
    """The password from the Prefect Secret block named in LIQBRIEF_SMTP_PASSWORD_BLOCK, if any."""
    name = os.environ.get("LIQBRIEF_SMTP_PASSWORD_BLOCK")
    if not name:
        return None
    from prefect.blocks.system import Secret

    return Secret.load(name).get()


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(
        exc,
        smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError | ConnectionError | TimeoutError,
    )


def _send_once(message: EmailMessage, settings: SmtpSettings, recipients: list[str]) -> dict:
    smtp_class = smtplib.SMTP_SSL if settings.security == "ssl" else smtplib.SMTP
    with smtp_class(settings.host, settings.port, timeout=30) as smtp:
        if settings.security == "starttls":
            smtp.starttls()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        return smtp.send_message(message, from_addr=settings.sender, to_addrs=recipients)


def send(
    message: EmailMessage,
    settings: SmtpSettings,
    recipients: list[str],
    retry: RetryPolicy | None = None,
) -> list[str]:
    """Send to ``recipients``; return those the server accepted. Transient errors are retried."""
    policy = retry or RetryPolicy(attempts=4, initial_wait_s=1.0, max_wait_s=15.0)
    try:
        for attempt in Retrying(**policy.tenacity_kwargs(_transient)):
            with attempt:
                refused = _send_once(message, settings, recipients)
    except (smtplib.SMTPException, OSError) as exc:
        detail = f"{type(exc).__name__}: {getattr(exc, 'smtp_code', '')} {getattr(exc, 'smtp_error', exc)!s}"
        if settings.password:
            detail = detail.replace(settings.password, "***")
        raise DeliveryError(
            f"could not send the briefing via {settings.host}:{settings.port} after {policy.attempts} attempts "
            f"({detail.strip()}); nothing was marked as sent — re-run `liqbrief send` later"
        ) from None
    return [r for r in recipients if r not in refused]


class SentLedger:
    """``<reports dir>/<date>/sent.json``: which recipient got the briefing of which day, when."""

    def __init__(self, reports_dir: str | Path, day: date) -> None:
        self.path = Path(reports_dir) / day.isoformat() / "sent.json"

    def sent(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def record(self, recipients: list[str], message_id: str) -> None:
        entries = self.sent()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        entries |= {r: f"{now} {message_id}" for r in recipients}
        atomic_write_bytes(self.path, json.dumps(entries, indent=1, sort_keys=True).encode())
