from __future__ import annotations

from reference_app.admin.guards import SignInLimiter


def test_failures_are_limited_per_email_and_per_address_within_the_window():
    now = [1000.0]
    limiter = SignInLimiter(per_email=3, per_address=5, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("a@x", "10.0.0.1") == 0
        limiter.failed("a@x", "10.0.0.1")
    assert limiter.retry_after("a@x", "10.0.0.1") == 60
    assert limiter.retry_after("a@x", "10.0.0.2") == 60  # the email is limited anywhere
    # Other emails from the same address: two more failures, then the address is limited.
    limiter.failed("b@x", "10.0.0.1")
    limiter.failed("c@x", "10.0.0.1")
    assert limiter.retry_after("d@x", "10.0.0.1") > 0
    assert limiter.retry_after("d@x", "10.0.0.9") == 0
    now[0] += 61
    assert limiter.retry_after("a@x", "10.0.0.1") == 0


def test_a_success_clears_the_email_count():
    limiter = SignInLimiter(per_email=2, per_address=100)
    limiter.failed("a@x", "h")
    limiter.succeeded("a@x")
    limiter.failed("a@x", "h")
    assert limiter.retry_after("a@x", "h") == 0
