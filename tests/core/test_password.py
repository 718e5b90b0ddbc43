"""Password hashes: salted scrypt in a PHC-style string that verifies later."""

from __future__ import annotations

import re

import pytest

from scimkit import hash_password, verify_password

PHC = re.compile(r"\$scrypt\$ln=14,r=8,p=5\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}")


def test_a_hash_carries_its_parameters_and_salt_and_verifies():
    first, second = hash_password("hunter2"), hash_password("hunter2")
    assert PHC.fullmatch(first) and PHC.fullmatch(second)
    assert first != second  # a new salt each time
    assert verify_password("hunter2", first) and verify_password("hunter2", second)
    assert not verify_password("hunter3", first)
    assert not verify_password("", first)


def test_non_ascii_passwords_hash_as_utf8():
    stored = hash_password("pässwörd ✓")
    assert verify_password("pässwörd ✓", stored)
    assert not verify_password("passwort ✓", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "hunter2",  # a clear-text value left by an older version verifies nothing
        "",
        "$scrypt$ln=14,r=8,p=5$c2FsdA$",
        "$scrypt$ln=40,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",  # absurd cost
        "$scrypt$ln=14,r=0,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0$a",  # not base64
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    ],
)
def test_malformed_or_foreign_stored_values_verify_nothing(stored: str):
    assert verify_password("hunter2", stored) is False
