"""Atomic writes of finished artefacts (briefings) on the local disk."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from pathlib import Path

STALE_TEMPORARY_S = 3600  # a temporary file this old belongs to a writer that died


def _this_host() -> str:
    """``hostname:pid-namespace``: a pid means nothing in another container, even one that
    shares this hostname (docker --network host) and the directory."""
    namespace = Path("/proc/self/ns/pid")
    return f"{socket.gethostname()}:{namespace.stat().st_ino if namespace.exists() else 0}"


HOST = _this_host()


def temporary_name(final_name: str) -> str:
    """A writer's hidden temporary for ``final_name``: ``.<final>.<random>.<pid>@<host>.tmp``
    (host: name and pid namespace), so a later writer on the same host can tell that its
    writer is gone (killed mid-write: Ctrl-C stops the render workers with SIGTERM, a lost
    Dask worker with SIGKILL)."""
    return f".{final_name}.{uuid.uuid4().hex}.{os.getpid()}@{HOST}.tmp"


def _writer_is_gone(owner: str) -> bool:
    """Whether the ``pid@host`` that wrote a temporary is known dead (only on its own host:
    another machine's pid says nothing here)."""
    pid, _, host = owner.partition("@")
    if host != HOST or not (pid.isascii() and pid.isdigit()):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError, ValueError):
        return False  # alive (someone else's), or no pid this system could have
    return False


def is_stale_temporary(name: str, final_name: str, mtime_s: float, now_s: float) -> bool:
    """A ``.<final>.<anything>.tmp`` file left by a writer of ``final_name`` that was killed:
    its writer process is gone, or it is old enough that no live writer can still own it."""
    prefix = f".{final_name}."
    if not (name.startswith(prefix) and name.endswith(".tmp")):
        return False
    owner = name[len(prefix) : -len(".tmp")].partition(".")[2]  # "" in the older form
    return now_s - mtime_s > STALE_TEMPORARY_S or _writer_is_gone(owner)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``
    (mode 0666 less the umask). Temporaries of ``path`` left by a killed writer are removed
    first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if is_stale_temporary(leftover.name, path.name, leftover.stat().st_mtime, now):
                leftover.unlink()
    tmp = path.parent / temporary_name(path.name)
    # 0o666 filtered by the umask, as the lake's files (mkstemp would make every file 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)  # the rename itself survives a power cut
    return path


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
