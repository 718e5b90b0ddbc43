"""Request input: query parameters, SearchRequest bodies and JSON bodies within limits."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

import orjson
from starlette.requests import Request

from scimkit._errors import InvalidSyntax, InvalidValue, PayloadTooLarge, UnsupportedMediaType
from scimkit._message import message_fields
from scimkit._service import QueryParams

__all__ = [
    "REQUEST_BODY_KEY",
    "SEARCH_REQUEST_SCHEMA",
    "check_content_type",
    "header",
    "parse_attribute_list",
    "parse_query",
    "parse_search",
    "query_pairs",
    "read_body",
    "read_json",
]

SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
REQUEST_BODY_KEY = "scimkit.request_body"
"""The ASGI scope key under which scimkit leaves each request body it has read, whole.

For middleware that logs bodies: reading it from the scope once the response is sent costs
nothing per request, where wrapping ``receive`` cost every write about 3,000 instructions.
A body scimkit refused before reading it (415, 401, a ``Content-Length`` over the limit) or
while reading it (413) is not there.
"""

# Parameter names are matched case-insensitively; anything else (such as Entra's
# ``aadOptscim062020`` flag) is ignored.
_NAMES = {
    "filter": "filter",
    "sortby": "sortBy",
    "sortorder": "sortOrder",
    "startindex": "startIndex",
    "count": "count",
    "cursor": "cursor",
    "attributes": "attributes",
    "excludedattributes": "excludedAttributes",
}
_JSON_TYPES = frozenset({"application/scim+json", "application/json"})


def query_pairs(request: Request) -> dict[str, str]:
    """The SCIM query parameters of a request, by canonical name; the first occurrence wins.

    The query string is form-decoded (``+`` is a space, ``%22`` a quote), as Entra encodes it.
    """
    raw = request.scope.get("query_string", b"")
    if not raw:
        return {}
    found: dict[str, str] = {}
    # Hand-rolled rather than parse_qsl: only the few SCIM names are decoded, which matters
    # on the hot path (every Entra match query) and ignores Entra's flags for free.
    for part in raw.decode("latin-1").split("&"):
        key, _, value = part.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        name = _NAMES.get(key.lower())
        if name is not None and name not in found:
            if not value.isascii():  # raw UTF-8 bytes, not percent-encoded
                value = value.encode("latin-1").decode("utf-8", "replace")
            found[name] = _form_decoded(value)
    return found


def _form_decoded(value: str) -> str:
    """``unquote_plus(value, "utf-8", "replace")``, without its split into ASCII runs.

    The same text: a raw non-ASCII character encodes to a whole UTF-8 sequence, so decoding
    the bytes in one piece replaces exactly what decoding them run by run would.
    """
    if "+" in value:
        value = value.replace("+", " ")
    if "%" not in value:
        return value
    return unquote_to_bytes(value).decode("utf-8", "replace")


def parse_attribute_list(text: str | None) -> tuple[str, ...]:
    """``attributes`` / ``excludedAttributes``: comma-separated names (RFC 7644 §3.9)."""
    if not text:
        return ()
    return tuple(name for part in text.split(",") if (name := part.strip()))


def parse_query(pairs: dict[str, str]) -> QueryParams:
    """Query parameters of a GET (RFC 7644 §3.4.2, RFC 9865)."""
    return QueryParams(
        filter=pairs.get("filter") or None,
        sort_by=pairs.get("sortBy") or None,
        sort_order=pairs.get("sortOrder") or None,
        start_index=_int("startIndex", pairs.get("startIndex")),
        count=_int("count", pairs.get("count")),
        cursor=pairs.get("cursor"),
        attributes=parse_attribute_list(pairs.get("attributes")),
        excluded_attributes=parse_attribute_list(pairs.get("excludedAttributes")),
    )


def _int(name: str, text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidValue(f"'{name}' must be an integer.") from None


def parse_search(body: Any) -> QueryParams:
    """A SearchRequest body for ``POST .search`` (RFC 7644 §3.4.3)."""
    fields = message_fields(body, SEARCH_REQUEST_SCHEMA, "SearchRequest")
    return QueryParams(
        filter=_str(fields, "filter"),
        sort_by=_str(fields, "sortBy") or None,
        sort_order=_str(fields, "sortOrder") or None,
        start_index=_number(fields, "startIndex"),
        count=_number(fields, "count"),
        cursor=_str(fields, "cursor"),
        attributes=_names(fields, "attributes"),
        excluded_attributes=_names(fields, "excludedAttributes"),
    )


def _str(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name.lower())
    if value is None or isinstance(value, str):
        return value
    raise InvalidValue(f"'{name}' must be a string.")


def _number(fields: dict[str, Any], name: str) -> int | None:
    value = fields.get(name.lower())
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"'{name}' must be an integer.")
    return value


def _names(fields: dict[str, Any], name: str) -> tuple[str, ...]:
    value = fields.get(name.lower())
    if value is None:
        return ()
    if isinstance(value, str):  # lenient: the query-string form
        return parse_attribute_list(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    raise InvalidValue(f"'{name}' must be a list of attribute names.")


def header(request: Request, name: bytes) -> str | None:
    """The first value of the header ``name`` (lower-case, as ASGI servers give names).

    Read from the scope as sent: ``request.headers`` builds a Headers object and its ``get``
    runs through three Python calls, and a write looks up three headers.
    """
    for key, value in request.scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def check_content_type(request: Request) -> None:
    """Accept SCIM or plain JSON bodies (any letter case, UTF-8 only); else 415.

    A body without a Content-Type is accepted and must parse as JSON: RFC 7644 asks clients
    to send one, and refusing a well-formed body for its absence helps nobody.
    """
    value = header(request, b"content-type")
    if value is None:
        return
    media, _, rest = value.partition(";")
    if media.strip().lower() not in _JSON_TYPES:
        raise UnsupportedMediaType()
    for parameter in rest.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise UnsupportedMediaType("Request bodies must be encoded as UTF-8.")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed ``limit`` bytes.

    A Content-Length over the limit fails before anything is read; otherwise bytes are counted
    as they stream in, so a body without (or lying about) its length is cut off too. The body
    read is also left in the scope, under :data:`REQUEST_BODY_KEY`.
    """
    declared = header(request, b"content-length")
    if declared is not None:
        try:
            too_large = int(declared) > limit
        except ValueError:
            raise InvalidSyntax("The Content-Length header is not a number.") from None
        if too_large:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request.scope[REQUEST_BODY_KEY] = body
    return body


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body of a request: media type checked (415), size bounded (413), parsed (400)."""
    check_content_type(request)
    body = await read_body(request, limit)
    if not body:
        raise InvalidSyntax("The request needs a JSON body.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidSyntax("The request body is not valid JSON.") from None
