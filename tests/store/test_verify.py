"""`lake verify`: every partition against its ledger record (rows, SHA-256, schema)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from store.datasets import DATASETS
from store.lake import Lake
from store.verify import print_report, verify_lake
from tests.store.test_lake import FUNDING, entry, funding_table
from tests.store.test_units import DAY, tables

DAYS = [date(2024, 1, d) for d in range(1, 7)]


def filled(lake: Lake) -> Lake:
    for day in DAYS:
        lake.write_day(FUNDING, day, funding_table(day, [0.1, 0.2], [0, 8]), entry(day, 2))
    return lake


def test_a_clean_lake_verifies(lake: Lake) -> None:
    report = verify_lake(filled(lake))
    assert report.ok and report.checked == 6 and report.unhashed == 0


def test_every_kind_of_damage_is_listed_with_the_command_that_repairs_it(lake: Lake) -> None:
    filled(lake)
    path = {day: Path(lake.data_path(FUNDING, "BTCUSDT", day)) for day in DAYS}
    raw = path[DAYS[0]].read_bytes()
    path[DAYS[0]].write_bytes(raw[:-9] + bytes(9))  # flipped bytes, same size
    path[DAYS[1]].write_bytes(path[DAYS[2]].read_bytes())  # another day's (valid) file
    path[DAYS[3]].unlink()  # the ledger still records it
    Path(lake.ledger_path(FUNDING, "BTCUSDT", DAYS[5])).unlink()  # a write that stopped
    report = verify_lake(lake)
    problems = {f.day: f.problem for f in report.findings}
    assert set(problems) == {DAYS[0], DAYS[1], DAYS[3], DAYS[5]} and not report.ok
    assert "SHA-256" in problems[DAYS[0]] and "SHA-256" in problems[DAYS[1]]
    assert "missing" in problems[DAYS[3]] and "no ledger record" in problems[DAYS[5]]
    assert report.repair_commands() == [
        "liqbrief extract --symbols BTCUSDT --datasets funding_rate --start 2024-01-01 --end 2024-01-02 --force",
        "liqbrief extract --symbols BTCUSDT --datasets funding_rate --start 2024-01-04 --end 2024-01-04 --force",
        "liqbrief extract --symbols BTCUSDT --datasets funding_rate --start 2024-01-06 --end 2024-01-06 --force",
    ]
    assert {f.path for f in report.findings} >= {str(path[DAYS[0]]), str(path[DAYS[3]])}


def test_old_ledger_records_without_a_data_hash_are_checked_for_rows_and_schema(
    lake: Lake,
) -> None:
    filled(lake)
    for day in DAYS[:2]:  # records as written before the data hash existed
        ledger = Path(lake.ledger_path(FUNDING, "BTCUSDT", day))
        record = json.loads(ledger.read_text())
        del record["data_sha256"], record["config_fingerprint"]
        ledger.write_text(json.dumps(record | ({"rows": 3} if day == DAYS[1] else {})))
    report = verify_lake(lake, datasets=["funding_rate"], symbols=["BTCUSDT"])
    assert report.unhashed == 1 and [f.day for f in report.findings] == [DAYS[1]]
    assert "holds 2 rows, its ledger record says 3" in report.findings[0].problem


def test_the_range_and_dataset_filters_limit_what_is_read(lake: Lake) -> None:
    filled(lake)
    Path(lake.data_path(FUNDING, "BTCUSDT", DAYS[0])).write_bytes(b"junk")
    assert verify_lake(lake, start=DAYS[1]).ok
    assert verify_lake(lake, datasets=["metrics"]).checked == 0
    assert not verify_lake(lake, end=DAYS[0]).ok


def test_a_map_file_not_named_by_its_manifest_is_listed(lake: Lake) -> None:
    from store.units import write_unit

    write_unit(lake, "liqmap", DAY, *tables(1.0))
    assert verify_lake(lake).ok
    summary = DATASETS["liqmap_summary"]
    Path(lake.manifest_path(summary, "BTCUSDT", DAY)).unlink()
    report = verify_lake(lake)
    assert {f.dataset for f in report.findings} == set(tables(1.0)[0])
    assert report.repair_commands() == [
        "liqbrief liqmap --symbols BTCUSDT --start 2024-03-01 --end 2024-03-01"
    ]


def test_the_command_lists_what_to_refetch_and_exits_1(lake: Lake, monkeypatch) -> None:
    from typer.testing import CliRunner

    from liqbrief.cli import app

    filled(lake)
    monkeypatch.setenv("LIQBRIEF_LAKE", lake.root)
    clean = CliRunner().invoke(app, ["lake", "verify"])
    assert (
        clean.exit_code == 0 and f"6 partition(s) checked under {lake.root}, 0 bad" in clean.output
    )
    bad = Path(lake.data_path(FUNDING, "BTCUSDT", DAYS[2]))
    bad.write_bytes(b"junk")
    result = CliRunner().invoke(app, ["lake", "verify", "--symbols", "BTCUSDT"])
    assert result.exit_code == 1
    assert (
        f"BAD {bad}" in result.output
        and "--start 2024-01-03 --end 2024-01-03 --force" in result.output
    )
    unknown = CliRunner().invoke(app, ["lake", "verify", "--datasets", "klines_7m"])
    assert unknown.exit_code == 2 and "klines_5m" in unknown.output


def test_a_reversed_range_is_a_usage_error(lake: Lake, monkeypatch) -> None:
    from typer.testing import CliRunner

    from liqbrief.cli import app

    monkeypatch.setenv("LIQBRIEF_LAKE", lake.root)
    result = CliRunner().invoke(
        app, ["lake", "verify", "--start", "2024-02-01", "--end", "2024-01-01"]
    )
    assert result.exit_code == 2 and "before --start" in result.output


def test_a_stray_partition_directory_is_reported_and_the_rest_still_checked(lake: Lake) -> None:
    filled(lake)
    data_dir = Path(lake.partition_dir(FUNDING, "BTCUSDT", DAYS[0])).parent
    (data_dir / "date=garbage").mkdir()
    (data_dir / "date=2024-13-45").mkdir()
    ledger_dir = Path(lake.ledger_path(FUNDING, "BTCUSDT", DAYS[0])).parent
    (ledger_dir / "garbage.json").write_text("{}")  # a stray ledger name is no record
    report = verify_lake(lake)
    assert report.checked == 6 and not report.findings and not report.ok
    assert report.stray == [str(data_dir / "date=2024-13-45"), str(data_dir / "date=garbage")]
    lines: list[str] = []
    print_report(report, lines.append)
    assert f"BAD {data_dir / 'date=garbage'}: not a date partition" in lines[1]
    assert lines[-1].endswith("0 bad, 2 not a date partition")


def test_a_damaged_realised_day_names_the_archive_refetch_and_what_a_stream_day_needs(
    lake: Lake,
) -> None:
    import pandas as pd

    from store.datasets import realised_dataset
    from store.realised import liquidation_id, merge_realised

    time = pd.Timestamp("2024-01-02 03:04:05", tz="UTC")
    row = {"time": time, "received_at": pd.NaT, "side": "long", "price": 42_000.0,
           "quantity": 0.5, "notional_usd": 21_000.0, "source": "archive",
           "liq_id": liquidation_id("binance", ["BTCUSDT", time, "SELL"]), "raw": "x"}  # fmt: skip
    merge_realised(lake, "binance", "BTCUSDT", pd.DataFrame([row]), "test")
    assert verify_lake(lake).ok
    day = date(2024, 1, 2)
    Path(lake.data_path(realised_dataset("binance"), "BTCUSDT", day)).write_bytes(b"junk")
    [command] = verify_lake(lake).repair_commands()
    assert command == (
        "liqbrief extract --symbols BTCUSDT --datasets liquidation_snapshot "
        "--start 2024-01-02 --end 2024-01-02 --force"
    )


@pytest.mark.parametrize(
    ("venue", "day", "repair"),
    [
        ("binance", date(2024, 1, 2), "re-make it with `liqbrief extract --symbols BTCUSDT "
         "--datasets liquidation_snapshot --start 2024-01-02 --end 2024-01-02 --force`"),
        ("binance", date(2026, 1, 2), "a recorded stream day cannot be re-made: move it aside"),
        ("bybit", date(2024, 1, 2), "a recorded stream day cannot be re-made: move it aside"),
    ],
)  # fmt: skip
def test_a_corrupt_realised_day_says_in_one_readable_line_what_to_do(
    lake: Lake, venue: str, day: date, repair: str
) -> None:
    import pandas as pd

    from store.datasets import realised_dataset
    from store.errors import CorruptPartitionError
    from store.realised import merge_realised, read_realised

    time = pd.Timestamp(day, tz="UTC")
    row = {"time": time, "received_at": pd.NaT, "side": "long", "price": 1.0, "quantity": 1.0,
           "notional_usd": 1.0, "source": "stream", "liq_id": "a", "raw": "x"}  # fmt: skip
    merge_realised(lake, venue, "BTCUSDT", pd.DataFrame([row]), "test")
    path = lake.data_path(realised_dataset(venue), "BTCUSDT", day)
    Path(path).write_bytes(b"junk")
    with pytest.raises(CorruptPartitionError) as error:
        read_realised(lake, venue, "BTCUSDT", day, day)
    message = str(error.value)
    assert repair in message and path in message
    quoted = message.split("`")[1::2]  # what the backticks hold: commands only
    assert all(q.startswith(("liqbrief ", "mv ")) for q in quoted), quoted
    if "mv " in message:
        assert f"`mv {path} {path}.bad`" in message
        commands = verify_lake(lake).repair_commands()
        assert commands and commands[-1].startswith("mv FILE FILE.bad")


def test_a_corrupt_message_count_day_is_found_and_says_move_it_aside(lake: Lake) -> None:
    """The recorder's per-segment frame counts (symbol=ALL) are verified like every dataset;
    no command re-makes them, so the line says to move the file aside."""
    import pandas as pd

    from store.datasets import MESSAGES_PARTITION, messages_dataset
    from store.recorder_messages import merge_messages

    hour = pd.Timestamp("2026-01-02 10:00", tz="UTC")
    merge_messages(lake, "bybit", pd.DataFrame([{
        "segment": "1-2", "hour": hour, "frames": 3, "data": 2, "control": 1, "malformed": 0,
        "first_received": hour, "last_received": hour + pd.Timedelta("1min")}]))  # fmt: skip
    assert verify_lake(lake).ok and verify_lake(lake).checked == 1
    path = lake.data_path(messages_dataset("bybit"), MESSAGES_PARTITION, date(2026, 1, 2))
    Path(path).write_bytes(b"junk")
    report = verify_lake(lake)
    assert [f.dataset for f in report.findings] == ["bybit/recorder_messages"]
    assert report.repair_commands()[-1].startswith("mv FILE FILE.bad")
