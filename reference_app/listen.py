"""``reference-app events listen``: watch a tenant's provisioning events live, one line each.

It is an RFC 8936 poll receiver: it long-polls ``{Tenant URL}/Events`` with an events token,
verifies each SET's signature against the JWKS published at the app root
(``/.well-known/jwks.json``), prints it, and acknowledges what it printed in its next poll (which
follows at once), so a restart neither loses nor repeats a printed event. A SET whose signature
does not verify is printed to stderr and reported back in ``setErrs`` (``invalid_key``).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from scimkit import EventType
from scimkit.events import SET_TYPE

__all__ = ["ListenError", "describe", "jwks_url_of", "listen"]

_PROV = "urn:ietf:params:scim:event:prov:"
_RETRY = 2.0


class ListenError(Exception):
    """The listener cannot go on (a refused token, a server that is not an events feed)."""


def jwks_url_of(tenant_url: str) -> str:
    """The JWKS URL at the root of the app serving ``tenant_url``."""
    parts = urlsplit(tenant_url)
    return f"{parts.scheme}://{parts.netloc}/.well-known/jwks.json"


def describe(claims: dict[str, Any]) -> str:
    """One line for a SET: time, event, resource, who, and what changed."""
    when = datetime.fromtimestamp(int(claims.get("iat", 0)), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = claims.get("sub_id") or {}
    words = [when]
    for uri, payload in (claims.get("events") or {}).items():
        name = uri.removeprefix(_PROV)
        kind = name.split(":")[0]
        words.append(f"prov:{kind}" if kind in EventType.__members__.values() else uri)
        words.append(str(subject.get("uri", "?")))
        data = payload.get("data") if isinstance(payload, dict) else None
        if subject.get("externalId"):
            words.append(f"externalId={subject['externalId']}")
        if isinstance(data, dict):
            for key in ("userName", "displayName"):
                if isinstance(data.get(key), str):
                    words.append(f"{key}={data[key]}")
        changed = _changed(payload, data)
        if changed:
            words.append("changed: " + ", ".join(changed))
    return "  ".join(words)


def _changed(payload: Any, data: Any) -> list[str]:
    if isinstance(payload, dict) and isinstance(payload.get("attributes"), list):
        return [str(path) for path in payload["attributes"]]
    if isinstance(data, dict) and isinstance(data.get("Operations"), list):
        changed = []
        for operation in data["Operations"]:
            if isinstance(operation, dict):
                target = operation.get("path")
                if not target and isinstance(operation.get("value"), dict):
                    target = ", ".join(operation["value"])
                changed.append(f"{operation.get('op', '?')} {target or '?'}")
        return changed
    return []


async def listen(
    tenant_url: str,
    token: str,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    jwks_url: str | None = None,
    max_events: int = 100,
    client: httpx.AsyncClient | None = None,
) -> None:
    """Poll and print until cancelled (Ctrl-C); :class:`ListenError` when it cannot go on."""
    own = client is None
    http = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=90.0))
    try:
        keys = await _keys(http, jwks_url or jwks_url_of(tenant_url))
        url = tenant_url.rstrip("/") + "/Events"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        ack: list[str] = []
        errors: dict[str, dict[str, str]] = {}
        while True:
            body = {"maxEvents": max_events, "returnImmediately": False, "ack": ack}
            if errors:
                body["setErrs"] = errors
            try:
                response = await http.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                print(f"{url} did not answer ({exc!r}); retrying", file=err, flush=True)
                await asyncio.sleep(_RETRY)
                continue
            if response.status_code == 401:
                raise ListenError(f"{url} refused the events token (401)")
            if response.status_code >= 500:
                print(f"{url} answered {response.status_code}; retrying", file=err, flush=True)
                await asyncio.sleep(_RETRY)
                continue
            if response.status_code != 200:
                raise ListenError(f"{url} answered {response.status_code}: {response.text[:300]}")
            answer = response.json()
            ack, errors = [], {}
            for jti, compact in (answer.get("sets") or {}).items():
                claims = _verified(compact, keys)
                if claims is None:
                    print(f"SET {jti}: the signature does not verify", file=err, flush=True)
                    errors[jti] = {"err": "invalid_key", "description": "signature not verified"}
                    continue
                print(describe(claims), file=out, flush=True)
                ack.append(jti)
    finally:
        if own:
            await http.aclose()


async def _keys(http: httpx.AsyncClient, url: str) -> KeySet:
    try:
        response = await http.get(url)
        response.raise_for_status()
        return KeySet.import_key_set(response.json())
    except (httpx.HTTPError, ValueError, JoseError) as exc:
        raise ListenError(f"cannot read the signing keys at {url}: {exc}") from None


def _verified(compact: str, keys: KeySet) -> dict[str, Any] | None:
    try:
        found = jws.deserialize_compact(compact, keys, algorithms=["ES256", "RS256"])
    except (JoseError, ValueError):
        return None
    if found.headers().get("typ") != SET_TYPE:
        return None
    claims: dict[str, Any] = orjson.loads(found.payload)
    return claims
