"""Coinglass open API v4: one GET with the envelope checked, and bar histories paged.

What the API really does is in ../shared/design/coinglass.md: the envelope is
``{"code": "0", "msg": ..., "data": ...}`` with ``code`` a string, and an error may come with
HTTP 200. "Upgrade plan" means the plan lacks the endpoint or interval (``PlanUnavailable``,
not retried); a refused key is ``CoinglassKeyError`` (it names COINGLASS_API_KEY, never its
value); 429 is retried honouring ``Retry-After`` (one warning per burst of them); 5xx and
transport errors are retried; anything else that is not the documented layout is
``CoinglassFormatError``. The key travels in the ``CG-API-KEY`` header only, so no URL ever
carries it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying

from sources.errors import DownloadError, SourceError
from sources.retry_policy import RetryPolicy

logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines are not worth a log each
log = logging.getLogger("liqbrief.coinglass")

KEY_HEADER = "CG-API-KEY"
PLAN_MESSAGE = "upgrade plan"
MAX_BARS = 1000  # Coinglass's most bars per request
MAX_RETRY_AFTER_S = 60.0  # a longer Retry-After is capped: the run retries later instead
KEY_NAME = "COINGLASS_API_KEY"


class CoinglassError(SourceError):
    """Coinglass did not give the series; the lake was left as it was."""


class PlanUnavailable(CoinglassError):
    """The plan does not include this endpoint or interval ("Upgrade plan")."""


class CoinglassKeyError(CoinglassError):
    """Coinglass refused the key: no further Coinglass request is worth making this run."""


class CoinglassFormatError(CoinglassError):
    """The answer is not the documented envelope or layout: nothing is stored."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable | httpx.TransportError)


@dataclass(frozen=True)
class Request:
    """One endpoint call: what it is (for messages) and where (for the ledger: no key)."""

    path: str
    params: dict[str, str]
    what: str

    def url(self, base_url: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{base_url}{self.path}" + (f"?{query}" if query else "")


class CoinglassClient:
    def __init__(
        self, http: httpx.Client, base_url: str, api_key: str, retry: RetryPolicy | None = None
    ) -> None:
        self.http, self.base_url, self.retry = http, base_url.rstrip("/"), retry or RetryPolicy()
        self._api_key = api_key
        self.requests = 0  # requests sent (retries included), for the benchmark
        self.unreachable = False  # the last failure was the network, not an answer
        self.kept_failing = False  # an answer stayed 5xx/429 through every retry
        self._rate_limited_burst = False  # a 429 already logged since the last other answer
        self.server_time: datetime | None = None  # the last answer's HTTP Date (its clock)

    def data(self, request: Request) -> Any:
        """The ``data`` of a successful answer; raises a CoinglassError saying what went wrong."""
        try:
            for attempt in Retrying(**self._retry_kwargs()):
                with attempt:
                    return self._once(request)
        except (_Retryable, httpx.TransportError) as exc:
            self.unreachable = isinstance(exc, httpx.TransportError)
            self.kept_failing = not self.unreachable
            raise DownloadError(
                f"{request.what}: Coinglass kept failing ({self._scrub(str(exc))}) after "
                f"{self.retry.attempts} attempts; nothing was stored — re-run later"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_kwargs(self) -> dict[str, Any]:
        kwargs = self.retry.tenacity_kwargs(_is_retryable)
        kwargs["wait"] = _honour_retry_after(kwargs["wait"])
        return kwargs

    def _once(self, request: Request) -> Any:
        self.requests += 1
        response = self.http.get(
            self.base_url + request.path, params=request.params,
            headers={KEY_HEADER: self._api_key, "Accept": "application/json"},
        )  # fmt: skip
        self.server_time = _http_date(response.headers.get("Date"))
        if response.status_code == 429:
            raise self._rate_limited(request, response)
        self._rate_limited_burst = False
        if response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}")
        body = self._body(request, response)
        code, message = str(body.get("code")), self._scrub(str(body.get("msg") or ""))
        if response.status_code == 200 and code == "0":
            if "data" not in body or body["data"] is None:
                raise CoinglassFormatError(
                    f"{request.what}: Coinglass answered success without data; nothing was stored"
                )
            return body["data"]
        self._refuse(request, response.status_code, code, message)

    def _body(self, request: Request, response: httpx.Response) -> dict[str, Any]:
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if not isinstance(body, dict) or "code" not in body:
            raise CoinglassFormatError(
                f"{request.what}: HTTP {response.status_code} from Coinglass without its JSON "
                f"envelope ({_snippet(self._scrub(response.text))}); nothing was stored — "
                "check LIQBRIEF_COINGLASS_URL"
            )
        return body

    def _refuse(self, request: Request, status: int, code: str, message: str) -> None:
        lowered = message.lower()
        if PLAN_MESSAGE in lowered:
            raise PlanUnavailable(
                f"{request.what}: not in the Coinglass plan ({message!r}, code {code})"
            )
        if code == "429":
            raise _Retryable("rate limited (code 429)")
        if code == "500":
            raise _Retryable(f"server error (code 500: {message})")
        if status in (401, 403) or code in ("401", "403") or "api key" in lowered:
            raise CoinglassKeyError(
                f"Coinglass refused {KEY_NAME} ({message!r}, code {code}): check the key set in "
                f"the environment (expired, mistyped, or the account's plan lapsed), or unset "
                f"{KEY_NAME} to run with Binance data only"
            )
        raise CoinglassFormatError(
            f"{request.what}: Coinglass answered HTTP {status}, code {code} ({message!r}); "
            "nothing was stored"
        )

    def _rate_limited(self, request: Request, response: httpx.Response) -> _Retryable:
        used = response.headers.get("API-KEY-USE-LIMIT")
        limit = response.headers.get("API-KEY-MAX-LIMIT")
        retry_after = _seconds(response.headers.get("Retry-After"))
        usage = f"; used {used} of {limit} requests this minute" if used or limit else ""
        if not self._rate_limited_burst:  # one warning per burst, not one per answer
            log.warning("Coinglass rate limit (HTTP 429) on %s%s; retrying", request.what, usage)
        self._rate_limited_burst = True
        return _Retryable(f"HTTP 429{usage}", retry_after)

    def _scrub(self, text: str) -> str:
        """``text`` without the key (a server may echo it) and on one line."""
        return " ".join(text.replace(self._api_key, "(COINGLASS_API_KEY)").split())


def _honour_retry_after(
    fallback: Callable[[RetryCallState], float],
) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, MAX_RETRY_AFTER_S)
        return fallback(state)

    return wait


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: fall back to the back-off


def _http_date(value: str | None) -> datetime | None:
    """An HTTP ``Date`` header as a UTC datetime; None when absent or unreadable."""
    try:
        moment = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def _snippet(text: str) -> str:
    return repr(text[:120]) if text else "an empty body"
