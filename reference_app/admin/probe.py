"""The console's "Test connection": Entra's own probe, run in process against a tenant.

Entra's Test Connection (also the start of every cycle) asks for a user that cannot exist,
``GET /Users?filter=userName eq "<random GUID>"``, and the same for groups, and wants
``200`` with an empty ListResponse in ``application/scim+json``; a 404 there is a documented
quarantine reason. The probe sends exactly those requests through the SCIM routes (the token
is the one thing it cannot check: only digests of tokens are kept).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp

from scimkit import ResourceService
from scimkit.testing import ASGIClient
from scimkit.web import Principal, WebOptions, create_scim_app

__all__ = ["Probe", "ProbeResult"]

_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    request: str
    status: int
    content_type: str
    body: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class Probe:
    def __init__(self, service: ResourceService) -> None:
        async def console(request: Request, tenant: str) -> Principal:
            return Principal(tenant, "console-probe")

        # Its own app on the same service: the probe skips token checks and the request log,
        # and answers exactly as the SCIM routes Entra calls.
        self._app: ASGIApp = create_scim_app(service, WebOptions(authenticate=console))

    async def run(self, tenant: str) -> list[ProbeResult]:
        client = ASGIClient(self._app)
        guid = str(uuid.uuid4())
        probes = [
            ("/Users", f'filter=userName eq "{guid}"'),
            ("/Groups", f'excludedAttributes=members&filter=displayName eq "{guid}"'),
        ]
        results = []
        for endpoint, query in probes:
            path = f"/scim/v2/{tenant}{endpoint}"
            wire = "&".join(
                f"{k}={quote(v, safe='', encoding='utf-8').replace('%20', '+')}"
                for k, _, v in (part.partition("=") for part in query.split("&"))
            )
            response = await client.request("GET", path, query=wire.encode())
            content_type = response.headers.get("content-type", "")
            results.append(
                ProbeResult(
                    f"GET {endpoint}?{query}",
                    response.status,
                    content_type,
                    response.body.decode("utf-8", "replace"),
                    _problems(response.status, content_type, response.body),
                )
            )
        return results


def _problems(status: int, content_type: str, body: bytes) -> tuple[str, ...]:
    problems = []
    if status != 200:
        problems.append(f"status {status}, Entra expects 200 (a 404 here quarantines the job)")
    if not content_type.startswith("application/scim+json"):
        problems.append(f"Content-Type {content_type!r}, Entra expects application/scim+json")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return (*problems, "the body is not JSON")
    if not isinstance(data, dict) or _LIST not in data.get("schemas", ()):
        problems.append("the body is not a ListResponse")
    elif data.get("totalResults") != 0:
        problems.append(f"totalResults is {data.get('totalResults')}, expected 0")
    return tuple(problems)
