"""What Prefect may print on the user's terminal: its usual lines, but not the exception
logs of failed flow and task runs (with their tracebacks). Those still go to the Prefect
run (the API handler), and the CLI prints one line saying what failed.

``LIQBRIEF_DEBUG=1`` shows everything. The CLI points PREFECT_LOGGING_SETTINGS_PATH at
``prefect_logging.yml`` (Prefect's default configuration plus this filter on its console
handler) before Prefect is imported.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

LOGGING_CONFIG = Path(__file__).with_name("prefect_logging.yml")
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
# a run's closing line repeats its exception; the CLI prints that error once itself
FAILED_STATE_LINES = ("Finished in state Failed", "Finished in state Crashed")


def debugging() -> bool:
    return os.environ.get("LIQBRIEF_DEBUG", "") not in ("", "0")


class NoRunFailuresOnTerminal(logging.Filter):
    """Drops records carrying a traceback, errors of flow and task runs, and their
    "Finished in state Failed/Crashed(...)" lines (which repeat the error)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if debugging():
            return True
        if record.exc_info or record.exc_text:
            return False
        if not record.name.startswith(RUN_LOGGERS):
            return True
        if record.levelno >= logging.ERROR:
            return False
        return not record.getMessage().startswith(FAILED_STATE_LINES)


def keep_run_failures_off_terminal() -> None:
    """Use liqbrief's Prefect logging configuration unless the user chose one. A Dask
    cluster's own bookkeeping (workers joining and leaving, in this process and in the
    workers a "local" cluster starts) stays at warnings unless debugging or chosen."""
    os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(LOGGING_CONFIG))
    if not debugging():
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
