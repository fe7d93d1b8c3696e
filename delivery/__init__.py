"""Delivering the briefing: the e-mail message (pure), the SMTP sender and the sent-ledger."""
