"""Reference files a user adds: a broken one is named with what to do, never blamed on data."""

from __future__ import annotations

from pathlib import Path

import pytest

from sources.reference_data import ReferenceDataError, load_brackets, load_tier_mix


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ('{"aggressive": {"10": 1.0}, ', "Expecting"),  # truncated JSON
        ('{"aggressive": {"500": 1.0}, "passive": {"10": 1.0}}', "outside"),  # 500x is no tier
        ('{"aggressive": {"10": 0.5}, "passive": {"10": 1.0}}', "sum to 1"),
        ('{"passive": {"10": 1.0}}', "aggressive"),  # a mix missing
    ],
)
def test_a_broken_tier_file_is_named(tmp_path: Path, monkeypatch, text: str, phrase: str) -> None:
    (tmp_path / "leverage_tiers.json").write_text(text)
    monkeypatch.setenv("LIQBRIEF_REFERENCE_DIR", str(tmp_path))
    with pytest.raises(ReferenceDataError, match=phrase) as caught:
        load_tier_mix()
    assert str(tmp_path / "leverage_tiers.json") in str(caught.value)
    assert "fix the file" in str(caught.value) and "extract" not in str(caught.value)


def test_a_bracket_file_without_its_columns_is_named(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "maintenance_brackets"
    folder.mkdir()
    (folder / "BTCUSDT.csv").write_text("effective_from,bracket,mmr\n2024-01-01,1,0.004\n")
    monkeypatch.setenv("LIQBRIEF_REFERENCE_DIR", str(tmp_path))
    with pytest.raises(ReferenceDataError, match="lack columns") as caught:
        load_brackets("BTCUSDT")
    assert str(folder / "BTCUSDT.csv") in str(caught.value)


def test_a_reference_dir_that_is_not_a_directory_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LIQBRIEF_REFERENCE_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ReferenceDataError, match="is not a directory"):
        load_tier_mix()
