"""Atomic writes of briefings: the final file appears whole, and temporaries a killed writer
left beside it are swept once they are old enough not to belong to a live writer."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from store.artefacts import ArtefactStore
from store.files import HOST, atomic_write_bytes
from tests.conftest import PROJECT_ROOT


def test_the_write_replaces_the_file_and_sweeps_only_stale_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "2024-02-01" / "liqbrief-2024-02-01.pdf"
    target.parent.mkdir()
    stale = target.parent / ".liqbrief-2024-02-01.pdf.abc123.tmp"
    live = target.parent / ".liqbrief-2024-02-01.pdf.def456.tmp"
    other = target.parent / ".liqbrief-2024-02-01.html.abc123.tmp"
    for leftover in (stale, live, other):
        leftover.write_bytes(b"%PDF-1.7 half")
    two_hours_ago = time.time() - 7200
    for old in (stale, other):
        os.utime(old, (two_hours_ago, two_hours_ago))
    atomic_write_bytes(target, b"%PDF-1.7 whole")
    assert target.read_bytes() == b"%PDF-1.7 whole"
    assert not stale.exists()
    assert live.exists()  # fresh: a concurrent writer may still own it
    assert other.exists()  # another file's temporary is swept by that file's next write
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(
        [target.name, live.name, other.name]
    )


def test_a_temporary_whose_writer_was_killed_is_swept_at_once_a_live_ones_is_kept(
    tmp_path: Path,
) -> None:
    """A writer killed mid-write (Ctrl-C stops render workers with SIGTERM) leaves its
    temporary; the re-run's write of that file removes it without waiting an hour, since the
    temporary names its writer's pid and host. A live writer's temporary stays."""
    target = tmp_path / "2024-02-05" / "liqbrief-2024-02-05.html"
    target.parent.mkdir()
    writer = (
        "import sys, time; from pathlib import Path; from store.files import temporary_name; "
        "p = Path(sys.argv[1]); t = p.parent / temporary_name(p.name); t.write_bytes(b'<html'); "
        "print(t.name, flush=True); time.sleep(60)"
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", writer, str(target)], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT
    )  # fmt: skip
    alive = subprocess.Popen(
        [sys.executable, "-c", writer, str(target)], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT
    )  # fmt: skip
    try:
        dead_name, live_name = killed.stdout.readline().strip(), alive.stdout.readline().strip()
        killed.send_signal(signal.SIGTERM)
        killed.wait(timeout=10)
        atomic_write_bytes(target, b"<html>whole</html>")
        assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, live_name])
        assert dead_name.endswith(f".{killed.pid}@{HOST}.tmp")
        assert HOST.startswith(f"{socket.gethostname()}:")
    finally:
        alive.kill()
        alive.wait(timeout=10)
    strays = [
        f".{target.name}.abc.{killed.pid}@another-host:1.tmp",  # another machine's writer
        f".{target.name}.abc.{killed.pid}@{socket.gethostname()}:1.tmp",  # another container's
        f".{target.name}.abc.99999999999999999999@{HOST}.tmp",  # no pid this system could have
        f".{target.name}.abc.\u0663@{HOST}.tmp",  # a digit, but not an ASCII one
    ]
    for name in strays:
        (target.parent / name).write_bytes(b"<html")
    atomic_write_bytes(target, b"<html>again</html>")
    assert not (target.parent / live_name).exists()  # its writer was killed since
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, *strays])


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_files_get_the_umasks_mode_like_the_lake_not_0600(
    tmp_path: Path, umask: int, mode: int
) -> None:
    from delivery.smtp import SentLedger

    previous = os.umask(umask)
    try:
        briefing = atomic_write_bytes(tmp_path / "2024-02-01" / "liqbrief-2024-02-01.pdf", b"%PDF")
        ledger = SentLedger(tmp_path, date(2024, 2, 1))
        ledger.record(["desk@example.com"], "<id@liqbrief.local>")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(briefing.stat().st_mode) == mode
    assert stat.S_IMODE(Path(ledger.path).stat().st_mode) == mode


def test_a_briefing_rewrite_that_dies_between_its_files_is_not_complete(
    tmp_path: Path, monkeypatch
) -> None:
    """A crash after one of the two files must not leave an HTML and a PDF of different
    renders side by side (a backfill counts a day with both files as done)."""
    import flows.briefing as briefing_flow
    from tests.conftest import demo_lake

    day = date(2024, 3, 6)
    lake = demo_lake(tmp_path / "lake", day, ["BTCUSDT"], history_days=35)
    out = tmp_path / "out"
    html_path, pdf_path = (
        Path(p) for p in briefing_flow.write_briefing(lake, day, ["BTCUSDT"], out)
    )
    real_write, written = ArtefactStore.write_bytes, []

    def die_after_the_first_file(store: ArtefactStore, data: bytes, *parts: str) -> str:
        if written:
            raise OSError("killed between the briefing's files")
        written.append(parts)
        return real_write(store, data + b"\n", *parts)  # a different render than the first

    monkeypatch.setattr(ArtefactStore, "write_bytes", die_after_the_first_file)
    with pytest.raises(OSError, match="killed"):
        briefing_flow.write_briefing(lake, day, ["BTCUSDT"], out)
    assert pdf_path.exists() and not html_path.exists()  # the new PDF, and not "complete"
