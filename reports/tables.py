"""A table as the template shows it: a header and rows of formatted cells."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
