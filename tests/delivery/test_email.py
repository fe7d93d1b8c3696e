"""E-mail through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from delivery.message import InvalidRecipientError, parse_recipients
from delivery.smtp import DeliveryError, SentLedger, SmtpSettings
from flows.briefing import briefing_paths
from flows.delivery import deliver_briefing
from liqbrief.testing.demo_lake import build_demo_lake
from liqbrief.testing.smtp_inbox import Inbox, free_port, start_smtp
from sources.retry_policy import RetryPolicy

pytestmark = pytest.mark.server
DAY = date(2024, 3, 6)
FAST = RetryPolicy(attempts=3, initial_wait_s=0.01, max_wait_s=0.02)
SECRET = "s3cret-pa55word"


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mail") / "lake"
    build_demo_lake(root, DAY, ["BTCUSDT"], history_days=35)
    return root


@pytest.fixture
def env(lake_dir: Path, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(lake_dir))
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(tmp_path / "out"))
    return tmp_path / "out"


def server(inbox: Inbox) -> Controller:
    return start_smtp(inbox)


def smtp_settings(
    port: int, recipients: str = "desk@example.com, risk@example.com"
) -> SmtpSettings:
    return SmtpSettings(
        "127.0.0.1",
        port,
        "liqbrief@example.com",
        parse_recipients(recipients),
        "none",
        None,
        SECRET,
    )


def test_the_pdf_arrives_attached_with_the_summary(env: Path) -> None:
    inbox = Inbox()
    controller = server(inbox)
    try:
        result = deliver_briefing(DAY, ["BTCUSDT"], smtp_settings(controller.port), retry=FAST)
    finally:
        controller.stop()
    assert result["sent"] == ["desk@example.com", "risk@example.com"]
    [message] = inbox.messages
    assert message["Subject"].startswith("liqbrief 2024-03-06: If BTC drops below")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "liqbrief-2024-03-06.pdf"
    assert attachment.get_content() == briefing_paths(env, DAY)[1].read_bytes()
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "If BTC drops below" in text and "Macro:" in text and "<h2" in html
    assert set(SentLedger(env, DAY).sent()) == {"desk@example.com", "risk@example.com"}


def test_a_retried_send_delivers_once_and_a_rerun_sends_nothing(env: Path) -> None:
    inbox = Inbox(fail_first=1)
    controller = server(inbox)
    try:
        deliver_briefing(DAY, ["BTCUSDT"], smtp_settings(controller.port), retry=FAST)
        again = deliver_briefing(DAY, ["BTCUSDT"], smtp_settings(controller.port), retry=FAST)
        assert len(inbox.messages) == 1 and again["sent"] == []
        forced = deliver_briefing(
            DAY, ["BTCUSDT"], smtp_settings(controller.port), force=True, retry=FAST
        )
        assert len(inbox.messages) == 2 and len(forced["sent"]) == 2
        added = deliver_briefing(
            DAY,
            ["BTCUSDT"],
            smtp_settings(controller.port, "desk@example.com, new@example.com"),
            retry=FAST,
        )
    finally:
        controller.stop()
    assert added["sent"] == ["new@example.com"] and inbox.envelopes[-1] == ["new@example.com"]


def test_a_dead_server_fails_clearly_after_the_retries_and_marks_nothing(env: Path) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(DeliveryError, match="after 3 attempts") as error:
        deliver_briefing(DAY, ["BTCUSDT"], smtp_settings(port), retry=FAST)
    assert "nothing was marked as sent" in str(error.value) and SECRET not in str(error.value)
    assert SentLedger(env, DAY).sent() == {}


def test_invalid_recipients_are_refused_before_anything_is_sent(monkeypatch) -> None:
    with pytest.raises(InvalidRecipientError, match="not-an-address"):
        parse_recipients("desk@example.com, not-an-address")
    monkeypatch.setenv("LIQBRIEF_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LIQBRIEF_DESK_TO", "desk@example.com,<script>@x")
    with pytest.raises(InvalidRecipientError):
        SmtpSettings.from_env()


def test_the_password_stays_out_of_reprs(monkeypatch) -> None:
    monkeypatch.setenv("LIQBRIEF_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("LIQBRIEF_SMTP_PASSWORD", SECRET)
    monkeypatch.setenv("LIQBRIEF_DESK_TO", "desk@example.com")
    settings = SmtpSettings.from_env()
    assert settings.password == SECRET and SECRET not in repr(settings)
    assert settings.port == 587 and settings.security == "starttls"
