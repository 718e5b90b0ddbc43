from __future__ import annotations

from reference_app.admin.passwords import hash_password, verify_password


def test_a_hash_verifies_only_its_password_and_is_salted():
    first = hash_password("s3cret-passphrase")
    second = hash_password("s3cret-passphrase")
    assert first != second  # a fresh salt each time
    assert "s3cret" not in first
    assert first.startswith("scrypt$15$8$1$")
    assert verify_password("s3cret-passphrase", first)
    assert verify_password("s3cret-passphrase", second)
    assert not verify_password("s3cret-passphrasE", first)


def test_malformed_or_foreign_hashes_never_verify():
    assert not verify_password("x", "")
    assert not verify_password("x", "bcrypt$2b$xx")
    assert not verify_password("x", "scrypt$15$8$1$not-base64!$AAAA")
