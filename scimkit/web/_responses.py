"""SCIM responses: ``application/scim+json`` bodies rendered with orjson (RFC 7644 §3.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

__all__ = ["LIST_RESPONSE_SCHEMA", "SCIM_MEDIA_TYPE", "SCIMResponse"]

SCIM_MEDIA_TYPE = "application/scim+json; charset=utf-8"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

_CONTENT_TYPE = (b"content-type", SCIM_MEDIA_TYPE.encode("latin-1"))
# Datetimes are stored as aware UTC values; SCIM clients expect the "Z" form.
_OPTIONS = orjson.OPT_UTC_Z


class SCIMResponse(Response):
    """A SCIM JSON response; ``content=None`` sends no body (204, 304).

    Headers are built directly rather than through ``Response.init_headers``: this response
    runs on every request, and its header set is always the same small one.
    """

    media_type = SCIM_MEDIA_TYPE

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.background = None
        if content is None:
            self.body = b""
            raw: list[tuple[bytes, bytes]] = []
        else:
            self.body = orjson.dumps(content, option=_OPTIONS)
            raw = [(b"content-length", str(len(self.body)).encode("latin-1")), _CONTENT_TYPE]
        if headers:
            raw.extend(
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            )
        self.raw_headers = raw

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)
