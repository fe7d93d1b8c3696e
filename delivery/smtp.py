"""Sending over SMTP with retries on transient failures, over verified TLS.

STARTTLS and SMTPS check the server's certificate and host name (the system's CA store, or
LIQBRIEF_SMTP_CA_FILE for a private CA). LIQBRIEF_SMTP_TLS_VERIFY=false turns the check off
for a private relay; every run then logs a warning. Settings: delivery/smtp_settings.py; the
ledger of who got which day: delivery/sent_ledger.py.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from tenacity import Retrying

from delivery.sent_ledger import SentLedger, SentLedgerError
from delivery.smtp_settings import SmtpConfigError, SmtpSettings
from sources.retry_policy import RetryPolicy

__all__ = [
    "DeliveryError",
    "SentLedger",
    "SentLedgerError",
    "SmtpConfigError",
    "SmtpSettings",
    "send",
    "tls_context",
]

logger = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """The briefing could not be sent; the ledger records only what the server accepted."""


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """A verifying context (certificate and host name), unless explicitly opted out."""
    if not settings.tls_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)


def warn_about_weak_transport(settings: SmtpSettings) -> None:
    """Every run that sends without a verified TLS channel says so (never silently)."""
    if settings.security == "none" and settings.has_password:
        logger.warning(
            "LIQBRIEF_SMTP_SECURITY=none: the SMTP password to %s crosses the network in clear",
            settings.host,
        )
    elif settings.security != "none" and not settings.tls_verify:
        logger.warning(
            "LIQBRIEF_SMTP_TLS_VERIFY=false: the certificate of %s:%s is not checked, so anyone "
            "on the path can read the SMTP password; set LIQBRIEF_SMTP_CA_FILE instead",
            settings.host,
            settings.port,
        )


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, ssl.SSLError):
        return False  # a certificate or TLS failure does not heal by retrying
    return isinstance(
        exc,
        smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError | ConnectionError | TimeoutError,
    )


def _send_once(message: EmailMessage, settings: SmtpSettings, recipients: list[str]) -> dict:
    context = None if settings.security == "none" else tls_context(settings)
    if settings.security == "ssl":
        connection = smtplib.SMTP_SSL(settings.host, settings.port, timeout=30, context=context)
    else:
        connection = smtplib.SMTP(settings.host, settings.port, timeout=30)
    with connection as smtp:
        if settings.security == "starttls":
            smtp.starttls(context=context)
        if settings.user:
            smtp.login(settings.user, settings.password_value())
        return smtp.send_message(message, from_addr=settings.sender, to_addrs=recipients)


def _what_to_do(exc: Exception) -> str:
    """A refused login or a server without AUTH will not pass by waiting."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "check LIQBRIEF_SMTP_USER and the password, then re-run `liqbrief send`"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "the server offers no login: unset LIQBRIEF_SMTP_USER or use the relay's submission port"
    return "re-run `liqbrief send` later"


def send(
    message: EmailMessage,
    settings: SmtpSettings,
    recipients: list[str],
    retry: RetryPolicy | None = None,
) -> list[str]:
    """Send to ``recipients``; return those the server accepted. Transient errors are retried."""
    policy = retry or RetryPolicy(attempts=4, initial_wait_s=1.0, max_wait_s=15.0)
    warn_about_weak_transport(settings)
    where, tried = f"{settings.host}:{settings.port}", 0
    try:
        for attempt in Retrying(**policy.tenacity_kwargs(_transient)):
            with attempt:
                tried = attempt.retry_state.attempt_number
                refused = _send_once(message, settings, recipients)
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(
            f"certificate verify failed for {where} ({exc.verify_message}); nothing was marked "
            "as sent — set LIQBRIEF_SMTP_CA_FILE to your relay's CA bundle, or "
            "LIQBRIEF_SMTP_TLS_VERIFY=false for a private relay you trust"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        detail = f"{type(exc).__name__}: {getattr(exc, 'smtp_code', '')} {getattr(exc, 'smtp_error', exc)!s}"
        if settings.password is not None:
            detail = detail.replace(settings.password.get_secret_value(), "***")
        raise DeliveryError(
            f"could not send the briefing via {where} after {tried} attempt{'' if tried == 1 else 's'} "
            f"({detail.strip()}); nothing was marked as sent — {_what_to_do(exc)}"
        ) from None
    return [r for r in recipients if r not in refused]
