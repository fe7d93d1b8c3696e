"""Running the command line: every outcome ends in an exit code and at most a few lines.

Usage errors (a bad option or setting) exit 2 with one line naming what is wrong; a failure
exits 1 with one line saying what failed and where the details are; nothing prints a
traceback unless LIQBRIEF_DEBUG=1. Ctrl-C exits 130 and SIGTERM 143, at once, with one line (see
``interrupts_exit_at_once``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.util
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.main import get_command

from liqbrief.settings import SettingsError
from liqbrief.terminal_logging import debugging

HELP_ASKED = "liqbrief.help_asked"
OUR_PACKAGES = ("liqbrief", "flows", "sources", "store", "transforms", "reports", "delivery")
FLOWLESS_COMMANDS = ("record", "lake")  # run no Prefect flow: no "Prefect run" to look in
console = Console(stderr=True, soft_wrap=True, highlight=False)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class OneLineErrors(TyperGroup):
    """The command group: a failure inside a command (or a bad setting found by the
    callback) becomes one line and an exit code, however the app is invoked."""

    def invoke(self, ctx):
        remaining = [*getattr(ctx, "_protected_args", []), *ctx.args]
        ctx.meta[HELP_ASKED] = "--help" in remaining  # help needs no valid settings
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt):
            raise
        except SettingsError as exc:
            console.print(f"{_path(ctx)}: {exc}", markup=False)
            raise typer.Exit(2) from None
        except Exception as exc:
            line = failure_line(exc, ctx.invoked_subcommand or "")
            console.print(f"{_path(ctx)}: {line}", markup=False)
            if debugging():
                traceback.print_exc()
            raise typer.Exit(1) from None


def _path(ctx) -> str:
    sub = ctx.invoked_subcommand
    return f"{ctx.command_path} {sub}" if sub else ctx.command_path


def run(app: typer.Typer, args: Sequence[str] | None = None) -> int:
    """Run ``app`` on ``args`` (default sys.argv) and return its exit code."""
    args = list(sys.argv[1:] if args is None else args)
    name = _command_name(args)
    # a logging handler that fails writes to stderr only when debugging: Prefect's log
    # shipper otherwise prints "--- Error logging to API ---" (its server stopped by Ctrl-C
    # with the rest of the process group) onto the terminal, before or after our one line
    logging.raiseExceptions = debugging()
    try:
        with interrupts_exit_at_once(name):
            result = get_command(app).main(args=args, prog_name="liqbrief", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        console.print(f"liqbrief {name}: interrupted")
        return 130
    except KeyboardInterrupt:
        console.print(f"liqbrief {name}: interrupted")
        return 130
    except typer.TyperException as exc:  # click's usage errors: bad option, unknown command
        return _usage_error(exc, name)
    except Exception as exc:  # outside any command (OneLineErrors handles those)
        console.print(f"liqbrief {name}: {failure_line(exc, name)}", markup=False)
        if debugging():
            traceback.print_exc()
        return 1
    return result if isinstance(result, int) else 0


@contextmanager
def interrupts_exit_at_once(name: str) -> Iterator[None]:
    """While a command runs, SIGINT (Ctrl-C) or SIGTERM (cron, systemd, ``timeout``) ends
    the process now: one line, exit code 130 or 143.

    Ctrl-C reaches the whole process group, so Prefect's ephemeral API server stops at the
    same moment; a KeyboardInterrupt would then have Prefect retry recording the crash
    against the dead server for a minute or more (and print its errors), while render
    workers and Prefect's threads keep the process alive. A SIGTERM to this process alone
    would instead leave that server running. Every write is atomic, so exiting at once
    loses nothing a re-run does not redo. Our child processes are stopped too, in case the
    signal reached this process alone. A command that stops cleanly on a signal itself
    (``record``, ``serve``) sets its own handlers while it runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return

    def exit_at_once(signum: int, frame: object) -> None:
        for ignored in STOP_SIGNALS:  # a second Ctrl-C or SIGTERM changes nothing
            signal.signal(ignored, signal.SIG_IGN)
        logging.disable(logging.CRITICAL)  # Prefect's threads log nothing after our last line
        stop_child_processes()
        word = "interrupted" if signum == signal.SIGINT else "terminated"
        console.print(f"liqbrief {name}: {word}", markup=False)
        sys.stderr.flush()
        os._exit(128 + signum)  # no atexit: Prefect's hooks would talk to the stopped server

    previous = {signum: signal.signal(signum, exit_at_once) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_child_processes() -> None:
    """SIGTERM to every child (the render workers, a LocalCluster's Dask workers, Prefect's
    ephemeral API server) until none is left, no new one spawned meanwhile: Dask's nannies
    start and restart workers from their own threads, and a worker whose parent exits while
    it starts prints a traceback of its own (EOFError, a missing semaphore)."""
    multiprocessing.util.spawnv_passfds = _refuse_spawn  # the spawn path of every start method
    signalled: set[int] = set()
    for round_number in range(STOP_ROUNDS):
        pids = _child_pids() - signalled
        if not pids and round_number:  # none new since the last look
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        signalled |= pids
        time.sleep(STOP_ROUND_SECONDS)  # a spawn already under way shows up by then
    for child in multiprocessing.active_children():
        child.join(timeout=2)
    # The pool's semaphores are unlinked by multiprocessing's exit finalizers, which
    # os._exit skips (its resource tracker would then warn about them on the terminal).
    run_finalizers = getattr(multiprocessing.util, "_run_finalizers", None)
    if run_finalizers is not None:
        run_finalizers(0)


STOP_ROUNDS, STOP_ROUND_SECONDS = 10, 0.05


def _refuse_spawn(*args: object) -> int:
    raise OSError("liqbrief is stopping: no new worker process")


def _child_pids() -> set[int]:
    """This process's children, of any thread (Linux /proc), and multiprocessing's."""
    pids = {child.pid for child in multiprocessing.active_children() if child.pid}
    for listing in Path("/proc/self/task").glob("*/children"):
        try:
            pids.update(int(pid) for pid in listing.read_text().split())
        except OSError:
            continue
    return pids


def _usage_error(exc: typer.TyperException, name: str) -> int:
    code = getattr(exc, "exit_code", 2)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare `liqbrief`: the help, as usual
        console.print(message, markup=False)
        return code
    context = getattr(exc, "ctx", None)
    path = context.command_path if context is not None else f"liqbrief {name}".strip()
    message = message.replace("Value error, ", "")
    console.print(f"{path}: {message} (see {path} --help)", markup=False)
    return code


def failure_line(exc: BaseException, command: str = "") -> str:
    """What failed, for a person: our own errors say it (and what to do) in their message;
    anything else is named with where to look (the Prefect run only for a command that
    runs a flow)."""
    message = str(exc).strip() or type(exc).__name__
    if type(exc).__module__.split(".")[0] in OUR_PACKAGES:
        return message
    first = message.splitlines()[0]
    if command in FLOWLESS_COMMANDS:
        return f"{type(exc).__name__}: {first}; re-run with LIQBRIEF_DEBUG=1 for the details"
    return (
        f"{type(exc).__name__}: {first}; details in the Prefect run "
        "(or re-run with LIQBRIEF_DEBUG=1)"
    )


def _command_name(args: list[str]) -> str:
    return next((a for a in args if not a.startswith("-")), "")
