"""Way (b): the application polls the SCIM server's feed over HTTP (RFC 8936) and verifies SETs.

Each poll of ``POST {Tenant URL}/Events`` returns signed Security Event Tokens. The receiver
verifies each against the server's published keys (``/.well-known/jwks.json``, with joserfc),
applies it in one SQLite transaction that also records the SET's ``jti``, and only then
acknowledges it in its next poll. A SET delivered again (the process stopped after the commit
and before the acknowledgement) finds its ``jti`` already recorded and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from joserfc import jws
from joserfc.jwk import KeySet

from examples.accounts import Accounts, user_after
from scimkit import ResourceType

__all__ = ["PROV", "RemoteSync", "SetRejected"]

PROV = "urn:ietf:params:scim:event:prov:"
_ALGORITHMS = ["ES256", "RS256"]


class SetRejected(Exception):
    """A SET that failed verification (bad signature, wrong issuer or audience)."""


class RemoteSync:
    """Keeps ``accounts`` equal to the Users behind ``tenant_url``, by polling its event feed.

    ``events_token`` authenticates the polls (an events token, not a SCIM token);
    ``scim_token`` reads a User when an event does not say enough (a ``notice`` event, or a
    patch of a User the table has no copy of). ``users`` is the User resource type (its
    schemas, for replaying PATCHes). ``audience`` is what the server puts in ``aud``: the
    receiver's name.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        tenant_url: str,
        accounts: Accounts,
        users: ResourceType,
        *,
        events_token: str,
        scim_token: str,
        audience: str,
        max_events: int = 1000,
    ) -> None:
        self.http = http
        self.tenant_url = tenant_url.rstrip("/")
        self.accounts = accounts
        self.users = users
        self.events_token = events_token
        self.scim_token = scim_token
        self.audience = audience
        self.max_events = max_events
        self.keys: KeySet | None = None
        self._ack: list[str] = []  # committed, to acknowledge in the next poll

    async def load_keys(self) -> None:
        """Fetch the server's signing keys from ``/.well-known/jwks.json`` on its origin."""
        parts = urlsplit(self.tenant_url)
        answer = await self.http.get(f"{parts.scheme}://{parts.netloc}/.well-known/jwks.json")
        answer.raise_for_status()
        self.keys = KeySet.import_key_set(answer.json())

    async def drain(self) -> int:
        """Poll until the feed has nothing more, acknowledging as it goes; SETs applied."""
        applied = 0
        while True:
            sets, more = await self.poll(return_immediately=True)
            applied += sets
            if not sets and not more and not self._ack:
                return applied

    async def poll(self, *, return_immediately: bool = False) -> tuple[int, bool]:
        """One poll: acknowledge what was committed, apply what arrives; (SETs, more)."""
        if self.keys is None:
            await self.load_keys()
        body = {
            "ack": self._ack,
            "maxEvents": self.max_events,
            "returnImmediately": return_immediately,
        }
        answer = await self.http.post(
            f"{self.tenant_url}/Events",
            content=orjson.dumps(body),
            headers=self._bearer(self.events_token, "application/json"),
        )
        answer.raise_for_status()
        self._ack = []  # the server settled them (it answers 400 and settles none otherwise)
        reply = answer.json()
        for jti, token in reply["sets"].items():
            claims = self.verify(token)
            if claims.get("jti") != jti:
                raise SetRejected(f"SET delivered as {jti} carries jti {claims.get('jti')}")
            await self.apply(claims)
            self._ack.append(jti)
        return len(reply["sets"]), bool(reply["moreAvailable"])

    def verify(self, token: str) -> dict[str, Any]:
        """The SET's claims, after checking its signature, ``typ``, issuer and audience."""
        assert self.keys is not None
        try:
            signed = jws.deserialize_compact(token, self.keys, algorithms=_ALGORITHMS)
        except Exception as exc:  # joserfc raises several error types; all mean "not valid"
            raise SetRejected(f"SET signature not valid: {exc}") from exc
        if signed.headers().get("typ") != "secevent+jwt":
            raise SetRejected("not a SET (typ is not secevent+jwt)")
        claims: dict[str, Any] = orjson.loads(signed.payload)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss") != self.tenant_url or self.audience not in audiences:
            raise SetRejected(f"SET for {claims.get('iss')} / {audience}, not for this receiver")
        return claims

    async def apply(self, claims: Mapping[str, Any]) -> None:
        """Apply one verified SET to the table (once, however often it is delivered)."""
        ((uri, payload),) = claims["events"].items()
        kind = uri.removeprefix(PROV).split(":")[0]
        subject: str = claims["sub_id"]["uri"]
        is_user = subject.startswith("/Users/")  # the application keeps users only
        scim_id = subject.removeprefix("/Users/")
        user = None
        if is_user and kind != "delete":
            user = user_after(kind, payload, self.accounts.resource(scim_id), self.users)
            if user is None:
                user = await self._read(subject)
        with self.accounts.transaction():
            if not self.accounts.first_sight(claims["jti"]):
                return  # applied before; only its acknowledgement was lost
            if is_user and kind == "delete":
                self.accounts.remove(scim_id)
            elif user is not None:
                self.accounts.apply(user)

    async def _read(self, subject: str) -> dict[str, Any] | None:
        """The User as it is now (``None`` if deleted since: its delete event follows)."""
        answer = await self.http.get(
            self.tenant_url + subject, headers=self._bearer(self.scim_token)
        )
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        user: dict[str, Any] = answer.json()
        return user

    @staticmethod
    def _bearer(token: str, content_type: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        return headers
