"""What stands between a browser and the console: CSRF tokens and sign-in rate limits."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request

__all__ = ["SignInLimiter", "check_csrf", "csrf_token"]

CSRF_FIELD = "csrf"


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); every form carries it."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, sent: object) -> None:
    """403 unless ``sent`` is the session's CSRF token."""
    expected = request.session.get(CSRF_FIELD)
    if not (
        isinstance(sent, str)
        and isinstance(expected, str)
        and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise HTTPException(403, "The form was missing its security token. Reload and retry.")


class SignInLimiter:
    """Failed sign-ins allowed per email and per client address within a sliding window.

    Kept in the process: with several workers each counts its own attempts, so the effective
    limit is the number of workers times these.
    """

    def __init__(
        self,
        *,
        per_email: int = 5,
        per_address: int = 20,
        window: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"email": per_email, "address": per_address}
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def retry_after(self, email: str, address: str) -> float:
        """Seconds until another attempt is allowed (0: allowed now)."""
        wait = 0.0
        for key in (("email", email), ("address", address)):
            failures = self._recent(key)
            if len(failures) >= self.limits[key[0]]:
                wait = max(wait, failures[0] + self.window - self.clock())
        return wait

    def failed(self, email: str, address: str) -> None:
        if len(self._failures) > 100_000:  # bound memory under a spray of made-up emails
            self._failures.clear()
        for key in (("email", email), ("address", address)):
            self._failures.setdefault(key, deque()).append(self.clock())

    def succeeded(self, email: str) -> None:
        self._failures.pop(("email", email), None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.get(key, deque())
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures
