"""E-mailing a rendered briefing to the desk, at most once per recipient and day."""

from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task

from delivery.message import build_message
from delivery.smtp import DeliveryError, SentLedger, SmtpSettings, send
from flows.briefing import (
    briefing_names,
    load_briefing_inputs,
    rendered_symbols,
    write_briefing,
)
from liqbrief.settings import Settings
from reports.briefing import build_briefing
from reports.email_summary import headline, summary_html, summary_text
from sources.retry_policy import RetryPolicy
from store.artefacts import ArtefactStore
from store.lake import Lake


def deliver_briefing(
    day: date,
    symbols: list[str],
    smtp: SmtpSettings,
    force: bool = False,
    retry: RetryPolicy | None = None,
) -> dict[str, list[str]]:
    """Send the day's PDF to every recipient who has not had it (all of them if ``force``).
    The day's ledger lock is held from the check to the record, so concurrent senders of the
    same day send each recipient one e-mail between them."""
    settings = Settings.from_env()
    lake = Lake(settings.lake)
    ledger = SentLedger(settings.reports_dir, day)
    if not force and set(smtp.recipients) <= set(ledger.sent()):
        return {"sent": [], "already_sent": list(smtp.recipients)}
    store = ArtefactStore(settings.reports_dir)
    _, pdf_parts = briefing_names(day)
    if not store.exists(*pdf_parts):
        write_briefing(lake, day, symbols, settings.reports_dir)
    symbols = rendered_symbols(settings.reports_dir, day) or symbols  # what the PDF holds
    briefing = build_briefing(load_briefing_inputs(lake, day, symbols), charts_on=False)
    with ledger.locked():
        already = ledger.sent()
        todo = list(smtp.recipients) if force else [r for r in smtp.recipients if r not in already]
        if not todo:
            return {"sent": [], "already_sent": list(smtp.recipients)}
        message = build_message(
            day, headline(briefing), summary_text(briefing), summary_html(briefing),
            store.read_bytes(*pdf_parts), smtp.sender, todo,
        )  # fmt: skip
        accepted = send(message, smtp, todo, retry)
        ledger.record(accepted, message["Message-ID"])
    refused = [r for r in todo if r not in accepted]
    if refused:
        raise DeliveryError(
            f"the server refused {', '.join(refused)}; the others were sent and recorded"
        )
    return {"sent": accepted, "already_sent": [r for r in smtp.recipients if r in already]}


@task(task_run_name="email-briefing-{day}")
def email_briefing(day: date, symbols: list[str], force: bool = False) -> dict[str, list[str]]:
    smtp = SmtpSettings.from_env()
    if smtp is None:
        get_run_logger().info("e-mail skipped: LIQBRIEF_SMTP_HOST is not set")
        return {"sent": [], "already_sent": []}
    return deliver_briefing(day, symbols, smtp, force)
