"""A date's liquidation map (bins, summary, heatmap) is replaced as one unit, manifest last."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from store.datasets import DATASETS
from store.errors import CorruptPartitionError
from store.lake import Lake
from store.ledger import LedgerEntry
from store.units import write_unit

DAY = date(2024, 3, 1)
NAMES = ("liqmap_bins", "liqmap_summary", "liqmap_heatmap")


def one_row(name: str, value: float) -> pa.Table:
    """A one-row table of a map dataset whose float columns all hold ``value``."""
    samples = {
        pa.date32(): DAY,
        pa.string(): "7d",
        pa.float64(): value,
        pa.int64(): 1,
        pa.bool_(): False,
        pa.timestamp("us", tz="UTC"): datetime(2024, 2, 29, 23, tzinfo=UTC),
    }
    schema = DATASETS[name].schema
    return pa.table({f.name: pa.array([samples[f.type]], f.type) for f in schema}, schema=schema)


def tables(value: float, names=NAMES) -> tuple[dict, dict]:
    made = {name: one_row(name, value) for name in names}
    entries = {
        name: LedgerEntry(
            "binance",
            name,
            "BTCUSDT",
            DAY.isoformat(),
            "liqbrief:liqmap-engine",
            "",
            1,
            0,
            0,
            "2024-03-01T01:00:00+00:00",
        )
        for name in names
    }
    return made, entries


def read_values(lake: Lake) -> dict[str, list[float]]:
    return {
        name: list(lake.read(DATASETS[name], "BTCUSDT", DAY, DAY)["notional_usd" if name != "liqmap_summary" else "p0"])
        for name in NAMES
    }  # fmt: skip


def test_a_rerun_without_heatmaps_removes_the_old_heatmap(lake: Lake) -> None:
    write_unit(lake, "liqmap", DAY, *tables(1.0))
    assert read_values(lake) == {name: [1.0] for name in NAMES}
    write_unit(lake, "liqmap", DAY, *tables(2.0, NAMES[:2]))
    assert read_values(lake) == {
        "liqmap_bins": [2.0],
        "liqmap_summary": [2.0],
        "liqmap_heatmap": [],
    }
    heatmap = DATASETS["liqmap_heatmap"]
    assert not Path(lake.data_path(heatmap, "BTCUSDT", DAY)).exists()
    assert set(lake.manifest(heatmap, "BTCUSDT", DAY).files) == {"liqmap_bins", "liqmap_summary"}


def test_a_crash_between_the_writes_never_shows_a_mix_and_a_rerun_completes(
    lake: Lake, monkeypatch
) -> None:
    write_unit(lake, "liqmap", DAY, *tables(1.0))
    real_write_day, calls = lake.write_day, []

    def crash_on_the_second_file(*args, **kwargs):
        calls.append(args[0].name)
        if len(calls) == 2:
            raise OSError("killed between the map's writes")
        return real_write_day(*args, **kwargs)

    monkeypatch.setattr(lake, "write_day", crash_on_the_second_file)
    with pytest.raises(OSError, match="killed"):
        write_unit(lake, "liqmap", DAY, *tables(2.0))
    # new bins are on disk beside the old summary and heatmap: none of them is trusted
    assert read_values(lake) == {name: [] for name in NAMES}
    for name in NAMES:
        assert lake.ingested_days(DATASETS[name], "BTCUSDT", [DAY]) == set()
    monkeypatch.setattr(lake, "write_day", real_write_day)
    write_unit(lake, "liqmap", DAY, *tables(2.0))
    assert read_values(lake) == {name: [2.0] for name in NAMES}


def test_a_file_that_differs_from_its_manifest_is_an_error_naming_it(lake: Lake) -> None:
    write_unit(lake, "liqmap", DAY, *tables(1.0))
    other = Lake(str(Path(lake.root).parent / "other"))
    write_unit(other, "liqmap", DAY, *tables(5.0))
    summary = DATASETS["liqmap_summary"]
    target = Path(lake.data_path(summary, "BTCUSDT", DAY))
    target.write_bytes(Path(other.data_path(summary, "BTCUSDT", DAY)).read_bytes())
    with pytest.raises(CorruptPartitionError, match="SHA-256 its manifest records") as error:
        lake.read(summary, "BTCUSDT", DAY, DAY)
    assert str(target) in str(error.value) and "liqbrief liqmap --symbols BTCUSDT" in str(
        error.value
    )


def test_a_unit_refuses_tables_outside_it(lake: Lake) -> None:
    made, entries = tables(1.0)
    made["klines_1m"] = made.pop("liqmap_heatmap")
    with pytest.raises(ValueError, match="do not fit the unit"):
        write_unit(lake, "liqmap", DAY, made, entries)


def test_a_unit_replaced_while_it_is_read_is_read_whole_from_the_new_run(
    lake: Lake, monkeypatch
) -> None:
    from store.units import read_unit

    write_unit(lake, "liqmap", DAY, *tables(1.0))
    real_read, calls = lake.read_checked_file, []

    def another_run_lands_after_the_first_file(*args, **kwargs):
        calls.append(args[0].name)
        table = real_read(*args, **kwargs)
        if len(calls) == 1:
            write_unit(lake, "liqmap", DAY, *tables(2.0))
        return table

    monkeypatch.setattr(lake, "read_checked_file", another_run_lands_after_the_first_file)
    unit = read_unit(lake, "liqmap", "BTCUSDT", DAY)
    values = {
        name: t.column("bin_hi" if name != "liqmap_summary" else "p0").to_pylist()
        for name, t in unit.items()
    }
    assert values == {"liqmap_bins": [2.0], "liqmap_summary": [2.0], "liqmap_heatmap": [2.0]}
    assert len(calls) > 3  # the first pass was abandoned, not mixed


def test_the_briefing_loads_no_heatmap_left_by_an_earlier_run(lake: Lake) -> None:
    from flows.briefing import load_briefing_inputs

    write_unit(lake, "liqmap", DAY, *tables(1.0))
    assert len(load_briefing_inputs(lake, DAY, ["BTCUSDT"]).heatmaps["BTCUSDT"]) == 1
    write_unit(lake, "liqmap", DAY, *tables(2.0, NAMES[:2]))  # a re-run with --heatmaps none
    inputs = load_briefing_inputs(lake, DAY, ["BTCUSDT"])
    assert inputs.heatmaps["BTCUSDT"].empty and list(inputs.summaries["BTCUSDT"]["p0"]) == [2.0]
