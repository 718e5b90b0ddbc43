"""The PATCH engine (RFC 7644 §3.5.2): pure ``(resource, operations) -> PatchResult``."""

from __future__ import annotations

from scimkit._patch._apply import apply_patch, apply_patch_shared, needs_members
from scimkit._patch._operation import PATCH_OP_SCHEMA, PatchOperation, parse_patch

__all__ = [
    "PATCH_OP_SCHEMA",
    "PatchOperation",
    "apply_patch",
    "apply_patch_shared",
    "needs_members",
    "parse_patch",
]
