"""Worker processes that a terminal's Ctrl-C does not reach while they start.

Ctrl-C goes to the whole foreground process group, so a worker still importing (a render
worker, a LocalCluster's Dask worker) would print a KeyboardInterrupt traceback of its own
beside the CLI's one line. A process spawned from a thread that blocks SIGINT keeps the mask
across exec, and so does every thread (and process) that thread starts, so workers spawned
inside ``sigint_blocked()`` start deaf to it; the CLI's handler, in the main thread, still
gets it and stops them. multiprocessing's resource tracker, started by the first spawn,
unblocks SIGINT in the spawning thread as it starts (CPython's ``ensure_running``), so it is
started first.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Processes and threads started inside start with SIGINT blocked."""
    resource_tracker.ensure_running()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
