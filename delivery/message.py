"""The briefing as an e-mail: subject with the date and headline, plain-text and HTML bodies
(the executive summary), the PDF attached as application/pdf. Pure: builds, never sends."""

from __future__ import annotations

import re
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[A-Za-z]{2,}")


class InvalidRecipientError(ValueError):
    """An address that is not a plain mailbox; nothing was sent."""


def parse_recipients(raw: str | list[str]) -> list[str]:
    """A comma list (or list) of addresses, checked before anything is sent."""
    items = raw.split(",") if isinstance(raw, str) else raw
    addresses = [a.strip() for a in items if a.strip()]
    bad = [a for a in addresses if not _ADDRESS.fullmatch(a)]
    if bad:
        raise InvalidRecipientError(
            f"invalid recipient address(es): {', '.join(bad)}; nothing was sent"
        )
    if not addresses:
        raise InvalidRecipientError(
            "no recipients: set LIQBRIEF_DESK_TO to a comma list of addresses"
        )
    return list(dict.fromkeys(addresses))


def build_message(
    day: date,
    headline: str,
    text_body: str,
    html_body: str,
    pdf: bytes,
    sender: str,
    recipients: list[str],
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"liqbrief {day.isoformat()}: {headline}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    # RFC 5322 requires a Date; relays and spam filters may refuse or penalise mail without
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(
        idstring=f"liqbrief-{day.isoformat()}", domain="liqbrief.local"
    )
    message.set_content(text_body)
    message.add_alternative(html_body, subtype="html")
    message.add_attachment(
        pdf, maintype="application", subtype="pdf", filename=f"liqbrief-{day.isoformat()}.pdf"
    )
    return message
