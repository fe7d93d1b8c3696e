"""One ccxt call with retries: transient failures (HTTP 429/418, 5xx, timeouts, a body
that is not JSON, an error envelope saying "try again") are retried, waiting what the
venue's Retry-After says when it says it; a request the venue refuses is not."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import ccxt.async_support as ccxt

from sources.errors import SourceError
from sources.retry_policy import RetryPolicy

T = TypeVar("T")
MAX_RETRY_AFTER_S = 120.0  # a longer ban (HTTP 418) fails the run instead of sleeping through it
NOT_RETRYABLE = (
    ccxt.BadRequest,  # includes BadSymbol
    ccxt.AuthenticationError,
    ccxt.NotSupported,
    ccxt.ArgumentsRequired,
)

# what parsing a body that is not the venue's JSON raises inside ccxt (it hands a non-JSON
# body on as a string): a malformed reply, retried like a 5xx
MALFORMED = (TypeError, ValueError, KeyError, AttributeError, IndexError)


class VenueRequestError(SourceError):
    """A venue kept failing, refused a request, or banned the client for too long."""


def retry_after_s(exchange: Any) -> float | None:
    """The Retry-After of the exchange's last response, in seconds, if it sent one."""
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def with_retries(
    exchange: Any, what: str, call: Callable[[], Awaitable[T]], policy: RetryPolicy
) -> T:
    """``await call()``, retried under ``policy``; ``what`` names the request in errors."""
    for attempt in range(1, policy.attempts + 1):
        exchange.last_response_headers = None
        exchange.last_http_response = exchange.last_json_response = None
        try:
            if attempt > 1 and not exchange.markets:  # ccxt keeps a failed load otherwise
                await exchange.load_markets(reload=True)
            result = await call()
            if exchange.last_http_response and exchange.last_json_response is None:
                raise ValueError("malformed reply: the body is not JSON")
            return result
        except (ccxt.BaseError, *MALFORMED) as exc:
            if isinstance(exc, NOT_RETRYABLE) and exchange.markets:
                raise VenueRequestError(
                    f"{what}: the venue refused the request ({_short(exc)})"
                ) from None
            # without markets, "does not have market symbol" means the instrument list was
            # unreadable, not refused: it is loaded again on the next try
            wait = retry_after_s(exchange)
            if wait is not None and wait > MAX_RETRY_AFTER_S:
                raise VenueRequestError(
                    f"{what}: the venue asks to wait {wait:.0f} s (Retry-After; HTTP 418 is an IP "
                    "ban for ignoring 429s); run again after that"
                ) from None
            if attempt == policy.attempts:
                raise VenueRequestError(
                    f"{what}: still failing after {attempt} attempts ({_describe(exchange, exc)})"
                ) from None
            if wait is None:
                backoff = policy.initial_wait_s * 2 ** (attempt - 1)
                wait = min(policy.max_wait_s, backoff) + random.uniform(0, policy.initial_wait_s)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def _describe(exchange: Any, exc: BaseException) -> str:
    """The last failure in the venue's terms: a reply that was not its JSON says so, not
    the Python exception parsing it raised."""
    if not exchange.markets:
        return "its instrument list was empty or not the venue's JSON"
    if isinstance(exc, MALFORMED):
        return "the reply was not the venue's JSON"
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 200 else text[:197] + "..."
