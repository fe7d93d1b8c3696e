"""The e-mail bodies: the executive summary as plain text and as small, autoescaped HTML."""

from __future__ import annotations

from reports.briefing import Briefing
from reports.render import template_environment


def headline(briefing: Briefing) -> str:
    for section in briefing.sections:
        if section.sentences:
            return section.sentences[0]
    return "no liquidation map for this date"


def summary_text(briefing: Briefing) -> str:
    lines = [briefing.title, briefing.cutoff, ""]
    for s in briefing.sections:
        lines.append(f"{s.name} ({s.symbol})")
        lines += [f"  {sentence}" for sentence in s.sentences]
        lines += [f"  Missing: {m}" for m in s.missing]
        if s.records_line:
            lines.append(f"  Records: {s.records_line}")
        lines.append("")
    lines += [f"Macro: {briefing.macro_line}", ""]
    lines += [f"Data coverage: {w}" for w in briefing.warnings]
    lines += ["", "The full briefing is attached as a PDF. " + briefing.methods[0]]
    return "\n".join(lines) + "\n"


def summary_html(briefing: Briefing) -> str:
    return template_environment().get_template("email_summary.html.j2").render(briefing=briefing)
