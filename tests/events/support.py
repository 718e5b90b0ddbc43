"""Helpers for the event tests: independent SET verification, events of a tenant."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(text: str) -> int:
    return int.from_bytes(b64decode(text), "big")


def verify_set(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS against a JWKS document without joserfc; (header, claims).

    Written against RFC 7515/7518 with the ``cryptography`` primitives only, so a SET that
    passes was signed as the standards say, not merely as scimkit's JOSE library reads it.
    """
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64decode(header_b64))
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == header["kid"]]
    signed = f"{header_b64}.{payload_b64}".encode("ascii")
    signature = b64decode(signature_b64)
    if header["alg"] == "ES256":
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
        public = ec.EllipticCurvePublicNumbers(
            _int(jwk["x"]), _int(jwk["y"]), ec.SECP256R1()
        ).public_key()
        assert len(signature) == 64
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    elif header["alg"] == "RS256":
        rsa_public = rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
        rsa_public.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    else:  # pragma: no cover - a test failure names the algorithm
        raise AssertionError(f"unexpected alg {header['alg']}")
    return header, json.loads(b64decode(payload_b64))


__all__ = ["InvalidSignature", "b64decode", "verify_set"]
