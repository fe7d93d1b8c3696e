"""Errors of the lake, each naming the file and the command that repairs it."""

from __future__ import annotations

from datetime import date

ARCHIVE_DATASETS = ("klines_1m", "klines_5m", "mark_klines_1m", "metrics", "funding_rate")
MAP_DATASETS = ("liqmap_bins", "liqmap_summary", "liqmap_heatmap")
STREAM_DATASETS = ("realised_liquidations", "recorder_coverage")
SNAPSHOT_LAST_DAY = date(2024, 3, 31)  # the archive's last liquidationSnapshot file


class LakeError(RuntimeError):
    """Something stored in the lake cannot be trusted; the message says what to run."""


class CorruptPartitionError(LakeError):
    """A stored partition is unreadable, has another schema, or does not match its record."""


def repair_command(dataset: str, symbol: str, start: date, end: date) -> str | None:
    """The command that rewrites ``dataset`` (its DATASETS key, e.g. "binance/
    realised_liquidations") for ``symbol`` over [start, end] from its source; None for
    recorded stream days, which no command can re-make (see ``corrupt_partition``)."""
    if dataset in ARCHIVE_DATASETS:
        return (
            f"liqbrief extract --symbols {symbol} --datasets {dataset} "
            f"--start {start} --end {end} --force"
        )
    if dataset in MAP_DATASETS:
        return f"liqbrief liqmap --symbols {symbol} --start {start} --end {end}"
    venue, _, name = dataset.rpartition("/")
    if venue in ("bybit", "okx") and name in ARCHIVE_DATASETS:  # the venues' REST market data
        return (
            f"liqbrief extract --venues {venue} --symbols {symbol} --datasets {name} "
            f"--start {start} --end {end} --force"
        )
    if venue.startswith("intraday/"):  # an hour's map: "intraday/1400/liqmap_bins"
        hour = venue.removeprefix("intraday/")
        return f"liqbrief daily --symbols {symbol} --at {start}T{hour[:2]}:{hour[2:]}"
    if name in MAP_DATASETS:  # "bybit/liqmap_bins", "all/liqmap_summary", …
        return f"liqbrief liqmap --venue {venue} --symbols {symbol} --start {start} --end {end}"
    if name == "recorder_messages":  # counts of frames received: only the recorder makes them
        return None
    if name in STREAM_DATASETS:
        if venue != "binance" or end > SNAPSHOT_LAST_DAY:
            return None
        return (
            f"liqbrief extract --symbols {symbol} --datasets liquidation_snapshot "
            f"--start {start} --end {end} --force"
        )
    if name in ("validation", "validation_summary"):
        return f"liqbrief validate --symbols {symbol} --start {start} --end {end}"
    if dataset == "fred_observations":
        return f"liqbrief context --date {start.year + 1}-01-01  (re-fetches FRED {symbol})"
    scope = "" if dataset in ("macro_context", "macro_events") else f" --symbols {symbol}"
    if start == end:
        return f"liqbrief context --date {start}{scope}"
    return f"liqbrief backfill --start {start} --end {end}{scope} --force"


def corrupt_partition(path: str, problem: str, dataset: str, symbol: str, day: date) -> str:
    """One line: which file, what is wrong with it, and what to run."""
    command = repair_command(dataset, symbol, day, day)
    if command is not None:
        repair = f"re-make it with `{command}`"
    else:  # the spool's segments not yet compacted start the day afresh
        repair = (
            f"a recorded stream day cannot be re-made: move it aside with `mv {path} "
            f"{path}.bad` and the next compaction rebuilds the day from the segments still in "
            "the spool"
        )
    return (
        f"lake file {path} {problem}; {repair} "
        "(or run `liqbrief lake verify` to list every bad partition)"
    )
