"""SCIM responses: ``application/scim+json`` bodies rendered with orjson (RFC 7644 §3.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

__all__ = ["LIST_RESPONSE_SCHEMA", "SCIM_MEDIA_TYPE", "SCIMResponse"]

SCIM_MEDIA_TYPE = "application/scim+json; charset=utf-8"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

# Datetimes are stored as aware UTC values; SCIM clients expect the "Z" form.
_OPTIONS = orjson.OPT_UTC_Z


class SCIMResponse(Response):
    """A SCIM JSON response; ``content=None`` sends no body and no media type (204, 304)."""

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # The media type is passed per response, not set on the class, so that a response
        # without a body does not claim one.
        media_type = None if content is None else SCIM_MEDIA_TYPE
        super().__init__(content, status_code, headers, media_type)

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        return orjson.dumps(content, option=_OPTIONS)
