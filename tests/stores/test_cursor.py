"""RFC 9865 cursor tokens: opaque, tamper-proof, bound to the query, expiring."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scimkit import Cursor, CursorCodec, CursorScope, ExpiredCursor, InvalidCursor

SECRET = b"s" * 32
SCOPE = CursorScope("acme", "User", 'userName sw "a"', "userName", False, 10)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def codec(clock: Clock) -> CursorCodec:
    return CursorCodec(SECRET, timedelta(minutes=10), clock)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "alice",
        "",
        'ünïcødé \u0000 "quoted"',
        42,
        -1.5,
        True,
        False,
        datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC),
    ],
)
@pytest.mark.parametrize("backward", [False, True])
def test_round_trip(codec: CursorCodec, value: Any, backward: bool) -> None:
    token = codec.encode(SCOPE, (value, "id-1"), backward=backward)
    decoded = codec.decode(token, SCOPE)
    assert decoded == Cursor((value, "id-1"), backward)
    assert type(decoded.position[0]) is type(value)
    assert re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", token)  # URL-safe, no padding


@pytest.mark.parametrize(
    "other",
    [
        replace(SCOPE, tenant="other"),
        replace(SCOPE, resource_type="Group"),
        replace(SCOPE, filter='userName sw "b"'),
        replace(SCOPE, filter=None),
        replace(SCOPE, sort_by="title"),
        replace(SCOPE, descending=True),
        replace(SCOPE, count=11),
    ],
)
def test_a_cursor_is_bound_to_its_query(codec: CursorCodec, other: CursorScope) -> None:
    token = codec.encode(SCOPE, ("a", "id-1"))
    with pytest.raises(InvalidCursor):
        codec.decode(token, other)


def test_altered_tokens_are_invalid(codec: CursorCodec) -> None:
    token = codec.encode(SCOPE, ("alice", "id-1"))
    for index in range(len(token)):
        if token[index] == ".":
            continue
        flipped = "A" if token[index] != "A" else "B"
        altered = token[:index] + flipped + token[index + 1 :]
        with pytest.raises(InvalidCursor):
            codec.decode(altered, SCOPE)


@pytest.mark.parametrize(
    "token", ["", ".", "abc", "abc.", ".abc", "a.b.c", "é.é", "x" * 5000, "!!!.???"]
)
def test_malformed_tokens_are_invalid(codec: CursorCodec, token: str) -> None:
    with pytest.raises(InvalidCursor):
        codec.decode(token, SCOPE)


def test_tokens_expire(codec: CursorCodec, clock: Clock) -> None:
    token = codec.encode(SCOPE, ("a", "id-1"))
    clock.now += timedelta(minutes=9, seconds=59)
    codec.decode(token, SCOPE)
    clock.now += timedelta(seconds=1)
    with pytest.raises(ExpiredCursor):
        codec.decode(token, SCOPE)


def test_other_secrets_are_refused_and_old_ones_accepted(clock: Clock) -> None:
    old = CursorCodec(b"o" * 32, timedelta(minutes=10), clock)
    token = old.encode(SCOPE, ("a", "id-1"))
    with pytest.raises(InvalidCursor):
        CursorCodec(SECRET, timedelta(minutes=10), clock).decode(token, SCOPE)
    rotated = CursorCodec(SECRET, timedelta(minutes=10), clock, previous_secrets=[b"o" * 32])
    assert rotated.decode(token, SCOPE).position == ("a", "id-1")


def test_construction_checks_and_a_secret_free_repr() -> None:
    with pytest.raises(ValueError):
        CursorCodec(b"short", timedelta(minutes=1))
    with pytest.raises(ValueError):
        CursorCodec(SECRET, timedelta(0))
    with pytest.raises(ValueError):
        CursorCodec(SECRET, timedelta(minutes=1), previous_secrets=[b"x"])
    assert "sss" not in repr(CursorCodec(SECRET, timedelta(minutes=1)))


def test_only_scalar_positions_can_be_encoded(codec: CursorCodec) -> None:
    with pytest.raises(TypeError):
        codec.encode(SCOPE, ({"$ne": None}, "id-1"))


@given(st.text(max_size=300))
def test_arbitrary_input_only_raises_cursor_errors(text: str) -> None:
    codec = CursorCodec(SECRET, timedelta(minutes=10))
    with pytest.raises((InvalidCursor, ExpiredCursor)):
        codec.decode(text, SCOPE)


_keys = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.datetimes(timezones=st.just(UTC)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
    ),
)


@given(_keys, st.text(min_size=1), st.booleans())
def test_any_position_round_trips(value: Any, id: str, backward: bool) -> None:
    codec = CursorCodec(SECRET, timedelta(minutes=10))
    decoded = codec.decode(codec.encode(SCOPE, (value, id), backward=backward), SCOPE)
    assert decoded == Cursor((value, id), backward)
