"""SET claims (RFC 8417, RFC 9967 §2.1-2.2), signing, keys kept on disk, JWKS."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime

import pytest
from joserfc.jwk import RSAKey

from scimkit import Event, EventForm, EventType
from scimkit.events import EventSigner, set_claims
from tests.events.support import InvalidSignature, verify_set

EVENT = Event(
    tenant="acme",
    jti="3d0c3cf797584bd193bd0fb1bd4e7d30",
    txn="a3b1c5",
    type=EventType.PATCH,
    resource_type="User",
    id="2819c223",
    uri="/Users/2819c223",
    iat=datetime(2026, 6, 1, 12, 0, 5, tzinfo=UTC),
    version='W/"a330bc54f0671c9"',
    external_id="hr-1",
    data={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []},
    attributes=("displayName",),
)


def test_claims_of_a_full_event():
    claims = set_claims(EVENT, issuer="https://scim.example.com/scim/v2/acme", audience="app")
    assert claims == {
        "iss": "https://scim.example.com/scim/v2/acme",
        "iat": int(EVENT.iat.timestamp()),
        "jti": EVENT.jti,
        "txn": "a3b1c5",
        "aud": "app",
        "sub_id": {"format": "scim", "uri": "/Users/2819c223", "externalId": "hr-1"},
        "events": {
            "urn:ietf:params:scim:event:prov:patch:full": {
                "data": EVENT.data,
                "version": 'W/"a330bc54f0671c9"',
            }
        },
    }


def test_claims_of_a_notice_event_without_external_id():
    claims = set_claims(
        Event.from_json({**EVENT.to_json(), "externalId": None}),
        issuer="i",
        audience=["a", "b"],
        form=EventForm.NOTICE,
    )
    assert claims["sub_id"] == {"format": "scim", "uri": "/Users/2819c223"}
    assert claims["aud"] == ["a", "b"]
    assert claims["events"] == {
        "urn:ietf:params:scim:event:prov:patch:notice": {
            "attributes": ["displayName"],
            "version": 'W/"a330bc54f0671c9"',
        }
    }


def test_signed_set_verifies_against_the_jwks():
    signer = EventSigner.generate()
    token = signer.encode(EVENT, issuer="https://x/scim/v2/acme", audience="app")
    header, claims = verify_set(token, signer.jwks())
    assert header == {"alg": "ES256", "kid": signer.kid, "typ": "secevent+jwt"}
    assert claims["jti"] == EVENT.jti
    jwk = signer.jwks()["keys"][0]
    assert jwk["use"] == "sig" and jwk["alg"] == "ES256" and "d" not in jwk


def test_a_tampered_set_fails_verification():
    signer = EventSigner.generate()
    header, payload, signature = signer.encode(EVENT, issuer="i", audience="a").split(".")
    other = EventSigner.generate().encode(EVENT, issuer="evil", audience="a").split(".")[1]
    with pytest.raises(InvalidSignature):
        verify_set(f"{header}.{other}.{signature}", signer.jwks())


def test_rs256_key():
    pem = RSAKey.generate_key(2048, private=True).as_pem(private=True)
    signer = EventSigner.from_pem(pem)
    assert signer.algorithm == "RS256"
    header, _ = verify_set(signer.encode(EVENT, issuer="i", audience="a"), signer.jwks())
    assert header["alg"] == "RS256"


def test_key_file_is_generated_once_and_kept(tmp_path):
    path = tmp_path / "events-key.pem"
    first = EventSigner.from_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = EventSigner.from_file(path)
    assert again.kid == first.kid
    token = first.encode(EVENT, issuer="i", audience="a")
    verify_set(token, again.jwks())


def test_bad_keys_are_refused(tmp_path):
    with pytest.raises(ValueError):
        EventSigner.from_pem(b"not a key")
    public_only = EventSigner.generate()._key.as_pem(private=False)
    with pytest.raises(ValueError):
        EventSigner.from_pem(public_only)
