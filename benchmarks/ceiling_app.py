"""The physical limit: a bare Starlette app that speaks the SCIM wire shapes but does no SCIM work.

Its routes sit where the reference app's do (``/scim/v2/{tenant}/Users`` ...), check the bearer
token, parse request bodies with orjson and answer the same JSON shapes (a ListResponse with one
User for a filter query, the POSTed body echoed with ``id`` and ``meta``, a User for PATCH, 204
for DELETE) with the same SCIM headers (``Location``, ``ETag``), rendered with orjson. No
validation, no filter parsing, no store, no projection. ``tests/benchmarks/test_ceiling_app.py``
holds it to the reference app's answers, so that a difference in what is sent is never counted
as SCIM work. (The reference app's ``X-Request-Id``, its access log's, is not mirrored: making
it is the app's work.)

Whatever the reference app spends per request beyond this app, on the same ASGI server with the
same settings, is the SCIM work.
``python -m benchmarks.ceiling_app --port 8001 --token T [--server hypercorn|granian|uvicorn]``.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
MEDIA_TYPE = "application/scim+json"
_OPTIONS = orjson.OPT_UTC_Z


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _user(id: str, user_name: str, location: str) -> dict[str, Any]:
    """A User as the reference app renders one (same keys, nesting and value types).

    The reference app is a Fortes tenant: its users carry the FCC extension's two Booleans.
    """
    now = _now()
    return {
        "schemas": [CORE_USER, ENTERPRISE, FCC],
        "id": id,
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": True,
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "name": {"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
        ENTERPRISE: {"department": "Sales", "employeeNumber": "1"},
        FCC: {"administrator": False, "loginDisabled": False},
        "meta": {
            "resourceType": "User",
            "created": now,
            "lastModified": now,
            "version": 'W/"1"',
            "location": location,
        },
    }


class CeilingApp:
    """Holds the expected token; builds the Starlette app."""

    def __init__(self, token: str) -> None:
        self._auth = f"Bearer {token}".encode()

    def _denied(self, request: Request) -> Response | None:
        given = request.headers.get("authorization", "").encode()
        if hmac.compare_digest(given, self._auth):
            return None
        body = orjson.dumps({"schemas": [ERROR], "status": "401", "detail": "Unauthorized"})
        return Response(body, 401, media_type=MEDIA_TYPE)

    @staticmethod
    def _base(request: Request) -> str:
        return f"{request.base_url}scim/v2/{request.path_params['tenant']}"

    async def list_users(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        text = request.query_params.get("filter", "")
        first = text.find('"')
        user_name = text[first + 1 : text.rfind('"')] if first >= 0 else "someone@example.com"
        id = "2441309d85324e7793ae"
        body = {
            "schemas": [LIST_RESPONSE],
            "totalResults": 1,
            "itemsPerPage": 1,
            "startIndex": 1,
            "Resources": [_user(id, user_name, f"{self._base(request)}/Users/{id}")],
        }
        return Response(orjson.dumps(body, option=_OPTIONS), 200, media_type=MEDIA_TYPE)

    async def create(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        data = orjson.loads(await request.body())
        id = uuid.uuid4().hex
        now = _now()
        location = f"{self._base(request)}/{request.url.path.rsplit('/', 1)[-1]}/{id}"
        data["id"] = id
        data["meta"] = {
            "resourceType": "User",
            "created": now,
            "lastModified": now,
            "version": 'W/"1"',
            "location": location,
        }
        return Response(
            orjson.dumps(data, option=_OPTIONS),
            201,
            media_type=MEDIA_TYPE,
            headers={"Location": location, "ETag": 'W/"1"'},
        )

    async def patch(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        orjson.loads(await request.body())
        return self._user_response(request, "patched@example.com", 'W/"2"')

    async def get(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        return self._user_response(request, "someone@example.com", 'W/"1"')

    def _user_response(self, request: Request, user_name: str, etag: str) -> Response:
        """A 200 with a fixed User at the requested id, as the app answers GET and PATCH.

        With the app's headers: every answer carrying one resource has its ``Location``.
        """
        id = request.path_params["id"]
        location = f"{self._base(request)}/Users/{id}"
        return Response(
            orjson.dumps(_user(id, user_name, location), option=_OPTIONS),
            200,
            media_type=MEDIA_TYPE,
            headers={"Location": location, "ETag": etag},
        )

    async def delete(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        return Response(status_code=204)

    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', 200, media_type="application/json")

    def app(self) -> Starlette:
        resource_routes = []
        for endpoint in ("Users", "Groups"):
            resource_routes += [
                Route(f"/{endpoint}", self.list_users, methods=["GET"]),
                Route(f"/{endpoint}", self.create, methods=["POST"]),
                Route(f"/{endpoint}/{{id}}", self.get, methods=["GET"]),
                Route(f"/{endpoint}/{{id}}", self.patch, methods=["PATCH"]),
                Route(f"/{endpoint}/{{id}}", self.delete, methods=["DELETE"]),
            ]
        return Starlette(
            # /healthz after the SCIM routes, as in the reference app (reference_app/app.py).
            routes=[
                Mount("/scim/v2/{tenant}", routes=resource_routes),
                Route("/healthz", self.healthz, methods=["GET"]),
            ]
        )


TOKEN_VARIABLE = "SCIMKIT_CEILING_TOKEN"
"""How worker processes (granian's) learn the token: they build the app from the environment."""
FACTORY_PATH = "benchmarks.ceiling_app:app_from_environment"


def build_app(token: str) -> Starlette:
    return CeilingApp(token).app()


def app_from_environment() -> Starlette:
    """The ceiling app in a server's worker process (the token comes from the parent)."""
    return build_app(os.environ[TOKEN_VARIABLE])


def serve(token: str, host: str, port: int, server: str) -> int:
    """Serve the app on ``server`` exactly as ``reference-app serve --log-level warning`` would.

    The server options come from the reference app itself (``reference_app.servers``), so the
    ceiling and the app always run with the same server settings (timeouts, limits, loop,
    logging) and only the app differs.
    """
    from reference_app.servers import serve as serve_on
    from reference_app.settings import load_settings

    settings = load_settings(
        {"host": host, "port": port, "log_level": "warning", "server": server}, environ={}
    )
    logging.basicConfig(level=logging.WARNING)
    os.environ[TOKEN_VARIABLE] = token
    return serve_on(settings, lambda: build_app(token), FACTORY_PATH)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ceiling_app",
        description="Bare Starlette app answering SCIM shapes with no SCIM work.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--token", default="ceiling", help="expected bearer token")
    parser.add_argument(
        "--server", default="hypercorn", help="hypercorn, granian or uvicorn (as reference-app)"
    )
    args = parser.parse_args(argv)
    return serve(args.token, args.host, args.port, args.server)


if __name__ == "__main__":
    sys.exit(main())
