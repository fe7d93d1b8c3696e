"""Bad input on the command line, run as real subprocesses: each row gets its exit code (2 for
usage, 1 for a failure), a short message with the phrase that says what is wrong, no
traceback, and leaves the lake and the reports directory byte-for-byte as they were.

The table is data: append a row for a new command or check (``BadInput(args, code, phrase,
env)``). Placeholders in ``env`` values: ``{tmp}`` is the test's scratch directory.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from liqbrief.testing.archive_mirror import ArchiveMirror
from liqbrief.testing.s3_server import S3Server
from liqbrief.testing.smtp_inbox import self_signed_certificate
from liqbrief.testing.synthetic_archive import build_archive
from sources.binance_archive.ingest import ingest
from sources.retry_policy import RetryPolicy
from store.lake import Lake
from store.realised import merge_realised
from tests.conftest import cli_env

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TODAY = datetime.now(UTC).date()
FUTURE = (TODAY + timedelta(days=800)).isoformat()
PREFECT_INFO = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| INFO +\| ")
SMTP = {"LIQBRIEF_SMTP_HOST": "127.0.0.1", "LIQBRIEF_DESK_TO": "desk@example.com"}
# the session's S3 server ({s3}), one that refuses every key ({s3_refusing}), none at all
S3 = {"AWS_ENDPOINT_URL": "{s3}", "AWS_ACCESS_KEY_ID": "testing-key",
      "AWS_SECRET_ACCESS_KEY": "testing-secret", "AWS_REGION": "us-east-1"}  # fmt: skip
S3_REFUSING = S3 | {"AWS_ENDPOINT_URL": "{s3_refusing}"}
NO_S3 = S3 | {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
S3_PRIVATE_CA = S3 | {"AWS_ENDPOINT_URL": "{s3_private_ca}"}  # https, a certificate no CA signs


@dataclass(frozen=True)
class BadInput:
    args: tuple[str, ...]
    code: int
    phrase: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        extra = ",".join(f"{k.removeprefix('LIQBRIEF_')}={v}" for k, v in self.env.items())
        return (" ".join(self.args) + (f" [{extra}]" if extra else ""))[:90]


def _symbols_rows() -> list[BadInput]:
    """Lower-case and path-like symbols on every command that takes one."""
    price = ("--side", "long", "--entry", "100", "--leverage", "10")
    commands = {
        "extract": ("--symbols", ()), "daily": ("--symbols", ()), "liqmap": ("--symbols", ()),
        "context": ("--symbols", ()), "brief": ("--symbols", ()), "send": ("--symbols", ()),
        "backfill": ("--symbols", ("--start", "2024-03-01", "--end", "2024-03-02")),
        "map": ("--symbol", ()), "liqprice": ("--symbol", price), "validate": ("--symbols", ()),
    }  # fmt: skip
    return [
        BadInput((command, *rest, flag, value), 2, phrase, SMTP if command == "send" else {})
        for command, (flag, rest) in commands.items()
        for value, phrase in (("btcusdt", "use BTCUSDT"), ("../etc", "invalid symbol '../etc'"))
    ]


# fmt: off
ROWS: list[BadInput] = [
    *_symbols_rows(),
    # symbols lists
    BadInput(("extract", "--symbols", ""), 2, "no symbol given"),
    BadInput(("liqmap", "--symbols", " , "), 2, "no symbol given"),
    BadInput(("extract", "--symbols", "BTCUSDT,eth/usdt"), 2, "invalid symbol 'eth/usdt'"),
    # date ranges
    BadInput(("extract", "--start", "2024-02-05", "--end", "2024-02-01"), 2, "is before --start"),
    BadInput(("liqmap", "--start", "2024-02-05", "--end", "2024-02-01"), 2, "is before --start"),
    BadInput(("backfill", "--start", "2024-02-05", "--end", "2024-02-01"), 2, "is before --start"),
    BadInput(("backfill", "--start", "2020-01-01", "--end", "2024-01-01"), 2, "at most 1098"),
    BadInput(("extract", "--start", "2005-01-01", "--end", "2025-01-01"), 2, "before 2019-09-01"),
    BadInput(("backfill", "--end", "2024-01-01"), 2, "Missing option '--start'"),
    # dates
    BadInput(("extract", "--end", FUTURE), 2, "is in the future"),
    BadInput(("backfill", "--start", "2024-01-01", "--end", FUTURE), 2, "is in the future"),
    BadInput(("map", "--date", FUTURE), 2, "is in the future"),
    BadInput(("brief", "--date", FUTURE), 2, "is in the future"),
    BadInput(("context", "--date", FUTURE), 2, "is in the future"),
    BadInput(("daily", "--date", FUTURE), 2, "is in the future"),
    BadInput(("send", "--date", FUTURE), 2, "is in the future", SMTP),
    BadInput(("map", "--date", "2024-13-01"), 2, "does not match the format"),
    BadInput(("brief", "--date", "06/03/2024"), 2, "does not match the format"),
    BadInput(("liqmap", "--start", "yesterday"), 2, "does not match the format"),
    # choices
    BadInput(("extract", "--datasets", "klines_1m,trades"), 2, "unknown dataset 'trades'"),
    BadInput(("extract", "--datasets", ","), 2, "unknown dataset"),
    BadInput(("liqmap", "--heatmaps", "some"), 2, "'some' is not one of 'all', 'last', 'none'"),
    BadInput(("map", "--window", "2d"), 2, "'2d' is not one of '1d', '7d', '30d'"),
    BadInput(("liqprice", "--side", "up", "--entry", "1", "--leverage", "2"), 2, "'up' is not one of"),
    BadInput(("liqprice", "--side", "long", "--entry", "100", "--leverage", "0.5"), 2, "at least 1"),
    BadInput(("liqprice", "--side", "long", "--entry", "100", "--leverage", "nan"), 2, "finite"),
    BadInput(("liqprice", "--side", "long", "--entry", "-5", "--leverage", "10"), 2, "positive"),
    BadInput(
        ("liqprice", "--side", "long", "--entry", "100", "--leverage", "10", "--notional", "inf"),
        2,
        "positive, finite",
    ),
    BadInput(("nonsense",), 2, "No such command 'nonsense'"),
    BadInput(("extract", "--frobnicate"), 2, "No such option: --frobnicate"),
    BadInput(("context", "--fetch-coinglass=no"), 2, "does not take a value"),
    BadInput(("context", "--no-fetch-coinglas"), 2, "Possible options: --fetch-coinglass, --no-fetch-coinglass"),
    BadInput(("context",), 2, "LIQBRIEF_COINGLASS_URL='ftp://x': must be an http(s) URL", {"LIQBRIEF_COINGLASS_URL": "ftp://x"}),
    BadInput(("backfill", "--start", "2024-03-01", "--end", "2024-03-02"), 2, "LIQBRIEF_COINGLASS_EXCHANGES=' , '", {"LIQBRIEF_COINGLASS_EXCHANGES": " , "}),
    BadInput(("daily",), 2, "LIQBRIEF_COINGLASS_HISTORY_START='yesterday'", {"LIQBRIEF_COINGLASS_HISTORY_START": "yesterday"}),
    # settings, read and checked before any command runs
    BadInput(("extract",), 2, "LIQBRIEF_DOWNLOAD_CONCURRENCY='0': use a whole number from 1 to 64", {"LIQBRIEF_DOWNLOAD_CONCURRENCY": "0"}),
    BadInput(("extract",), 2, "LIQBRIEF_RENDER_WORKERS='abc'", {"LIQBRIEF_RENDER_WORKERS": "abc"}),
    BadInput(("map",), 2, "LIQBRIEF_HTTP_ATTEMPTS='0'", {"LIQBRIEF_HTTP_ATTEMPTS": "0"}),
    BadInput(("brief",), 2, "LIQBRIEF_CHART_FORMAT='gif': use one of svg, png", {"LIQBRIEF_CHART_FORMAT": "gif"}),
    BadInput(("backfill", "--start", "2024-03-01", "--end", "2024-03-02"), 2, "LIQBRIEF_CHART_FORMAT='pdf'", {"LIQBRIEF_CHART_FORMAT": "pdf"}),
    BadInput(("extract",), 2, "LIQBRIEF_BINANCE_ARCHIVE_URL='ftp://mirror': must be an http(s) URL", {"LIQBRIEF_BINANCE_ARCHIVE_URL": "ftp://mirror"}),
    BadInput(("context",), 2, "LIQBRIEF_FRED_URL='api.stlouisfed.org'", {"LIQBRIEF_FRED_URL": "api.stlouisfed.org"}),
    BadInput(("send",), 2, "LIQBRIEF_SMTP_PORT", {**SMTP, "LIQBRIEF_SMTP_PORT": "abc"}),
    BadInput(("daily",), 2, "LIQBRIEF_SMTP_PORT", {**SMTP, "LIQBRIEF_SMTP_PORT": "abc"}),
    BadInput(("brief", "--send"), 2, "LIQBRIEF_SMTP_PORT", {**SMTP, "LIQBRIEF_SMTP_PORT": "abc"}),
    BadInput(("backfill", "--start", "2024-03-01", "--end", "2024-03-02", "--send"), 2, "LIQBRIEF_SMTP_PORT", {**SMTP, "LIQBRIEF_SMTP_PORT": "abc"}),
    BadInput(("send",), 2, "LIQBRIEF_SMTP_HOST is not set"),
    BadInput(("extract",), 2, "is a file, not a directory", {"LIQBRIEF_LAKE": "{tmp}/a-file"}),
    BadInput(("brief",), 2, "is a file, not a directory", {"LIQBRIEF_LAKE": "{tmp}/a-file"}),
    BadInput(("brief", "--out", "a-file"), 2, "is a file"),
    BadInput(("liqmap",), 2, "cannot be created", {"LIQBRIEF_LAKE": "{tmp}/a-file/lake"}),
    BadInput(("map", "--date", "2024-03-02"), 2, "cannot exist: ", {"LIQBRIEF_LAKE": "{tmp}/a-file/lake"}),
    BadInput(("brief", "--date", "2024-03-02"), 2, "a-file is a file; point LIQBRIEF_LAKE at a directory", {"LIQBRIEF_LAKE": "{tmp}/a-file/lake"}),
    BadInput(("lake", "verify"), 1, "no lake at LIQBRIEF_LAKE=", {"LIQBRIEF_LAKE": "{tmp}/no-such-lake"}),
    BadInput(("context",), 2, "cannot be created", {"LIQBRIEF_LAKE": "/proc/liqbrief-lake"}),
    # the reports directory of commands that write briefings, checked before any work
    BadInput(("daily",), 2, "LIQBRIEF_REPORTS_DIR='/proc/liqbrief-reports': cannot be created", {"LIQBRIEF_REPORTS_DIR": "/proc/liqbrief-reports"}),
    BadInput(("daily",), 2, "is a file, not a directory; point LIQBRIEF_REPORTS_DIR", {"LIQBRIEF_REPORTS_DIR": "{tmp}/a-file"}),
    BadInput(("brief",), 2, "LIQBRIEF_REPORTS_DIR='/proc/liqbrief-reports': cannot be created", {"LIQBRIEF_REPORTS_DIR": "/proc/liqbrief-reports"}),
    BadInput(("brief", "--out", "/proc/liqbrief-out"), 2, "--out='/proc/liqbrief-out': cannot be created"),
    BadInput(("send",), 2, "point LIQBRIEF_REPORTS_DIR at a directory", {**SMTP, "LIQBRIEF_REPORTS_DIR": "{tmp}/a-file"}),
    BadInput(("backfill", "--start", "2024-03-01", "--end", "2024-03-02"), 2, "cannot be created: ", {"LIQBRIEF_REPORTS_DIR": "{tmp}/a-file/briefings"}),
    # object storage: the URI's form checked with the settings (2); the bucket and the
    # credentials checked once before any work (1), one line naming the setting
    BadInput(("map",), 2, "LIQBRIEF_LAKE='s3:///lake': names no bucket; use s3://bucket/prefix", {"LIQBRIEF_LAKE": "s3:///lake"}),
    BadInput(("daily",), 2, "LIQBRIEF_REPORTS_DIR='gs://b/out': use a local directory or an s3://bucket/prefix URI", {"LIQBRIEF_REPORTS_DIR": "gs://b/out"}),
    BadInput(("brief",), 2, "LIQBRIEF_REPORTS_DIR='s3://': names no bucket", {"LIQBRIEF_REPORTS_DIR": "s3://"}),
    BadInput(("extract",), 1, "LIQBRIEF_LAKE='s3://no-such-bucket/lake': bucket 'no-such-bucket' does not exist", {"LIQBRIEF_LAKE": "s3://no-such-bucket/lake", **S3}),
    BadInput(("lake", "verify"), 1, "bucket 'no-such-bucket' does not exist", {"LIQBRIEF_LAKE": "s3://no-such-bucket/lake", **S3}),
    BadInput(("brief",), 1, "LIQBRIEF_REPORTS_DIR='s3://no-such-bucket/out': bucket 'no-such-bucket' does not exist", {"LIQBRIEF_REPORTS_DIR": "s3://no-such-bucket/out", **S3}),
    BadInput(("brief", "--out", "s3:///briefings"), 2, "--out='s3:///briefings': names no bucket"),
    BadInput(("brief", "--out", "s3://no-such-bucket/x"), 1, "--out='s3://no-such-bucket/x': bucket 'no-such-bucket' does not exist", S3),
    BadInput(("send",), 1, "bucket 'no-such-bucket' does not exist", {"LIQBRIEF_REPORTS_DIR": "s3://no-such-bucket/out", **SMTP, **S3}),
    BadInput(("backfill", "--start", "2024-03-01", "--end", "2024-03-02"), 1, "refused the credentials", {"LIQBRIEF_LAKE": "s3://lake/lake", **S3_REFUSING}),
    BadInput(("daily",), 1, "refused the credentials", {"LIQBRIEF_REPORTS_DIR": "s3://lake/out", **S3_REFUSING}),
    BadInput(("context",), 1, "LIQBRIEF_LAKE='s3://lake/lake': cannot reach the store at http://127.0.0.1:9", {"LIQBRIEF_LAKE": "s3://lake/lake", **NO_S3}),
    BadInput(("lake", "verify"), 1, "shows a TLS certificate no trusted CA signs; set AWS_CA_BUNDLE", {"LIQBRIEF_LAKE": "s3://lake/lake", **S3_PRIVATE_CA}),
    BadInput(("map",), 2, "no-ca.pem' is not a readable file; point it at the PEM file of the CA", {"LIQBRIEF_LAKE": "s3://lake/lake", "AWS_CA_BUNDLE": "{tmp}/no-ca.pem", **S3}),
    # the Dask scheduler: a malformed address (usage), or none answering there (a failure)
    BadInput(("backfill", "--start", "2024-03-01", "--end", "2024-03-02"), 2, "LIQBRIEF_DASK_ADDRESS='tcp://nowhere': use local", {"LIQBRIEF_DASK_ADDRESS": "tcp://nowhere"}),
    BadInput(("daily",), 2, "LIQBRIEF_DASK_ADDRESS='127.0.0.1:8786': use local", {"LIQBRIEF_DASK_ADDRESS": "127.0.0.1:8786"}),
    BadInput(("backfill", "--start", "2024-03-01", "--end", "2024-03-02"), 1, "LIQBRIEF_DASK_ADDRESS='tcp://127.0.0.1:9': no Dask scheduler answers there", {"LIQBRIEF_DASK_ADDRESS": "tcp://127.0.0.1:9"}),
    # a lake URI pyarrow does not know
    BadInput(("extract",), 2, "LIQBRIEF_LAKE='foo://x': unknown URI scheme", {"LIQBRIEF_LAKE": "foo://x"}),
    BadInput(("map",), 2, "LIQBRIEF_LAKE='foo://x': unknown URI scheme", {"LIQBRIEF_LAKE": "foo://x"}),
    # dates the archive cannot hold, or whose pass (from 30 days before the first of the
    # month; daily: of the day before) starts before the archive or before the first
    # maintenance-bracket snapshot (2021-01-01): refused before any flow run
    BadInput(("extract", "--end", TODAY.isoformat()), 2, f"end {TODAY} is after yesterday"),
    BadInput(("daily", "--date", "2019-09-01"), 2, "pass starts 2019-07-02 (30 days before the first of its month), before the archive starts"),
    BadInput(("daily", "--date", "2021-01-31"), 2, "before the first maintenance-bracket snapshot (2021-01-01"),
    BadInput(("daily", "--date", "2021-02-01"), 2, "use --date 2021-02-02 or later"),
    BadInput(("liqmap", "--start", "2020-06-01", "--end", "2020-06-02"), 2, "use --start 2021-02-01 or later"),
    BadInput(("map", "--date", "2020-12-15"), 2, "2020-12-15 cannot be mapped"),
    BadInput(("backfill", "--start", "2019-09-10", "--end", "2019-09-12"), 2, "before the archive starts (2019-09-01)"),
    # the venue's limits: leverage within 1..the bracket's maximum (125x in 2024's snapshot)
    BadInput(("liqprice", "--side", "long", "--entry", "100000", "--leverage", "1000", "--date", "2024-03-01"), 2, "above the bracket's maximum of 125x"),
    BadInput(("liqprice", "--side", "short", "--entry", "100000", "--leverage", "101", "--notional", "60000", "--date", "2024-03-01"), 2, "maximum of 100x"),
    # lake verify: options checked like the others
    BadInput(("lake", "verify", "--datasets", "nope"), 2, "nope"),
    BadInput(("lake", "verify", "--start", "2024-03-05", "--end", "2024-03-01"), 2, "is before --start"),
    BadInput(("lake", "verify", "--symbols", "btcusdt"), 2, "use BTCUSDT"),
    # record: venues are choices, symbols checked, the spool directory checked before connecting
    BadInput(("record", "--venues", "kraken"), 2, "unknown venue 'kraken'; choose from binance, bybit, okx"),
    BadInput(("record", "--status", "--venues", ","), 2, "unknown venue (none given)"),
    BadInput(("record", "--symbols", "btcusdt"), 2, "use BTCUSDT"),
    BadInput(("record", "--json"), 2, "--json goes with --status"),
    BadInput(("record", "--venues", "okx", "--symbols", "IOSTUSDT"), 2, "OKX has no contract value"),
    BadInput(("record", "--interval", "5"), 2, "No such option: --interval"),
    BadInput(("record",), 2, "LIQBRIEF_SPOOL_DIR='s3://bucket/spool': must be a local directory", {"LIQBRIEF_SPOOL_DIR": "s3://bucket/spool"}),
    BadInput(("record",), 2, "is a file, not a directory; point LIQBRIEF_SPOOL_DIR", {"LIQBRIEF_SPOOL_DIR": "{tmp}/a-file"}),
    BadInput(("record",), 1, "cannot take the spool's lock file", {"LIQBRIEF_SPOOL_DIR": "{tmp}/odd-spool"}),
    BadInput(("record", "--status"), 2, "is a file, not a directory; point LIQBRIEF_SPOOL_DIR", {"LIQBRIEF_SPOOL_DIR": "{tmp}/a-file"}),
    BadInput(("record",), 2, "LIQBRIEF_SPOOL_DIR='/proc/liqbrief-spool': cannot be created", {"LIQBRIEF_SPOOL_DIR": "/proc/liqbrief-spool"}),
    BadInput(("record", "--venues", "bybit"), 2, "LIQBRIEF_BYBIT_WS_URL='https://stream.bybit.com'", {"LIQBRIEF_BYBIT_WS_URL": "https://stream.bybit.com"}),
    BadInput(("record",), 2, "is a file, not a directory", {"LIQBRIEF_LAKE": "{tmp}/a-file"}),
    # failures (exit 1): no inputs for the date, nothing written
    BadInput(("liqmap", "--start", "2024-03-02", "--end", "2024-03-02"), 1, "not enough open-interest or price data"),
    BadInput(("context", "--date", "2024-02-20", "--no-fetch-macro"), 1, "run `liqbrief extract --symbols BTCUSDT"),
    # validate: only Binance maps exist; a day is scored once it is over; nothing realised
    BadInput(("validate", "--venue", "bybit"), 2, "'bybit' is not one of 'binance'"),
    # a venue's case does not matter (as with --venues): OKX is okx, here with nothing to map
    BadInput(("map", "--venue", "OKX", "--date", "2024-02-01"), 1, "no okx map for BTCUSDT 2024-02-01"),
    BadInput(("validate", "--symbols", "BTC"), 2, "no coin in 'BTC'"),
    BadInput(("validate", "--end", TODAY.isoformat()), 2, f"{TODAY} has not ended yet"),
    BadInput(("validate", "--start", "2024-03-05", "--end", "2024-03-01"), 2, "is before --start"),
    BadInput(("validate", "--start", "2020-06-01", "--end", "2020-06-02"), 2, "use --start 2021-02-01 or later"),
    BadInput(("validate",), 2, "is a file, not a directory", {"LIQBRIEF_LAKE": "{tmp}/a-file"}),
    BadInput(("validate", "--start", "2024-03-02", "--end", "2024-03-03"), 1, "no realised liquidations stored for BTCUSDT on binance in 2024-03-02..2024-03-03"),
    BadInput(("validate", "--start", "2024-03-02", "--end", "2024-03-02", "--json"), 1, "no Coinglass daily bars): start the recorder with `liqbrief record`"),
    BadInput(("validate", "--start", "2024-03-20", "--end", "2024-03-20"), 1, "cannot score BTCUSDT 2024-03-20..2024-03-20: BTCUSDT: not enough open-interest or price data to build a map; run `liqbrief extract --symbols BTCUSDT --start 2024-01-31"),
    # venues (issue 14): --venues choices and the REST settings
    BadInput(("extract", "--venues", "bybit,bitmex"), 2, "unknown venue 'bitmex'; choose from binance, bybit, okx"),
    BadInput(("extract", "--venues", ","), 2, "unknown venue (none given)"),
    BadInput(("extract", "--venues", "okx", "--start", "2024-02-05", "--end", "2024-02-01"), 2, "is before --start"),
    BadInput(("extract", "--venues", "okx", "--end", FUTURE), 2, "is in the future"),
    BadInput(("daily", "--venues", "binance,kraken"), 2, "unknown venue 'kraken'; choose from binance, bybit, okx"),
    BadInput(("daily", "--venues", ","), 2, "unknown venue (none given)"),
    BadInput(("brief", "--venues", "kraken"), 2, "unknown venue 'kraken'; choose from binance, bybit, okx"),
    BadInput(("brief", "--at", "2024-02-05T14:00", "--venues", "bybit"), 2, "an hour's briefing maps Binance's book only"),
    BadInput(("brief", "--date", "2024-03-03", "--venues", "binance,bybit"), 1, "no Binance + Bybit map of BTCUSDT for 2024-03-03: run `liqbrief daily --venues binance,bybit --symbols BTCUSDT --date 2024-03-03`"),
    # daily --at: a whole UTC hour, not in the future, alone (issue 14's intraday snapshot)
    BadInput(("daily", "--at", "2024-02-05T14:30"), 2, "2024-02-05T14:30 is not a whole hour: use 2024-02-05T14:00"),
    BadInput(("daily", "--at", f"{FUTURE}T00:00"), 2, "is in the future"),
    BadInput(("daily", "--at", "2024-02-05 14h"), 2, "use a UTC hour like 2026-11-25T14:00"),
    BadInput(("daily", "--at", "2024-02-05T14:00", "--date", "2024-02-05"), 2, "give --at or --date, not both"),
    BadInput(("daily", "--at", "2024-02-05T14:00", "--venues", "bybit"), 2, "maps Binance's book only"),
    BadInput(("daily", "--json"), 2, "--json goes with --at (an hour's snapshot)"),
    BadInput(("brief", "--at", "2024-03-03T14:00"), 1, "no map of 14:00 UTC 2024-03-03 stored for BTCUSDT: run `liqbrief daily --at 2024-03-03T14:00 --symbols BTCUSDT`"),
    BadInput(("brief", "--at", "2024-03-03T14:00", "--send"), 2, "--at re-renders an hour's briefing: give it without --date and --send"),
    BadInput(("extract",), 2, "LIQBRIEF_VENUES='binance,ftx': must be a comma-separated list of binance, bybit, okx ('ftx' is not one)", {"LIQBRIEF_VENUES": "binance,ftx"}),
    BadInput(("extract", "--venues", "bybit"), 2, "LIQBRIEF_BYBIT_URL='api.bybit.com': must be an http(s) URL", {"LIQBRIEF_BYBIT_URL": "api.bybit.com"}),
    BadInput(("extract",), 2, "LIQBRIEF_OKX_URL='ws://okx': must be an http(s) URL", {"LIQBRIEF_OKX_URL": "ws://okx"}),
    BadInput(("extract",), 2, "LIQBRIEF_BINANCE_FAPI_URL='https:// fapi'", {"LIQBRIEF_BINANCE_FAPI_URL": "https:// fapi"}),
    # failures (exit 1): the date has no map
    BadInput(("brief", "--date", "2024-03-06"), 1, "no map for BTCUSDT"),
    BadInput(("map", "--date", "2024-03-06"), 1, "no map for BTCUSDT 2024-03-06: BTCUSDT: not enough open-interest or price data"),
    BadInput(("map", "--venue", "kraken"), 2, "'kraken' is not one of 'binance', 'bybit', 'okx', 'all'"),
    BadInput(("liqmap", "--start", "2024-03-02", "--end", "2024-03-02", "--venue", "okx"), 1, "okx: BTCUSDT: not enough open-interest or price data to build a map; run `liqbrief extract --venues okx --symbols BTCUSDT --start 2024-01-31 --end 2024-03-02`"),
    BadInput(("liqmap", "--venue", "bitmex"), 2, "'bitmex' is not one of 'binance', 'bybit', 'okx', 'all'"),
    BadInput(("map", "--date", "2024-03-03", "--venue", "bybit"), 1, "no bybit map for BTCUSDT 2024-03-03: BTCUSDT: not enough open-interest or price data to build a map; run `liqbrief extract --venues bybit --symbols BTCUSDT --start 2024-01-31 --end 2024-03-02`"),
    BadInput(("map", "--date", "2024-03-03", "--venue", "all"), 1, "no map for BTCUSDT 2024-03-03: BTCUSDT: not enough open-interest or price data to build a map; run `liqbrief extract --symbols BTCUSDT"),
]
# fmt: on


def tree_digest(root: Path) -> str:
    """Every file's relative path and bytes, and every directory, in one hash."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(path.relative_to(root).as_posix().encode())
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory, s3_server) -> Iterator[dict]:
    """A scratch directory with a lake holding a few real (synthetic-archive) days and a
    reports directory holding an earlier briefing."""
    tmp = tmp_path_factory.mktemp("bad-inputs")
    lake = Lake(str(tmp / "lake"))
    days = (date(2024, 3, 1), date(2024, 3, 3))
    with ArchiveMirror(
        build_archive(["BTCUSDT"], ["metrics", "klines_5m"], *days, monthly=False)
    ) as mirror:
        report = ingest(lake, mirror.base_url, ["BTCUSDT"], ["metrics", "klines_5m"], *days,
                        retry=RetryPolicy(attempts=1), today=date(2025, 1, 1))  # fmt: skip
    assert not report.problems and any((tmp / "lake").rglob("*.parquet"))
    merge_realised(lake, "binance", "BTCUSDT", pd.DataFrame({  # recorded, but no map inputs
        "time": [pd.Timestamp("2024-03-20 01:00", tz="UTC")], "received_at": pd.NaT, "side": ["long"],
        "price": [60_000.0], "quantity": [0.1], "notional_usd": [6_000.0], "source": ["stream"],
        "liq_id": ["one"], "raw": ["{}"],
    }), "test")  # fmt: skip
    reports = tmp / "reports" / "2024-03-01"
    reports.mkdir(parents=True)
    (reports / "liqbrief-2024-03-01.html").write_text("<html>an earlier briefing</html>")
    (tmp / "a-file").write_text("not a directory")
    (tmp / "odd-spool" / "recorder.lock").mkdir(parents=True)  # a directory where the lock goes
    env = cli_env(tmp)
    private_ca = self_signed_certificate(tmp_path_factory.mktemp("private-ca"))
    with S3Server(require_auth=True) as refusing, S3Server(tls=private_ca) as untrusted:
        yield {"tmp": tmp, "env": env, "trees": [tmp / "lake", tmp / "reports"],
               "s3": s3_server.endpoint_url, "s3_refusing": refusing.endpoint_url,
               "s3_private_ca": untrusted.endpoint_url}  # fmt: skip


def run_cli(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "liqbrief.cli", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def prefect_info(line: str) -> bool:
    """Prefect's own progress lines of a command that ran a flow (server start, flow run
    begun/finished): the normal output of any run, not part of the error message. Its
    exception logs are not allowed here: they would carry the traceback."""
    return bool(PREFECT_INFO.match(line)) or line.startswith("See https://www.prefect.io/")


def test_the_table_is_big_enough_to_matter() -> None:
    assert len(ROWS) >= 40 and len({row.id for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_bad_input_gets_one_clear_line_and_changes_nothing(row: BadInput, world: dict) -> None:
    before = [tree_digest(t) for t in world["trees"]]
    places = {name: world[name] for name in ("tmp", "s3", "s3_refusing", "s3_private_ca")}
    env = world["env"] | {k: v.format(**places) for k, v in row.env.items()}
    result = run_cli(row.args, env, world["tmp"])
    output = result.stdout + result.stderr
    assert result.returncode == row.code, output
    assert "Traceback" not in output
    assert row.phrase in output, output
    lines = [line for line in output.splitlines() if line.strip() and not prefect_info(line)]
    assert 1 <= len(lines) <= 2, output
    assert [tree_digest(t) for t in world["trees"]] == before, "the lake or the reports changed"


def test_liqbrief_debug_shows_the_traceback_of_a_failure(world: dict) -> None:
    env = world["env"] | {"LIQBRIEF_DEBUG": "1"}
    result = run_cli(("brief", "--date", "2024-03-06"), env, world["tmp"])
    assert result.returncode == 1
    assert "liqbrief brief: nothing to brief on 2024-03-06" in result.stderr
    assert "Traceback" in result.stderr and "BriefingDataError" in result.stderr


def test_help_works_even_with_a_bad_setting(world: dict) -> None:
    env = world["env"] | {"LIQBRIEF_CHART_FORMAT": "gif"}
    result = run_cli(("brief", "--help"), env, world["tmp"])
    assert result.returncode == 0 and "Usage" in result.stdout


def test_a_failed_flow_shows_its_error_once(world: dict) -> None:
    """Prefect's "Finished in state Failed('…')" line repeats the error the CLI prints."""
    args = ("liqmap", "--start", "2024-03-02", "--end", "2024-03-02")
    result = run_cli(args, world["env"], world["tmp"])
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Beginning flow run" in output, output
    assert "Finished in state" not in output
    assert output.count("not enough open-interest or price data") == 1, output


def test_failed_state_lines_stay_in_the_prefect_run_but_off_the_console() -> None:
    """The filter drops a run's failed/crashed closing line; only the console and debug
    handlers carry it, the API handler (the Prefect run) keeps every record."""
    import logging

    import yaml

    from liqbrief.terminal_logging import LOGGING_CONFIG, NoRunFailuresOnTerminal

    def record(name: str, message: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.INFO, __file__, 1, message, None, None)

    keep = NoRunFailuresOnTerminal().filter
    assert not keep(record("prefect.flow_runs", "Finished in state Failed('ValueError: x')"))
    assert not keep(record("prefect.task_runs", "Finished in state Crashed('killed')"))
    assert keep(record("prefect.flow_runs", "Finished in state Completed()"))
    assert keep(record("prefect.flow_runs", "Beginning flow run 'a' for flow 'b'"))
    assert keep(record("somebody.else", "Finished in state Failed('not a run')"))
    handlers = yaml.safe_load(LOGGING_CONFIG.read_text())["handlers"]
    filtered = {
        n for n, h in handlers.items() if "no_run_failures_on_terminal" in h.get("filters", [])
    }
    assert filtered == {"console", "debug"} and "filters" not in handlers["api"]


def test_liqbrief_debug_keeps_the_failed_state_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from liqbrief.terminal_logging import NoRunFailuresOnTerminal

    monkeypatch.setenv("LIQBRIEF_DEBUG", "1")
    line = logging.LogRecord("prefect.flow_runs", logging.INFO, __file__, 1,
                             "Finished in state Failed('x')", None, None)  # fmt: skip
    assert NoRunFailuresOnTerminal().filter(line)
