"""The ``meta`` block and entity tags (RFC 7643 §3.1, RFC 7644 §3.14). Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scimkit._resource_type import ResourceType

__all__ = ["etag_matches", "location", "new_meta", "parse_etags", "utc_now"]


def utc_now() -> datetime:
    """The current time in UTC, truncated to milliseconds (what every store can keep)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_meta(resource_type: ResourceType, now: datetime) -> dict[str, Any]:
    """``meta`` for a resource created at ``now`` (the store adds ``version``)."""
    return {"resourceType": resource_type.name, "created": now, "lastModified": now}


def location(base_url: str, resource_type: ResourceType, id: str) -> str:
    """The resource's URI under the service's base URL (``meta.location``, ``Location``)."""
    return f"{base_url.rstrip('/')}{resource_type.endpoint}/{id}"


def parse_etags(header: str) -> tuple[str, ...] | None:
    """Entity tags of an If-Match / If-None-Match header; ``None`` stands for ``*``.

    Tags are returned without the weak prefix: SCIM compares versions weakly.
    """
    header = header.strip()
    if header == "*":
        return None
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag[:2] in ("W/", "w/"):
            tag = tag[2:]
        if tag:
            tags.append(tag)
    return tuple(tags)


def etag_matches(version: str | None, tags: tuple[str, ...] | None) -> bool:
    """Whether a resource at ``version`` matches parsed tags (weak comparison)."""
    if version is None:
        return False
    if tags is None:
        return True
    opaque = version[2:] if version[:2] in ("W/", "w/") else version
    return opaque in tags
