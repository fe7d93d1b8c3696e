"""E-mail through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from delivery.message import InvalidRecipientError, parse_recipients
from delivery.smtp import DeliveryError, SentLedger, SmtpConfigError, SmtpSettings
from flows.briefing import briefing_paths
from flows.delivery import deliver_briefing
from liqbrief.testing.smtp_inbox import (
    Inbox,
    free_port,
    self_signed_certificate,
    server_context,
    start_smtp,
)
from sources.retry_policy import RetryPolicy
from tests.conftest import demo_lake

pytestmark = pytest.mark.server
DAY = date(2024, 3, 6)
FAST = RetryPolicy(attempts=3, initial_wait_s=0.01, max_wait_s=0.02)
SECRET = "s3cret-pa55word"


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mail") / "lake"
    demo_lake(root, DAY, ["BTCUSDT"], history_days=35)
    return root


@pytest.fixture
def env(lake_dir: Path, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("LIQBRIEF_LAKE", str(lake_dir))
    monkeypatch.setenv("LIQBRIEF_REPORTS_DIR", str(tmp_path / "out"))
    return tmp_path / "out"


def server(inbox: Inbox) -> Controller:
    return start_smtp(inbox)


def smtp_settings(
    port: int, recipients: str = "desk@example.com, risk@example.com", **changes
) -> SmtpSettings:
    values = {
        "host": "127.0.0.1", "port": port, "sender": "liqbrief@example.com",
        "recipients": recipients, "security": "none", "password": SECRET,
    }  # fmt: skip
    return SmtpSettings(**(values | changes))


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
    assert attachment.get_content() == Path(briefing_paths(env, DAY)[1]).read_bytes()
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
    with pytest.raises(SmtpConfigError, match=r"LIQBRIEF_DESK_TO=.*<script>@x"):
        SmtpSettings.from_env()


def test_the_password_stays_out_of_reprs(monkeypatch) -> None:
    monkeypatch.setenv("LIQBRIEF_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("LIQBRIEF_SMTP_PASSWORD", SECRET)
    monkeypatch.setenv("LIQBRIEF_DESK_TO", "desk@example.com")
    settings = SmtpSettings.from_env()
    assert settings.password_value() == SECRET and SECRET not in repr(settings)
    assert SECRET not in str(settings) and SECRET not in settings.model_dump_json()
    assert settings.port == 587 and settings.security == "starttls" and settings.tls_verify


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({"LIQBRIEF_SMTP_PORT": "abc"}, "LIQBRIEF_SMTP_PORT='abc'"),
        ({"LIQBRIEF_SMTP_PORT": "0"}, "LIQBRIEF_SMTP_PORT='0': Input should be greater than or equal to 1"),
        ({"LIQBRIEF_SMTP_PORT": "70000"}, "LIQBRIEF_SMTP_PORT='70000': Input should be less than or equal to 65535"),
        ({"LIQBRIEF_SMTP_SECURITY": "tls"}, "LIQBRIEF_SMTP_SECURITY='tls': Input should be 'starttls', 'ssl' or 'none'"),
        ({"LIQBRIEF_SMTP_TLS_VERIFY": "perhaps"}, "LIQBRIEF_SMTP_TLS_VERIFY='perhaps'"),
        ({"LIQBRIEF_SMTP_CA_FILE": "/nonexistent/ca.pem"}, "LIQBRIEF_SMTP_CA_FILE='/nonexistent/ca.pem': no CA bundle file"),
        ({"LIQBRIEF_DESK_TO": ""}, "LIQBRIEF_DESK_TO: is not set"),
    ],
)  # fmt: skip
def test_a_bad_smtp_setting_names_its_variable_and_never_the_password(
    monkeypatch, env: dict[str, str], phrase: str
) -> None:
    base = {
        "LIQBRIEF_SMTP_HOST": "smtp.example.com", "LIQBRIEF_DESK_TO": "desk@example.com",
        "LIQBRIEF_SMTP_PASSWORD": SECRET,
    }  # fmt: skip
    for name, value in (base | env).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SmtpConfigError) as error:
        SmtpSettings.from_env()
    assert phrase in str(error.value) and SECRET not in str(error.value)
    assert "\n" not in str(error.value)


def test_no_host_means_no_smtp_and_ssl_defaults_to_port_465(monkeypatch) -> None:
    monkeypatch.delenv("LIQBRIEF_SMTP_HOST", raising=False)
    assert SmtpSettings.from_env() is None
    monkeypatch.setenv("LIQBRIEF_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("LIQBRIEF_SMTP_SECURITY", "ssl")
    monkeypatch.setenv("LIQBRIEF_DESK_TO", "desk@example.com, risk@example.com")
    monkeypatch.setenv("LIQBRIEF_SMTP_FROM", "briefing@example.com")
    monkeypatch.setenv("LIQBRIEF_SMTP_USER", "")  # empty means unset
    settings = SmtpSettings.from_env()
    assert settings.port == 465 and settings.sender == "briefing@example.com"
    assert settings.recipients == ["desk@example.com", "risk@example.com"] and settings.user is None


# -- TLS against a real relay with a self-signed certificate -------------------------------
@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_an_untrusted_certificate_fails_clearly_and_marks_nothing(
    env: Path, certificate, security: str
) -> None:
    inbox = Inbox()
    context = server_context(*certificate)
    controller = start_smtp(
        inbox, **({"starttls": context} if security == "starttls" else {"implicit_tls": context})
    )
    try:
        with pytest.raises(DeliveryError) as error:
            deliver_briefing(
                DAY, ["BTCUSDT"], smtp_settings(controller.port, security=security), retry=FAST
            )
    finally:
        controller.stop()
    message = str(error.value)
    assert "certificate verify failed" in message and "LIQBRIEF_SMTP_CA_FILE" in message
    assert "LIQBRIEF_SMTP_TLS_VERIFY=false" in message and SECRET not in message
    assert inbox.messages == [] and SentLedger(env, DAY).sent() == {}


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_the_relays_ca_file_makes_it_trusted(env: Path, certificate, security: str, caplog) -> None:
    inbox = Inbox()
    context = server_context(*certificate)
    controller = start_smtp(
        inbox, **({"starttls": context} if security == "starttls" else {"implicit_tls": context})
    )
    try:
        settings = smtp_settings(controller.port, security=security, ca_file=certificate[0])
        result = deliver_briefing(DAY, ["BTCUSDT"], settings, retry=FAST)
    finally:
        controller.stop()
    assert len(result["sent"]) == 2 and len(inbox.messages) == 1
    assert "TLS_VERIFY" not in caplog.text


def test_a_ca_file_does_not_trust_another_host_name(env: Path, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path, host="127.0.0.2")  # not the relay's address
    inbox = Inbox()
    controller = start_smtp(inbox, starttls=server_context(cert, key))
    try:
        with pytest.raises(DeliveryError, match="certificate verify failed"):
            deliver_briefing(
                DAY, ["BTCUSDT"], smtp_settings(controller.port, security="starttls", ca_file=cert),
                retry=FAST,
            )  # fmt: skip
    finally:
        controller.stop()
    assert inbox.messages == []


def test_the_opt_out_delivers_and_warns_on_every_run(env: Path, certificate, caplog) -> None:
    inbox = Inbox()
    controller = start_smtp(inbox, starttls=server_context(*certificate))
    settings = smtp_settings(controller.port, security="starttls", tls_verify=False)
    try:
        with caplog.at_level("WARNING", logger="delivery.smtp"):
            deliver_briefing(DAY, ["BTCUSDT"], settings, retry=FAST)
            first = caplog.text.count("LIQBRIEF_SMTP_TLS_VERIFY=false")
            deliver_briefing(DAY, ["BTCUSDT"], settings, force=True, retry=FAST)
    finally:
        controller.stop()
    assert len(inbox.messages) == 2 and first == 1
    assert caplog.text.count("LIQBRIEF_SMTP_TLS_VERIFY=false") == 2 and SECRET not in caplog.text


# -- two senders at once -----------------------------------------------------------------
def _send_from_another_process(port: int, lake: str, reports: str, go, results) -> None:
    import os

    os.environ["LIQBRIEF_LAKE"], os.environ["LIQBRIEF_REPORTS_DIR"] = lake, reports
    from flows.delivery import deliver_briefing as deliver

    settings = smtp_settings(port)
    go.wait(60)
    try:
        results.put(deliver(DAY, ["BTCUSDT"], settings, retry=FAST))
    except Exception as exc:  # reported to the parent, which fails the test on it
        results.put(repr(exc))


def test_two_concurrent_senders_send_each_recipient_one_email(env: Path, lake_dir: Path) -> None:
    import multiprocessing

    from flows.briefing import write_briefing
    from store.lake import Lake

    write_briefing(Lake(str(lake_dir)), DAY, ["BTCUSDT"], env)  # both find the PDF rendered
    inbox = Inbox(delay_s=0.5)  # a slow relay: the two sends would overlap
    controller = start_smtp(inbox)
    spawn = multiprocessing.get_context("spawn")
    go, results = spawn.Event(), spawn.Queue()
    senders = [
        spawn.Process(
            target=_send_from_another_process,
            args=(controller.port, str(lake_dir), str(env), go, results),
        )
        for _ in range(2)
    ]
    try:
        for sender in senders:
            sender.start()
        go.set()
        outcomes = [results.get(timeout=120) for _ in senders]
        for sender in senders:
            sender.join(30)
    finally:
        controller.stop()
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    delivered = sorted(r for envelope in inbox.envelopes for r in envelope)
    assert delivered == ["desk@example.com", "risk@example.com"]
    assert sorted(r for o in outcomes for r in o["sent"]) == delivered
    assert set(SentLedger(env, DAY).sent()) == set(delivered)


def test_an_unreadable_sent_ledger_stops_the_send_with_a_clear_error(env: Path) -> None:
    from delivery.smtp import SentLedgerError

    ledger_path = Path(SentLedger(env, DAY).path)
    ledger_path.parent.mkdir(parents=True)
    ledger_path.write_text('{"desk@example.com": "2024-03-06T07:00:00+00:00 <id>"')  # cut short
    inbox = Inbox()
    controller = start_smtp(inbox)
    try:
        with pytest.raises(SentLedgerError, match="not a readable sent-ledger"):
            deliver_briefing(DAY, ["BTCUSDT"], smtp_settings(controller.port), retry=FAST)
    finally:
        controller.stop()
    assert inbox.messages == []


def test_a_sender_waiting_too_long_for_the_lock_sends_nothing(tmp_path: Path) -> None:
    from delivery.smtp import SentLedgerError

    holder, waiter = SentLedger(tmp_path, DAY), SentLedger(tmp_path, DAY, lock_wait_s=0.2)
    with holder.locked(), pytest.raises(SentLedgerError, match="still holds"):  # noqa: SIM117
        with waiter.locked():
            pytest.fail("two senders held the same day's lock")


def test_a_refused_login_is_not_retried_and_says_one_attempt(env: Path) -> None:
    """A permanent failure (this relay offers no AUTH) is tried once, and says so."""
    inbox = Inbox()
    controller = start_smtp(inbox)
    try:
        with pytest.raises(DeliveryError, match="after 1 attempt ") as error:
            deliver_briefing(
                DAY, ["BTCUSDT"], smtp_settings(controller.port, user="desk"), retry=FAST
            )
    finally:
        controller.stop()
    assert SECRET not in str(error.value) and SentLedger(env, DAY).sent() == {}
    # waiting will not help: it says what to change instead of "later"
    assert "the server offers no login: unset LIQBRIEF_SMTP_USER" in str(error.value)
    assert "later" not in str(error.value)
