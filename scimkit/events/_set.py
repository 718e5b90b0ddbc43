"""Security Event Tokens (RFC 8417) for provisioning events (RFC 9967), JWS-signed.

:func:`set_claims` builds the claims of one event's SET; :class:`EventSigner` signs them with
the deployment's key (ES256 for an EC P-256 key, RS256 for an RSA key) and publishes the
public key as a JWKS document. JOSE is joserfc's: nothing here is hand-written crypto.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey, import_key

from scimkit._event import Event, EventForm

__all__ = ["SET_MEDIA_TYPE", "SET_TYPE", "EventSigner", "set_claims"]

SET_MEDIA_TYPE = "application/secevent+jwt"
"""The media type of a SET (RFC 8417 §7.2), also the ``Content-Type`` of a push (RFC 8935)."""
SET_TYPE = "secevent+jwt"
"""The JWS ``typ`` header of a SET (RFC 8417 §2.3)."""


def set_claims(
    event: Event,
    *,
    issuer: str,
    audience: str | list[str],
    form: EventForm = EventForm.FULL,
) -> dict[str, Any]:
    """The claims of the SET carrying ``event`` (RFC 8417 §2.2, RFC 9967 §2.1-2.2).

    ``iss`` is the tenant's SCIM base URL, ``sub_id`` the subject in the ``scim`` format
    (``uri`` relative to that base, ``externalId`` when the resource has one), and ``events``
    one event URI with its payload in ``form``.
    """
    subject: dict[str, Any] = {"format": "scim", "uri": event.uri}
    if event.external_id is not None:
        subject["externalId"] = event.external_id
    return {
        "iss": issuer,
        "iat": int(event.iat.timestamp()),
        "jti": event.jti,
        "txn": event.txn,
        "aud": audience,
        "sub_id": subject,
        "events": {event.event_uri(form): event.payload(form)},
    }


class EventSigner:
    """Signs SETs with one private key and publishes its public half.

    Use :meth:`generate` for a fresh P-256 key, :meth:`from_pem` for a key you hold, or
    :meth:`from_file` to load a PEM file, generating and keeping it (mode 0600) when absent.
    The ``kid`` is the key's RFC 7638 thumbprint, so a rotated key gets a new one.
    """

    def __init__(self, key: ECKey | RSAKey) -> None:
        if not key.is_private:
            raise ValueError("signing needs a private key")
        if isinstance(key, ECKey):
            if key.curve_name != "P-256":
                raise ValueError("an EC signing key must be on P-256 (ES256)")
            self.algorithm = "ES256"
        else:
            self.algorithm = "RS256"
        key.ensure_kid()
        self._key = key
        self.kid: str = key.kid or ""

    @classmethod
    def generate(cls) -> EventSigner:
        """A signer with a new ES256 (P-256) key, kept only in memory."""
        return cls(ECKey.generate_key("P-256", private=True))

    @classmethod
    def from_pem(cls, pem: bytes | str) -> EventSigner:
        """A signer with a PEM private key (EC P-256 or RSA)."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        key: ECKey | RSAKey
        try:
            key = import_key(data, "EC")
        except Exception:
            try:
                key = import_key(data, "RSA")
            except Exception as exc:
                raise ValueError("not a PEM EC P-256 or RSA private key") from exc
        if not isinstance(key, ECKey | RSAKey):
            raise ValueError("not a PEM EC P-256 or RSA private key")
        return cls(key)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> EventSigner:
        """The signer whose PEM key is at ``path``; a new P-256 key is written there if absent.

        The key is created with mode 0600 and exclusively, so two processes starting at once
        cannot both write (the loser reads the winner's key).
        """
        file = Path(path)
        if not file.exists():
            signer = cls.generate()
            try:
                descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(descriptor, "wb") as out:
                    out.write(signer.private_pem())
                return signer
        return cls.from_pem(file.read_bytes())

    def private_pem(self) -> bytes:
        """The private key as PKCS#8 PEM (to keep it)."""
        return self._key.as_pem(private=True)

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK (RFC 7517) with ``kid``, ``use`` and ``alg``."""
        public = dict(self._key.as_dict(private=False))
        public.update(kid=self.kid, use="sig", alg=self.algorithm)
        return public

    def jwks(self) -> dict[str, Any]:
        """The JWKS document served at ``/.well-known/jwks.json``."""
        return {"keys": [self.jwk()]}

    def sign(self, claims: dict[str, Any]) -> str:
        """The claims as a compact JWS with ``typ: secevent+jwt``."""
        header = {"alg": self.algorithm, "kid": self.kid, "typ": SET_TYPE}
        payload = orjson.dumps(claims, option=orjson.OPT_UTC_Z)
        return jws.serialize_compact(header, payload, self._key, algorithms=[self.algorithm])

    def encode(
        self,
        event: Event,
        *,
        issuer: str,
        audience: str | list[str],
        form: EventForm = EventForm.FULL,
    ) -> str:
        """The signed SET carrying ``event``."""
        return self.sign(set_claims(event, issuer=issuer, audience=audience, form=form))
