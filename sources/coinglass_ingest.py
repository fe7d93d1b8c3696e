"""Coinglass → lake, incrementally: a bar history is fetched from its last stored closed bar
on (nothing at all when that bar is the latest closed one), merged into monthly partitions on
``time``; a snapshot replaces its fetch date's partition. Each write is atomic with a ledger
record; the in-progress last bar is never stored, so it is fetched again once closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow as pa

from sources.coinglass import CoinglassClient, CoinglassFormatError, Request
from sources.coinglass_series import BarSeries, Snapshot
from store.datasets import DATASETS
from store.errors import CorruptPartitionError
from store.lake import Lake
from store.ledger import LedgerEntry

MAX_BARS = 1000  # bars per request (Coinglass's maximum)
COLD_4H_DAYS = 720  # the deepest 4h history any plan has (Professional)


@dataclass(frozen=True)
class FetchStatus:
    """What one series' fetch got: a fetch_status row."""

    series: str
    outcome: str  # ok | unavailable | failed | bad-key
    message: str
    rows: int = 0
    first_time: pd.Timestamp | None = None  # first bar received (a plan truncates silently)
    last_time: pd.Timestamp | None = None  # last closed bar stored

    def line(self) -> str:
        return f"{self.outcome}: {self.message}"


def ms_time(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _entry(ds_name: str, coin: str, day: date, source: str, rows: int, missing: int) -> LedgerEntry:
    ds = DATASETS[ds_name]
    return LedgerEntry(
        venue=ds.venue, dataset=ds.name, symbol=coin, date=day.isoformat(), source_url=source,
        source_sha256="", rows=rows, duplicates_dropped=0, missing_rows=missing,
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip


def _write(lake: Lake, ds_name: str, coin: str, day: date, frame: pd.DataFrame, source: str,
           missing: int = 0) -> None:  # fmt: skip
    ds = DATASETS[ds_name]
    table = pa.Table.from_pandas(frame[ds.schema.names], schema=ds.schema, preserve_index=False)
    lake.write_day(ds, day, table, _entry(ds_name, coin, day, source, table.num_rows, missing))


# -- bar histories -------------------------------------------------------------------------
def last_stored_ms(lake: Lake, dataset: str, coin: str) -> int | None:
    """Open time of the newest stored bar (from the newest monthly partition), or None."""
    ds = DATASETS[dataset]
    months = lake.stored_days(ds, coin)
    if not months:
        return None
    times = lake.read_table(ds, coin, months[-1], months[-1], columns=["time"])["time"]
    return None if len(times) == 0 else times[-1].value // 1000  # µs → ms


def latest_closed_ms(now: datetime, interval_ms: int) -> int:
    """Open time of the newest bar closed by ``now`` (bars are aligned to UTC)."""
    return (_ms(now) // interval_ms) * interval_ms - interval_ms


def cold_start_ms(series: BarSeries, now: datetime, history_start: date) -> int:
    """Where a series with nothing stored starts: daily from ``history_start``; 4-hourly
    from 720 days back, the deepest any plan keeps."""
    if series.interval == "1d":
        return _ms(datetime.combine(history_start, datetime.min.time(), UTC))
    start = _ms(now - timedelta(days=COLD_4H_DAYS))
    return (start // series.interval_ms) * series.interval_ms


def fetch_bars(
    client: CoinglassClient, lake: Lake, series: BarSeries, coin: str, now: datetime,
    history_start: date,
) -> FetchStatus:  # fmt: skip
    """Fetch what the lake lacks of one bar history and merge it in; raises a
    CoinglassError (nothing written) when Coinglass does not give it. The last stored bar
    is asked again with the new ones (no extra request): a value Coinglass revised after
    the bar closed replaces the one stored at its close. Liquidations stored for another
    exchange list are refetched whole and replaced: one series never mixes two lists."""
    step, newest = series.interval_ms, latest_closed_ms(now, series.interval_ms)
    relisted = _exchange_list_changed(lake, series, coin)
    stored = None if relisted else last_stored_ms(lake, series.dataset, coin)
    if stored is not None and stored >= newest:
        return FetchStatus(series.name, "ok", "up to date", last_time=ms_time(stored))
    start = stored if stored is not None else cold_start_ms(series, now, history_start)
    received = _pages(client, series, coin, start, newest)
    if received.empty:
        raise CoinglassFormatError(
            f"{series.name} {coin}: Coinglass answered no bars from {ms_time(start):%Y-%m-%d %H:%M} "
            "on; stored rows kept — re-run later"
        )
    # the in-progress bar is never stored: closed by our clock AND by Coinglass's own (its
    # answer's Date), so a clock of ours running ahead cannot make a live bar look final
    cutoff = min(_ms(now), _ms(client.server_time or now))
    closed = received[received["time"] + step <= cutoff]
    _merge_months(lake, series, coin, closed, client.base_url, replace=relisted)
    new = int((closed["time"] > (stored if stored is not None else -1)).sum())
    first = int(received["time"].iloc[0])
    last = int(closed["time"].iloc[-1]) if len(closed) else stored
    message = ("exchange list changed: refetched; " if relisted else "") + f"{new} bars"
    message += _gap_note(first, start, step, stored is None)
    return FetchStatus(series.name, "ok", message, new, ms_time(first),
                       None if last is None else ms_time(last))  # fmt: skip


def _exchange_list_changed(lake: Lake, series: BarSeries, coin: str) -> bool:
    """Whether stored rows of a liquidation series were summed over other exchanges than
    the configured ones (LIQBRIEF_COINGLASS_EXCHANGES changed since)."""
    if series.exchange_list is None:
        return False
    ds = DATASETS[series.dataset]
    months = lake.stored_days(ds, coin)
    if not months:
        return False
    lists = lake.read_table(ds, coin, months[0], months[-1], columns=["exchange_list"])
    return bool(set(lists["exchange_list"].to_pylist()) - {series.exchange_list})


def _gap_note(first: int, start: int, step: int, cold: bool) -> str:
    """Coinglass cuts a history at the plan's depth without saying so: say where it began."""
    if first <= start + step:
        return ""
    why = "Coinglass's history or the plan's depth" if cold else "a gap since the last stored bar"
    return f"; history starts {ms_time(first):%Y-%m-%d %H:%M} (asked from {ms_time(start):%Y-%m-%d %H:%M}: {why})"


def _pages(client: CoinglassClient, series: BarSeries, coin: str, start: int, newest: int
           ) -> pd.DataFrame:  # fmt: skip
    """Every bar from ``start`` to after ``newest``, in windows of at most 1000 bars,
    de-duplicated on time (a later answer wins), ascending."""
    step, frames = series.interval_ms, []
    for window in range(start, newest + step, MAX_BARS * step):
        end = min(window + MAX_BARS * step, newest + 2 * step) - 1  # + the in-progress bar
        params = series.params(coin) | {
            "start_time": str(window),
            "end_time": str(end),
            "limit": str(MAX_BARS),
        }
        what = f"{series.name} {coin}"
        frames.append(series.parse(client.data(Request(series.path, params, what)), what))
    fetched = pd.concat(frames, ignore_index=True)
    fetched = fetched.drop_duplicates("time", keep="last").sort_values("time", ignore_index=True)
    return fetched[fetched["time"] >= start].reset_index(drop=True)


def _merge_months(lake: Lake, series: BarSeries, coin: str, closed: pd.DataFrame,
                  base_url: str, replace: bool = False) -> None:  # fmt: skip
    """Each month the answer touches: stored rows plus the answer's, a re-fetched time
    replacing the stored one; written in time order, so a crash leaves a prefix. With
    ``replace`` the answer alone is kept: stored months are overwritten, and those it does
    not touch are removed afterwards (a crash in between is found and refetched again)."""
    ds = DATASETS[series.dataset]
    rows = closed.assign(time=pd.to_datetime(closed["time"], unit="ms", utc=True))
    if series.exchange_list is not None:
        rows["exchange_list"] = series.exchange_list
    source = Request(series.path, series.params(coin), "").url(base_url)
    months = rows["time"].dt.tz_localize(None).dt.to_period("M")
    for month in sorted(months.unique()):
        first_day = month.start_time.date()
        fresh = rows[months == month][ds.schema.names]
        stored = fresh.iloc[:0] if replace else lake.read(ds, coin, first_day, first_day)
        merged = pd.concat([stored, fresh], ignore_index=True) if len(stored) else fresh
        merged = merged.drop_duplicates("time", keep="last").sort_values("time", ignore_index=True)
        _write(lake, series.dataset, coin, first_day, merged, source, _missing(merged, series))
    if replace:
        written = {month.start_time.date() for month in months.unique()}
        for day in set(lake.stored_days(ds, coin)) - written:
            lake.delete_day(ds, coin, day)


def _missing(frame: pd.DataFrame, series: BarSeries) -> int:
    span = (frame["time"].iloc[-1] - frame["time"].iloc[0]) / pd.Timedelta(
        milliseconds=series.interval_ms
    )
    return int(span) + 1 - len(frame)


# -- snapshots ---------------------------------------------------------------------------------
def fetch_snapshot(client: CoinglassClient, lake: Lake, snapshot: Snapshot, coin: str,
                   now: datetime) -> FetchStatus:  # fmt: skip
    """Fetch a snapshot and replace its part of the fetch date's partition."""
    what = f"{snapshot.name} {coin}"
    request = Request(snapshot.path, snapshot.params(coin), what)
    frame = snapshot.parse(client.data(request), what)
    if frame.empty:
        raise CoinglassFormatError(f"{what}: Coinglass answered no rows; stored snapshots kept")
    fetched_at = pd.Timestamp(now).tz_convert("UTC")
    frame = frame.assign(fetched_at=fetched_at)
    if snapshot.range is not None:
        frame["range"] = snapshot.range
    day = fetched_at.date()
    if snapshot.scope is not None:
        frame["scope"] = snapshot.scope
        stored = lake.read(DATASETS[snapshot.dataset], coin, day, day)
        frame = pd.concat([stored[stored["scope"] != snapshot.scope], frame], ignore_index=True)
    _write(lake, snapshot.dataset, coin, day, frame, request.url(client.base_url))
    return FetchStatus(snapshot.name, "ok", f"{len(frame)} rows", len(frame))


# -- fetch status ------------------------------------------------------------------------------
def write_fetch_status(lake: Lake, coin: str, now: datetime, statuses: list[FetchStatus]) -> None:
    """This run's statuses into the fetch date's partition, replacing earlier rows of the
    same series that day (the partition says what the day's latest fetch of each got)."""
    ds = DATASETS["fetch_status"]
    fetched_at = pd.Timestamp(now).tz_convert("UTC")
    day = fetched_at.date()
    rows = pd.DataFrame(
        {
            "fetched_at": [fetched_at] * len(statuses),
            "series": [s.series for s in statuses],
            "outcome": [s.outcome for s in statuses],
            "message": [s.message for s in statuses],
            "rows": [s.rows for s in statuses],
            "first_time": pd.to_datetime([s.first_time for s in statuses], utc=True),
            "last_time": pd.to_datetime([s.last_time for s in statuses], utc=True),
        }
    )
    try:
        stored = lake.read(ds, coin, day, day)
    except CorruptPartitionError:
        stored = rows.iloc[:0]  # a damaged status file is only replaced: it is no data
    kept = stored[~stored["series"].isin(rows["series"])]
    merged = pd.concat([kept, rows], ignore_index=True) if len(kept) else rows
    _write(lake, "fetch_status", coin, day, merged, "liqbrief:coinglass-fetch")
