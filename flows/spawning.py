"""Worker processes that a terminal's Ctrl-C does not reach while they start.

Ctrl-C goes to the whole foreground process group, so a worker still importing (a render
worker, a LocalCluster's Dask worker) would print a KeyboardInterrupt traceback of its own
beside the CLI's one line. A process spawned from a thread that blocks SIGINT keeps the mask
across exec, and so does every thread (and process) that thread starts, so workers spawned
inside ``sigint_blocked()`` start deaf to it; the CLI's handler, in the main thread, still
gets it and stops them. multiprocessing's resource tracker, started by the first spawn,
unblocks SIGINT in the spawning thread as it starts (CPython's ``ensure_running``), so it is
started first. It ignores SIGINT and SIGTERM and outlives a CLI that exits at once on them,
then warns about the semaphores it cleans up ("leaked semaphore objects") onto the terminal,
after the CLI's one line: it is started with those warnings off (LIQBRIEF_DEBUG keeps them).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker

from liqbrief.terminal_logging import debugging

# a -W option of the tracker's interpreter (CPython passes this one's sys.warnoptions on)
QUIET_TRACKER = "ignore::UserWarning:multiprocessing.resource_tracker"


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Processes and threads started inside start with SIGINT blocked."""
    start_resource_tracker()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def start_resource_tracker() -> None:
    """multiprocessing's resource tracker, running (started here if it is not), its own
    warnings off unless debugging: it still removes what a stopped process left behind."""
    quiet = not debugging() and QUIET_TRACKER not in sys.warnoptions
    if quiet:
        sys.warnoptions.append(QUIET_TRACKER)
    try:
        resource_tracker.ensure_running()
    finally:
        if quiet:
            sys.warnoptions.remove(QUIET_TRACKER)
