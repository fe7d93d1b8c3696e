"""The command line on a real lake, as subprocesses: strict --json, no map → a clear failure,
flow failures without tracebacks on the terminal, `send` describing the PDF it attaches."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from liqbrief.testing.smtp_inbox import Inbox, start_smtp
from tests.conftest import cli_env, demo_lake

pytestmark = pytest.mark.server
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAY = date(2024, 3, 6)


def strict_loads(text: str):
    """json.loads that refuses NaN and Infinity, as strict parsers (JavaScript, jq) do."""

    def refuse(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli-runs")
    demo_lake(root / "lake", DAY, ["BTCUSDT"])
    return root


def cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = cli_env(root, LIQBRIEF_REPORTS_DIR=str(root / "out"), LIQBRIEF_HTTP_ATTEMPTS="1")
    return subprocess.run(
        [sys.executable, "-m", "liqbrief.cli", *args],
        env=base | env, cwd=root, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_map_json_is_strict_json(demo: Path) -> None:
    result = cli(demo, "map", "--date", str(DAY), "--json")
    assert result.returncode == 0, result.stderr
    row = strict_loads(result.stdout)
    assert row["date"] == str(DAY) and math.isfinite(row["p0"]) and row["window"] == "7d"


@pytest.mark.flow
def test_context_json_is_strict_json_with_nulls_for_missing_values(demo: Path) -> None:
    result = cli(demo, "context", "--date", str(DAY), "--no-fetch-macro", "--json")
    assert result.returncode == 0, result.stderr
    tables = strict_loads(result.stdout)
    assert tables["market_context"] and tables["records"]
    values = [v for rows in tables.values() if isinstance(rows, list) for r in rows
              if isinstance(r, dict) for v in r.values()]  # fmt: skip
    assert None in values  # a value the lake holds as NaN comes out as null


@pytest.mark.flow
def test_context_says_an_unreachable_coinglass_once(demo: Path) -> None:
    """A key set and Coinglass unreachable (the closed loopback port of cli_env): the plain
    output names the problem once and counts the series it stopped, not one line each."""
    result = cli(demo, "context", "--date", str(DAY), "--no-fetch-macro",
                 COINGLASS_API_KEY="cg-test-key-unreachable")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "skipped: Coinglass unreachable" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning: Coinglass")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("warning: Coinglass BTC/") and "unreachable" in lines[0]
    skipped = re.search(r"; (\d+) other series skipped$", lines[0])
    assert skipped and int(skipped[1]) >= 5, lines[0]
    assert "cg-test-key-unreachable" not in result.stdout + result.stderr


def test_map_refuses_a_date_whose_previous_day_is_missing(demo: Path) -> None:
    """The lake ends on DAY − 1: a map of a later date would show an old P0 as current."""
    result = cli(demo, "map", "--date", "2024-03-20")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        "no map for BTCUSDT 2024-03-20: no mark or last price in the hour before" in result.stderr
    )
    assert (
        "run `liqbrief extract --symbols BTCUSDT --start 2024-03-19 --end 2024-03-19`"
        in result.stderr
    )
    assert result.stdout == ""


@pytest.mark.flow
def test_a_failing_flow_prints_one_line_and_no_traceback(demo: Path) -> None:
    """The archive is unreachable: Prefect keeps the exception log in the run; the terminal
    gets Prefect's usual lines and ours."""
    result = cli(demo, "extract", "--start", "2024-03-10", "--end", "2024-03-10")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("liqbrief extract:")]
    assert len(ours) == 1 and "archive" in ours[0]
    with sqlite3.connect(demo / "prefect" / "prefect.db") as db:  # the run keeps the details
        kept = db.execute("select count(*) from log where message like '%Traceback%'").fetchone()
    assert kept[0] >= 1


def test_send_describes_the_symbols_of_the_attached_pdf(demo: Path, tmp_path: Path) -> None:
    root = tmp_path / "send"
    root.mkdir()
    (root / "lake").symlink_to(demo / "lake")
    rendered = cli(root, "brief", "--date", str(DAY), "--symbols", "BTCUSDT")
    assert rendered.returncode == 0, rendered.stderr
    inbox = Inbox()
    server = start_smtp(inbox)
    try:
        result = cli(
            root, "send", "--date", str(DAY), "--symbols", "ETHUSDT",
            LIQBRIEF_SMTP_HOST="127.0.0.1", LIQBRIEF_SMTP_PORT=str(server.port),
            LIQBRIEF_SMTP_SECURITY="none", LIQBRIEF_DESK_TO="desk@example.com",
        )  # fmt: skip
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    (message,) = inbox.messages
    text = message.get_body(("plain",)).get_content()
    assert "BTC" in text and "ETH" not in text + message["Subject"]
