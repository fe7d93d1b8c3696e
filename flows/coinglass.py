"""Coinglass → lake for the coins of the briefing's symbols: optional (nothing without
COINGLASS_API_KEY) and incremental. A series the plan lacks, a refused key or a failure is
reported per series (and in the lake's fetch_status), never raised: the briefing goes on
with Binance's data. A refused key, an unreachable server or one that kept failing (5xx or
429 through every retry) stops the run's other Coinglass requests (each would fail the same
way)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from prefect import task

from liqbrief.settings import Settings
from liqbrief.symbols import coin_of
from sources.coinglass import CoinglassClient, CoinglassKeyError, PlanUnavailable
from sources.coinglass_ingest import FetchStatus, fetch_bars, fetch_snapshot, write_fetch_status
from sources.coinglass_series import BarSeries, Snapshot, bar_series, snapshots
from sources.errors import SourceError
from sources.retry_policy import RetryPolicy
from store.errors import CorruptPartitionError
from store.lake import Lake

NO_KEY = {"coinglass": "skipped: COINGLASS_API_KEY is not set"}
HTTP_TIMEOUT_S = 30.0


def fetch_coinglass(
    lake: Lake, settings: Settings, coins: list[str], now: datetime | None = None,
    retry: RetryPolicy | None = None,
) -> dict[str, str]:  # fmt: skip
    """Every series of each coin (e.g. "BTC"), incrementally; returns "<coin>/<series>" →
    "<outcome>: <message>" (outcome ok | unavailable | failed | bad-key)."""
    if not settings.coinglass_api_key:
        return dict(NO_KEY)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    retry = retry or RetryPolicy(attempts=settings.http_attempts)
    outcomes: dict[str, str] = {}
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
        client = CoinglassClient(http, settings.coinglass_url, settings.coinglass_api_key, retry)
        stop: FetchStatus | None = None
        for coin in dict.fromkeys(coins):
            statuses = []
            for series in [*bar_series(settings.coinglass_exchanges), *snapshots()]:
                status = _skipped(series, stop) if stop else _fetch(
                    client, lake, series, coin, now, settings)  # fmt: skip
                if status.outcome == "bad-key" or client.unreachable or client.kept_failing:
                    stop = stop or status  # every further request would fail the same way
                statuses.append(status)
                outcomes[f"{coin}/{series.name}"] = status.line()
            write_fetch_status(lake, coin, now, statuses)
    return outcomes


def _fetch(
    client: CoinglassClient, lake: Lake, series: BarSeries | Snapshot, coin: str, now: datetime,
    settings: Settings,
) -> FetchStatus:  # fmt: skip
    try:
        if isinstance(series, BarSeries):
            return fetch_bars(client, lake, series, coin, now, settings.coinglass_history_start)
        return fetch_snapshot(client, lake, series, coin, now)
    except PlanUnavailable as exc:
        return FetchStatus(series.name, "unavailable", str(exc))
    except CoinglassKeyError as exc:
        return FetchStatus(series.name, "bad-key", str(exc))
    except (SourceError, CorruptPartitionError) as exc:
        prefix = "unreachable: " if client.unreachable else ""
        return FetchStatus(series.name, "failed", f"{prefix}{exc}")


def _skipped(series: BarSeries | Snapshot, stop: FetchStatus) -> FetchStatus:
    if stop.outcome == "bad-key":
        return FetchStatus(series.name, "bad-key", "skipped: Coinglass refused COINGLASS_API_KEY")
    if stop.message.startswith("unreachable: "):
        return FetchStatus(series.name, "failed", "skipped: Coinglass unreachable")
    return FetchStatus(series.name, "failed", "skipped: Coinglass kept failing")


@task(task_run_name="extract-coinglass")
def extract_coinglass(symbols: list[str]) -> dict[str, str]:
    """Coinglass series for the coins of ``symbols`` (BTCUSDT → BTC) into the lake; see
    ``fetch_coinglass``. Never raises for a refused key, a plan or a failure."""
    settings = Settings.from_env()
    if not settings.coinglass_api_key:
        return dict(NO_KEY)
    coins = [coin_of(symbol) for symbol in symbols]
    return fetch_coinglass(Lake(settings.lake), settings, coins)


def coinglass_problem_lines(outcomes: dict[str, str]) -> list[str]:
    """One line per Coinglass problem: a series that failed, was refused or is not in the
    plan, each followed by how many series it stopped (``"<outcome>: skipped: …"``), not one
    line per skipped series repeating it. Fetched series and "no key" say nothing."""
    lines: list[str] = []
    skipped = 0
    for series, outcome in outcomes.items():
        if outcome.startswith(("ok", "skipped")):
            continue
        if outcome.partition(": ")[2].startswith("skipped"):
            skipped += 1
            continue
        lines.append(f"Coinglass {series}: {outcome}")
    if skipped:
        tail = f"{skipped} other series skipped"
        lines = [*lines[:-1], f"{lines[-1]}; {tail}"] if lines else [f"Coinglass: {tail}"]
    return lines
