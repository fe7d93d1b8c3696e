"""SIGTERM to the CLI's process alone (cron's or systemd's stop, `kill PID`): the run ends
within seconds with exit code 143 and one line, no traceback, and Prefect's ephemeral API
server (its child) is stopped with it instead of being left running."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.flows.test_backfill_interrupt import live_members

pytestmark = [pytest.mark.server]
PROMPT_EXIT_SECONDS = 20


def children(pid: int) -> set[int]:
    """The child processes of ``pid`` (any of its threads'), from /proc."""
    found: set[int] = set()
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.update(int(child) for child in listing.read_text().split())
        except OSError:
            continue
    return found


def test_sigterm_ends_a_run_with_one_line_and_stops_prefects_server(tmp_path: Path) -> None:
    with socket.socket() as silent:  # an archive that accepts and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        env = cli_env(
            tmp_path, LIQBRIEF_BINANCE_ARCHIVE_URL=f"http://127.0.0.1:{silent.getsockname()[1]}"
        )
        args = ["extract", "--symbols", "BTCUSDT", "--start", "2024-03-01", "--end", "2024-03-01"]
        run = subprocess.Popen(
            [sys.executable, "-m", "liqbrief.cli", *args], cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not children(run.pid) and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)  # until Prefect's server (a child) is up
            time.sleep(3)  # the flow is now waiting on the silent archive
            server = children(run.pid)
            assert server and run.poll() is None, run.stderr.read() if run.poll() else "no child"
            sent = time.monotonic()
            run.send_signal(signal.SIGTERM)  # to the CLI alone, not its process group
            _, stderr = run.communicate(timeout=PROMPT_EXIT_SECONDS)
            took = time.monotonic() - sent
        finally:
            if run.poll() is None:
                run.kill()
    assert run.returncode == 143, stderr[-2000:]
    assert took < PROMPT_EXIT_SECONDS
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "liqbrief extract: terminated", stderr[-2000:]
    time.sleep(1)
    assert live_members(run.pid) == [], "Prefect's server outlived the run"
