"""One retry policy for every HTTP source: attempts and exponential backoff with jitter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import retry_if_exception, stop_after_attempt, wait_exponential_jitter


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_wait_s: float = 0.5
    max_wait_s: float = 8.0

    def tenacity_kwargs(self, is_retryable: Callable[[BaseException], bool]) -> dict[str, Any]:
        """Arguments for tenacity's (Async)Retrying: retry what ``is_retryable`` says, then re-raise."""
        return {
            "retry": retry_if_exception(is_retryable),
            "stop": stop_after_attempt(self.attempts),
            "wait": wait_exponential_jitter(
                multiplier=self.initial_wait_s, max=self.max_wait_s, jitter=self.initial_wait_s
            ),
            "reraise": True,
        }
