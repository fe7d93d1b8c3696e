"""Configuration, read from the environment and validated in one place (pydantic-settings).

Every knob has a default that works on a fresh machine; tests and offline runs override
the base URLs to point at a loopback mirror. A bad value is refused when the settings are
first read (the CLI reads them before any command runs) with one line naming the variable,
the value and what is allowed: ``SettingsError``.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.object_store import is_uri, require_reachable, uri_problem

DEFAULT_LAKE = "./lake"
DEFAULT_BINANCE_ARCHIVE_URL = "https://data.binance.vision"
MAX_RENDER_WORKERS = max(2, os.cpu_count() or 1)  # more processes than cores only add memory
SECRET_NAMES = frozenset({"FRED_API_KEY", "LIQBRIEF_SMTP_PASSWORD", "COINGLASS_API_KEY"})
DEFAULT_COINGLASS_URL = "https://open-api-v4.coinglass.com"
# the venues' public liquidation streams (venues.md §4); Binance's URL names the stream itself
DEFAULT_BINANCE_WS_URL = "wss://fstream.binance.com/market/ws/!forceOrder@arr"
DEFAULT_BYBIT_WS_URL = "wss://stream.bybit.com/v5/public/linear"
DEFAULT_OKX_WS_URL = "wss://ws.okx.com:8443/ws/v5/public"
# the venues' public REST APIs (issue 14; sources/venues), reached through ccxt
DEFAULT_REST_URLS = {
    "binance": "https://fapi.binance.com",
    "bybit": "https://api.bybit.com",
    "okx": "https://www.okx.com",
}
KNOWN_VENUES = ("binance", "bybit", "okx")
# the major exchanges summed for the all-market liquidation series (Coinglass's names)
DEFAULT_COINGLASS_EXCHANGES = "Binance,OKX,Bybit,Bitget,Gate,HTX,Hyperliquid,Bitmex,CoinEx,Bitfinex"
EARLIEST_COINGLASS_HISTORY = date(2015, 1, 1)  # before any futures history Coinglass holds
_EXCHANGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,39}")
_DASK_ADDRESS = re.compile(r"tcp://(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})")
_PRINTABLE_KEY = re.compile(r"[\x21-\x7e]{8,256}")
# URI schemes pyarrow.fs.FileSystem.from_uri recognises (Arrow's FileSystemFromUri); checked
# by name, because from_uri itself may reach the network (an S3 bucket's region)
LAKE_URI_SCHEMES = ("file", "local", "mock", "s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")


class SettingsError(ValueError):
    """A setting from the environment is invalid; the message names it and what to use."""


def _http_url(value: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL, e.g. https://example.org")
    host = value.split("://", 1)[1].split("/", 1)[0]
    if not host or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) URL with a host, e.g. https://example.org")
    return value.rstrip("/")


def _ws_url(value: str) -> str:
    if not isinstance(value, str) or not value.startswith(("ws://", "wss://")):
        raise ValueError("must be a websocket URL (ws:// or wss://), e.g. wss://example.org/ws")
    host = value.split("://", 1)[1].split("/", 1)[0]
    if not host or any(c.isspace() for c in value):
        raise ValueError("must be a ws(s) URL with a host, e.g. wss://example.org/ws")
    return value


class Settings(BaseSettings):
    """liqbrief's settings; the environment variable of each field is LIQBRIEF_<FIELD>
    unless an alias says otherwise."""

    model_config = SettingsConfigDict(
        env_prefix="LIQBRIEF_", frozen=True, extra="ignore", env_ignore_empty=True
    )

    lake: str = DEFAULT_LAKE
    binance_archive_url: str = DEFAULT_BINANCE_ARCHIVE_URL
    download_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    reports_dir: str = "./out/briefings"
    http_attempts: Annotated[int, Field(ge=1, le=20)] = 5  # tries per HTTP request
    fred_api_url: str = Field("https://api.stlouisfed.org", validation_alias="LIQBRIEF_FRED_URL")
    fred_csv_url: str = "https://fred.stlouisfed.org"
    # a secret: never in repr, logs or error messages
    fred_api_key: str | None = Field(None, validation_alias="FRED_API_KEY", repr=False)
    # processes rendering briefings in a backfill (one per core)
    render_workers: Annotated[int, Field(ge=1, le=MAX_RENDER_WORKERS)] = min(2, os.cpu_count() or 1)
    chart_format: Literal["svg", "png"] = "svg"
    # Coinglass (optional): without a key nothing is requested; a secret like FRED's
    coinglass_api_key: str | None = Field(None, validation_alias="COINGLASS_API_KEY", repr=False)
    coinglass_url: str = DEFAULT_COINGLASS_URL
    coinglass_exchanges: str = DEFAULT_COINGLASS_EXCHANGES
    coinglass_history_start: date = date(2019, 1, 1)  # how far back a cold daily fetch goes
    # the liquidation streams `liqbrief record` connects to; tests point them at loopback
    binance_ws_url: str = DEFAULT_BINANCE_WS_URL
    bybit_ws_url: str = DEFAULT_BYBIT_WS_URL
    okx_ws_url: str = DEFAULT_OKX_WS_URL
    # the venues' REST base URLs (`liqbrief extract --venues`); tests point them at loopback
    binance_fapi_url: str = DEFAULT_REST_URLS["binance"]
    bybit_url: str = DEFAULT_REST_URLS["bybit"]
    okx_url: str = DEFAULT_REST_URLS["okx"]
    venues: str = "binance"  # comma-separated, the default of --venues
    # where `liqbrief record` spools frames before compacting them into the lake (local disk);
    # unset: "recorder-spool" beside a local lake, ./recorder-spool for an object-store lake
    spool_dir: str | None = None
    # the Dask scheduler backfills and the daily job fan out to: "local" (a LocalCluster
    # sized to this machine) or tcp://host:port; unset, they run on this machine alone
    dask_address: str | None = None

    @field_validator(
        "binance_archive_url", "fred_api_url", "fred_csv_url", "coinglass_url",
        "binance_fapi_url", "bybit_url", "okx_url",
    )  # fmt: skip
    @classmethod
    def base_urls_are_http(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("binance_ws_url", "bybit_ws_url", "okx_ws_url")
    @classmethod
    def stream_urls_are_ws(cls, value: str) -> str:
        return _ws_url(value)

    @field_validator("venues")
    @classmethod
    def venues_are_known(cls, value: str) -> str:
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        bad = [name for name in names if name not in KNOWN_VENUES]
        if not names or bad:
            raise ValueError(
                "must be a comma-separated list of "
                + ", ".join(KNOWN_VENUES)
                + (f" ({bad[0]!r} is not one)" if bad else "")
            )
        return ",".join(dict.fromkeys(names))

    @property
    def venue_list(self) -> list[str]:
        """LIQBRIEF_VENUES as names, in the order given."""
        return self.venues.split(",")

    @property
    def rest_urls(self) -> dict[str, str]:
        """Each venue's REST base URL (LIQBRIEF_BINANCE_FAPI_URL, _BYBIT_URL, _OKX_URL)."""
        return {"binance": self.binance_fapi_url, "bybit": self.bybit_url, "okx": self.okx_url}

    @property
    def stream_urls(self) -> dict[str, str]:
        """Each venue's liquidation-stream URL (LIQBRIEF_<VENUE>_WS_URL)."""
        return {"binance": self.binance_ws_url, "bybit": self.bybit_ws_url, "okx": self.okx_ws_url}

    @field_validator("spool_dir")
    @classmethod
    def spool_dir_is_local(cls, value: str | None) -> str | None:
        if value is not None and "://" in value:
            raise ValueError("must be a local directory (the spool is appended to and fsynced)")
        return value

    @property
    def spool_path(self) -> Path:
        """LIQBRIEF_SPOOL_DIR, or "recorder-spool" beside a local lake."""
        if self.spool_dir is not None:
            return Path(self.spool_dir)
        if "://" in self.lake:
            return Path("recorder-spool")
        return Path(self.lake).parent / "recorder-spool"

    def require_spool_dir(self, writable: bool = True) -> Path:
        """The spool directory, refused before recording if it is a file or not writable
        (before ``--status``, which only reads it, if it is a file)."""
        where = str(self.spool_path)
        problem = directory_problem(where, writable=writable, name="LIQBRIEF_SPOOL_DIR")
        if problem:
            raise SettingsError(f"LIQBRIEF_SPOOL_DIR={where!r}: {problem}")
        return self.spool_path

    @field_validator("dask_address")
    @classmethod
    def dask_address_is_local_or_tcp(cls, value: str | None) -> str | None:
        if value is None or value == "local":
            return value
        match = _DASK_ADDRESS.fullmatch(value)
        if not match or not 1 <= int(match["port"]) <= 65535:
            raise ValueError(
                "use local (a cluster on this machine) or a scheduler's tcp://host:port, "
                "e.g. tcp://10.0.0.5:8786; unset it to run without Dask"
            )
        return value

    @field_validator("lake")
    @classmethod
    def lake_is_a_path_or_known_uri(cls, value: str) -> str:
        if "://" in value and value.split("://", 1)[0].lower() not in LAKE_URI_SCHEMES:
            raise ValueError(
                "unknown URI scheme; use a local path or a file://, s3://, gs://, abfs:// or "
                "hdfs:// URI"
            )
        if value.lower().startswith("s3://") and uri_problem(value):
            raise ValueError(uri_problem(value))
        return value

    @field_validator("reports_dir")
    @classmethod
    def reports_dir_is_a_path_or_s3(cls, value: str) -> str:
        if is_uri(value) and uri_problem(value):
            raise ValueError(uri_problem(value))
        return value

    @field_validator("coinglass_api_key")
    @classmethod
    def coinglass_key_is_a_token(cls, value: str | None) -> str | None:
        if value is not None and not _PRINTABLE_KEY.fullmatch(value):
            raise ValueError(
                "must be the key as Coinglass shows it (8 to 256 printable characters, no "
                "spaces or quotes around it); unset it to run without Coinglass"
            )
        return value

    @field_validator("coinglass_exchanges")
    @classmethod
    def exchanges_are_names(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        bad = [name for name in names if not _EXCHANGE_NAME.fullmatch(name)]
        if not names or bad:
            raise ValueError(
                "must be a comma-separated list of Coinglass exchange names, e.g. "
                "Binance,OKX,Bybit" + (f" ({bad[0]!r} is not one)" if bad else "")
            )
        return ",".join(dict.fromkeys(names))

    @field_validator("coinglass_history_start")
    @classmethod
    def history_start_in_range(cls, value: date) -> date:
        today = datetime.now(UTC).date()
        if not EARLIEST_COINGLASS_HISTORY <= value <= today:
            raise ValueError(
                f"use a date (YYYY-MM-DD) from {EARLIEST_COINGLASS_HISTORY} to today ({today})"
            )
        return value

    @property
    def coinglass_exchange_list(self) -> list[str]:
        """LIQBRIEF_COINGLASS_EXCHANGES as names, in the order given."""
        return self.coinglass_exchanges.split(",")

    @classmethod
    def from_env(cls) -> Settings:
        """The settings of the current environment, validated once per distinct environment."""
        return _settings_for(_relevant_environment())

    def require_lake(self, writable: bool) -> None:
        """Refuse a local lake path that is a file, or (``writable``) one that cannot be
        created or written; says which and what to do. Object-store URIs are not probed."""
        problem = lake_problem(self.lake, writable)
        if problem:
            raise SettingsError(f"LIQBRIEF_LAKE={self.lake!r}: {problem}")
        if self.lake.lower().startswith("s3://"):
            require_reachable("LIQBRIEF_LAKE", self.lake)  # ObjectStoreError: exit 1

    def require_reports_dir(self, out: Path | str | None = None) -> str:
        """Where briefings are written (``out``, else LIQBRIEF_REPORTS_DIR), refused before
        any work if it is a file or cannot be created or written, or (an s3:// prefix) its
        bucket is missing or the store refuses the credentials (ObjectStoreError: exit 1)."""
        name, where = ("--out", str(out)) if out is not None else (
            "LIQBRIEF_REPORTS_DIR", self.reports_dir)  # fmt: skip
        if is_uri(where):
            problem = uri_problem(where)
            if problem:
                raise SettingsError(f"{name}={where!r}: {problem}")
            require_reachable(name, where)
            return where
        problem = directory_problem(where, writable=True, name=name)
        if problem:
            raise SettingsError(f"{name}={where!r}: {problem}")
        return where


def _relevant_environment() -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (k, v) for k, v in os.environ.items() if k.startswith("LIQBRIEF_") or k in SECRET_NAMES
        )
    )


@lru_cache(maxsize=8)
def _settings_for(_environment: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(settings_error_line(exc, Settings)) from None


def lake_problem(root: str, writable: bool) -> str | None:
    """What is wrong with a local lake root, or None. Object-store URIs are not probed."""
    if "://" in root:
        return None
    return directory_problem(root, writable, "LIQBRIEF_LAKE")


def directory_problem(root: str, writable: bool, name: str) -> str | None:
    """What is wrong with a local directory ``name`` points at, or None. Probes with a
    temporary file that is removed at once and creates no directory, so nothing changes."""
    path = Path(root)
    if path.exists() and not path.is_dir():
        return f"is a file, not a directory; point {name} at a directory"
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():  # a path inside a file: nothing can be read or made there
        verb = "cannot be created" if writable else "cannot exist"
        return f"{verb}: {existing} is a file; point {name} at a directory"
    if not writable:
        return None
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        verb = "written" if existing == path else f"created (in {existing})"
        return f"cannot be {verb}: {exc.strerror}; point {name} at a writable directory"
    return None


def environment_name(settings_cls: type[BaseSettings], field: str) -> str:
    """The environment variable a settings field is read from."""
    info = settings_cls.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    if info is None and any(
        f.validation_alias == field for f in settings_cls.model_fields.values()
    ):
        return field  # the error names the alias itself
    return (settings_cls.model_config.get("env_prefix", "") + field).upper()


def _allowed(settings_cls: type[BaseSettings], field: str) -> str:
    info = settings_cls.model_fields.get(field) or next(
        (f for f in settings_cls.model_fields.values() if f.validation_alias == field), None
    )
    if info is None:
        return ""
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    if low is not None and high is not None:
        return f"use a whole number from {low} to {high}"
    choices = getattr(info.annotation, "__args__", ())
    if getattr(info.annotation, "__origin__", None) is Literal:
        return "use one of " + ", ".join(str(c) for c in choices)
    return ""


def settings_error_line(exc: ValidationError, settings_cls: type[BaseSettings]) -> str:
    """One line per ValidationError: the variable, its value (never a secret's) and what is
    allowed, e.g. ``LIQBRIEF_DOWNLOAD_CONCURRENCY='0': use a whole number from 1 to 64``."""
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = environment_name(settings_cls, field) if field else settings_cls.__name__
        value = "(hidden)" if name in SECRET_NAMES else repr(_plain(error.get("input")))
        what = _allowed(settings_cls, field) or str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{name}={value}: {what}")
    return "; ".join(parts)


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | None) else str(value)
