"""Atomic writes of briefings: the final file appears whole, and temporaries a killed writer
left beside it are swept once they are old enough not to belong to a live writer."""

from __future__ import annotations

import os
import stat
import time
from datetime import date
from pathlib import Path

import pytest

from store.artefacts import ArtefactStore
from store.files import atomic_write_bytes


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
