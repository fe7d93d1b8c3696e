"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepts, for tests."""

from __future__ import annotations

import email
import socket
from email import policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """Stores every accepted message; answers 451 to the first ``fail_first`` DATA commands."""

    def __init__(self, fail_first: int = 0) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.fail_first = fail_first

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.fail_first:
            self.fail_first -= 1
            return "451 4.3.0 temporary failure, try again"
        self.envelopes.append(list(envelope.rcpt_tos))
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def start_smtp(inbox: Inbox) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller
