"""Archive files in the real format (CSV inside a zip, with a .CHECKSUM), made from a seed.

No public copy of Binance USDⓈ-M archive files exists to test with, so these
follow ``shared/design/sources.md`` column for column: klines and mark-price
klines with a header row and millisecond epochs, metrics with
"YYYY-MM-DD HH:MM:SS" times, monthly fundingRate files. Options produce the
variants real files show: no header row, microsecond epochs, duplicated and
missing metrics rows.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from sources.binance_archive.layout import ARCHIVE_DATASETS, ArchiveFile
from sources.binance_archive.parse import (
    FUNDING_COLUMNS,
    KLINE_COLUMNS,
    LIQUIDATION_SNAPSHOT_COLUMNS,
    METRICS_COLUMNS,
)
from store.lake import days_between

BAR_SECONDS = {"1m": 60, "5m": 300}


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def _epoch_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _fmt(values: np.ndarray, decimals: int) -> list[str]:
    return [f"{v:.{decimals}f}" for v in values]


def _csv(header: list[str] | None, columns: list[list[str]]) -> bytes:
    lines = [",".join(header)] if header else []
    lines.extend(",".join(row) for row in zip(*columns, strict=True))
    return ("\n".join(lines) + "\n").encode()


EPOCH = date(2020, 1, 1)
_BASE_PRICE = {"BTCUSDT": 70_000.0, "ETHUSDT": 2_500.0}
_BASE_CONTRACTS = {"BTCUSDT": 80_000, "ETHUSDT": 2_000_000}  # about $5.6B and $5B of open interest


@lru_cache(maxsize=16)
def _day_levels(symbol: str, days: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Day-start price and open-interest (contracts) levels from EPOCH: mean-reverting daily
    walks (AR(1) in logs), so levels stay in a realistic range over the years."""
    rng = np.random.default_rng(_seed(symbol, "levels"))

    def ar1(sigma: float, keep: float = 0.99) -> np.ndarray:
        shocks, out, x = rng.normal(0, sigma, days), np.empty(days), 0.0
        for i, shock in enumerate(shocks):
            x = keep * x + shock
            out[i] = x
        return out

    price = _BASE_PRICE.get(symbol, 100.0) * np.exp(ar1(0.025))
    contracts = _BASE_CONTRACTS.get(symbol, 1_000_000) * np.exp(ar1(0.015))
    return price, contracts


def _bridge(
    symbol: str, day: date, tag: str, n: int, start: float, end: float, vol: float
) -> np.ndarray:
    """n points of a geometric Brownian bridge from start (excluded) to end (the last point)."""
    rng = np.random.default_rng(_seed(symbol, day, tag))
    walk = np.cumsum(rng.normal(0, vol, n))
    frac = np.arange(1, n + 1) / n
    return start * np.exp(walk - frac * walk[-1] + frac * np.log(end / start))


def minute_path(symbol: str, day: date) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One day of 1-minute (open, high, low, close), continuous across days."""
    prices, _ = _day_levels(symbol)
    i = (day - EPOCH).days
    closes = _bridge(symbol, day, "price", 1440, prices[i], prices[i + 1], 0.0007)
    opens = np.concatenate([[prices[i]], closes[:-1]])
    wiggle = (
        np.abs(np.random.default_rng(_seed(symbol, day, "wiggle")).normal(0, 0.0004, 1440)) * closes
    )
    return opens, np.maximum(opens, closes) + wiggle, np.minimum(opens, closes) - wiggle, closes


def kline_csv(
    symbol: str,
    day: date,
    interval: str,
    *,
    mark: bool = False,
    header: bool = True,
    microseconds: bool = False,
) -> bytes:
    """One day of (mark-price) klines in the archive's 12-column layout, from the minute path."""
    opens, highs, lows, closes = minute_path(symbol, day)
    if mark:  # the mark price tracks the last price within a few basis points
        noise = 1 + np.random.default_rng(_seed(symbol, day, "mark")).normal(0, 1e-4, 1440)
        opens, highs, lows, closes = opens * noise, highs * noise, lows * noise, closes * noise
    per = BAR_SECONDS[interval] // 60
    n = 1440 // per
    if per > 1:
        shaped = lambda a: a.reshape(n, per)  # noqa: E731
        opens, highs, lows, closes = (
            shaped(opens)[:, 0], shaped(highs).max(1), shaped(lows).min(1), shaped(closes)[:, -1],
        )  # fmt: skip
    rng = np.random.default_rng(_seed(symbol, day, interval, mark))
    bar = BAR_SECONDS[interval]
    scale = 1000 if microseconds else 1
    open_ms = _epoch_ms(day) + np.arange(n, dtype=np.int64) * bar * 1000
    open_t = open_ms * scale
    close_t = (open_ms + bar * 1000) * scale - 1
    if mark:
        volume = quote = taker = taker_quote = np.zeros(n)
        count = np.zeros(n, dtype=np.int64)
    else:
        volume = rng.gamma(2.0, 40.0 * bar / 300, n)
        vwap = (opens + highs + lows + closes) / 4
        quote = volume * vwap
        share = np.clip(rng.normal(0.5, 0.07, n), 0.05, 0.95)
        taker, taker_quote = volume * share, quote * share
        count = rng.integers(500, 20_000, n)
    columns = [
        [str(v) for v in open_t], _fmt(opens, 2), _fmt(highs, 2), _fmt(lows, 2), _fmt(closes, 2),
        _fmt(volume, 3), [str(v) for v in close_t], _fmt(quote, 5), [str(v) for v in count],
        _fmt(taker, 3), _fmt(taker_quote, 5), ["0"] * n,
    ]  # fmt: skip
    return _csv(KLINE_COLUMNS if header else None, columns)


def metrics_csv(
    symbol: str,
    day: date,
    *,
    duplicate_rows: tuple[int, ...] = (),
    missing_rows: tuple[int, ...] = (),
    shuffle: bool = False,
) -> bytes:
    """One day of 5-minute metrics rows; rows can be duplicated, dropped or shuffled."""
    rng = np.random.default_rng(_seed(symbol, day, "metrics"))
    n = 288
    base = datetime(day.year, day.month, day.day)
    times = [(base + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]
    _, levels = _day_levels(symbol)
    i = (day - EPOCH).days
    # contracts at 00:00, 00:05, ... : the bridge ends at the next day's 00:00 level
    bridge = _bridge(symbol, day, "oi", n, levels[i], levels[i + 1], 0.0006)
    contracts = np.concatenate([[levels[i]], bridge[:-1]])
    _, _, _, closes = minute_path(symbol, day)
    price_at_reading = np.concatenate([[closes[0]], closes[4::5][:-1]])
    value = contracts * price_at_reading
    ratios = [rng.uniform(0.6, 2.5, n) for _ in range(4)]
    rows = [i for i in range(n) if i not in missing_rows]
    rows += list(duplicate_rows)
    if shuffle:
        rng.shuffle(rows)
    columns = [
        [times[i] for i in rows], [symbol] * len(rows),
        _fmt(contracts[rows], 4), _fmt(value[rows], 8),
        *(_fmt(r[rows], 10) for r in ratios),
    ]  # fmt: skip
    return _csv(METRICS_COLUMNS, columns)


def funding_csv(symbol: str, month: date) -> bytes:
    """One month of 8-hourly funding rates."""
    days = days_between(
        month, (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    )
    times = [_epoch_ms(d) + h * 3_600_000 for d in days for h in (0, 8, 16)]
    rng = np.random.default_rng(_seed(symbol, month, "funding"))
    rates = rng.normal(0.0001, 0.00005, len(times))
    columns = [[str(t) for t in times], ["8"] * len(times), _fmt(rates, 8)]
    return _csv(FUNDING_COLUMNS, columns)


def liquidation_snapshot_csv(
    symbol: str, day: date, *, events: int = 40, header: bool = True, doubled: bool = False
) -> bytes:
    """One day of liquidationSnapshot rows (10 columns, epoch-ms ``time``, as the real files):
    liquidation orders near the day's minute path, SELL orders (longs liquidated) filling
    below the limit price, BUY orders above; at most one per second, like the stream they
    sample. ``doubled`` lists every row twice, as real 2023-2024 files do (binance-public-data
    #259, #337)."""
    rng = np.random.default_rng(_seed(symbol, day, "liquidations"))
    seconds = np.sort(rng.choice(86_400, size=events, replace=False))
    times = _epoch_ms(day) + seconds * 1000 + rng.integers(0, 1000, events)
    _, _, _, closes = minute_path(symbol, day)
    average = closes[seconds // 60]
    sell = rng.random(events) < 0.55
    limit = np.where(sell, average * 0.995, average * 1.005)  # the IOC limit the fill beat
    quantity = np.round(rng.gamma(1.5, 0.2, events) + 0.001, 3)
    rows = [
        [str(t), "SELL" if s else "BUY", "LIMIT", "IOC", f"{q:.3f}", f"{p:.2f}", f"{a:.2f}",
         "FILLED", f"{q:.3f}", f"{q:.3f}"]
        for t, s, q, p, a in zip(times, sell, quantity, limit, average, strict=True)
    ]  # fmt: skip
    if doubled:
        rows = [row for row in rows for _ in range(2)]
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * 10
    return _csv(LIQUIDATION_SNAPSHOT_COLUMNS if header else None, columns)


def zip_csv(csv_name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(csv_name, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, content)
    return buffer.getvalue()


def metrics_csv_to_next_midnight(symbol: str, day: date) -> bytes:
    """A day of metrics labelled as Binance's real daily files before 2026-06-25 are
    (binance/binance-public-data#491): 00:05 through the next day's 00:00 reading. The
    readings are metrics_csv()'s, so only the day each one is filed under differs."""
    header, *today = [line for line in metrics_csv(symbol, day).split(b"\n") if line]
    next_midnight = metrics_csv(symbol, day + timedelta(days=1)).split(b"\n")[1]
    return b"\n".join([header, *today[1:], next_midnight]) + b"\n"


def archive_entry(file: ArchiveFile, content: bytes) -> dict[str, bytes]:
    """The zip and its .CHECKSUM at their archive URL paths."""
    body = zip_csv(file.file_name.removesuffix(".zip") + ".csv", content)
    checksum = f"{hashlib.sha256(body).hexdigest()}  {file.file_name}\n".encode()
    path = "/" + file.path
    return {path: body, path + ".CHECKSUM": checksum}


def daily_file(dataset: str, symbol: str, day: date) -> ArchiveFile:
    return ArchiveFile(ARCHIVE_DATASETS[dataset], symbol, "daily", day.isoformat(), (day,))


def monthly_file(dataset: str, symbol: str, month: date) -> ArchiveFile:
    month = month.replace(day=1)
    last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return ArchiveFile(
        ARCHIVE_DATASETS[dataset], symbol, "monthly", month.strftime("%Y-%m"),
        tuple(days_between(month, last)),
    )  # fmt: skip


def daily_csv(dataset: str, symbol: str, day: date) -> bytes:
    """Default content of a daily file of any daily dataset."""
    if dataset == "metrics":
        return metrics_csv(symbol, day)
    if dataset == "liquidation_snapshot":
        return liquidation_snapshot_csv(symbol, day)
    ds = ARCHIVE_DATASETS[dataset]
    return kline_csv(symbol, day, ds.interval or "1m", mark=ds.archive_name == "markPriceKlines")


def build_archive(
    symbols: list[str], datasets: list[str], start: date, end: date, *, monthly: bool = True
) -> dict[str, bytes]:
    """Every daily file of [start, end] (and monthly files of the months it touches)."""
    files: dict[str, bytes] = {}
    months = sorted({d.replace(day=1) for d in days_between(start, end)})
    for symbol in symbols:
        for dataset in datasets:
            ds = ARCHIVE_DATASETS[dataset]
            if ds.has_daily:
                for day in days_between(start, end):
                    files |= archive_entry(
                        daily_file(dataset, symbol, day), daily_csv(dataset, symbol, day)
                    )
            if ds.has_monthly and (monthly or not ds.has_daily):
                for month in months:
                    file = monthly_file(dataset, symbol, month)
                    if dataset == "funding_rate":
                        content = funding_csv(symbol, month)
                    else:
                        days = [daily_csv(dataset, symbol, d) for d in file.days]
                        # one header, then every day's rows
                        content = days[0] + b"".join(d.split(b"\n", 1)[1] for d in days[1:])
                    files |= archive_entry(file, content)
    return files


def write_archive_dir(root: Path, files: dict[str, bytes]) -> None:
    """Lay files out on disk as the archive does, so ``python -m http.server`` can serve them."""
    for url_path, body in files.items():
        target = root / url_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
