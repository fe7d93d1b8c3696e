"""SMTP settings, read from the environment once and validated with bounds.

LIQBRIEF_SMTP_HOST, _PORT (1..65535; default 587, or 465 with ssl), _SECURITY (starttls | ssl |
none), _USER, _PASSWORD (or a Prefect Secret block named by _PASSWORD_BLOCK), _FROM,
_TLS_VERIFY (default true), _CA_FILE (a CA bundle for a private relay) and LIQBRIEF_DESK_TO.
A bad value is one line naming the variable; the password is a SecretStr, never in a repr,
a log or an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from delivery.message import parse_recipients

ENV_NAMES = {
    "host": "LIQBRIEF_SMTP_HOST",
    "port": "LIQBRIEF_SMTP_PORT",
    "security": "LIQBRIEF_SMTP_SECURITY",
    "user": "LIQBRIEF_SMTP_USER",
    "password": "LIQBRIEF_SMTP_PASSWORD",
    "password_block": "LIQBRIEF_SMTP_PASSWORD_BLOCK",
    "sender": "LIQBRIEF_SMTP_FROM",
    "recipients": "LIQBRIEF_DESK_TO",
    "tls_verify": "LIQBRIEF_SMTP_TLS_VERIFY",
    "ca_file": "LIQBRIEF_SMTP_CA_FILE",
}
SECRET_FIELDS = {"password"}


class SmtpConfigError(ValueError):
    """An SMTP setting is invalid; the message names the variable and says what fits."""


class SmtpSettings(BaseSettings):
    """Where and how to send the briefing; see the module docstring for the variables."""

    model_config = SettingsConfigDict(
        env_prefix="LIQBRIEF_SMTP_", env_ignore_empty=True, extra="ignore", populate_by_name=True
    )

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    password: SecretStr | None = Field(default=None, repr=False)
    password_block: str | None = None
    sender: str = Field(
        default="liqbrief@localhost",
        validation_alias=AliasChoices("sender", "LIQBRIEF_SMTP_FROM"),
    )
    recipients: Annotated[list[str], NoDecode] = Field(
        validation_alias=AliasChoices("recipients", "LIQBRIEF_DESK_TO")
    )
    tls_verify: bool = True
    ca_file: Path | None = None

    @field_validator("recipients", mode="before")
    @classmethod
    def _parse_recipients(cls, value: str | list[str]) -> list[str]:
        return parse_recipients(value)

    @field_validator("ca_file")
    @classmethod
    def _readable_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no CA bundle file at {value}")
        return value

    def model_post_init(self, context: object) -> None:
        if self.port is None:
            self.port = 465 if self.security == "ssl" else 587

    def password_value(self) -> str:
        """The password for SMTP AUTH (env, else the Prefect Secret block, else empty)."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_block:
            from prefect.blocks.system import Secret

            return str(Secret.load(self.password_block).get())
        return ""

    @property
    def has_password(self) -> bool:
        return self.password is not None or bool(self.password_block)

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        """None when LIQBRIEF_SMTP_HOST is unset (the daily job then skips e-mail); otherwise
        the validated settings, or SmtpConfigError naming every bad variable."""
        if not os.environ.get("LIQBRIEF_SMTP_HOST", "").strip():
            return None
        try:
            return cls()
        except ValidationError as exc:
            raise SmtpConfigError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """One line per bad field: the variable, its value (never a secret's) and what fits."""
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        field = next((f for f, env in ENV_NAMES.items() if env == field), field)
        name = ENV_NAMES.get(field, field)
        missing = error["type"] == "missing"  # its input is every value, secrets included
        secret = field in SECRET_FIELDS or missing or "input" not in error
        shown = "" if secret else f"={error['input']!r}"
        reason = "is not set" if missing else error["msg"].removeprefix("Value error, ")
        problems.append(f"{name}{shown}: {reason}")
    return "invalid SMTP settings: " + "; ".join(problems)
