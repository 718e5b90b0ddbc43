"""Tolerance: which non-RFC request shapes (mostly Microsoft Entra's) are accepted.

A tolerance is data, chosen per call site (per tenant in an app). :data:`STRICT` accepts only
what RFC 7643/7644 allow; :data:`ENTRA` accepts every Entra shape listed in the table
"Tolerance switches" of ``docs/patch.md``, each of which ``tests/patch/test_entra.py`` sends as
Entra does. Responses are always RFC-shaped whatever the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["ENTRA", "STRICT", "Tolerance"]


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Switches for non-RFC input. Every switch off is strict RFC behaviour."""

    string_booleans: bool = False
    """Accept ``"True"``/``"False"`` (any case) where a Boolean is expected."""
    unquoted_filter_values: bool = False
    """Accept filter values without quotes (``externalId eq jyoung``), read against the
    attribute's type; see ``docs/filters.md``."""
    undeclared_extensions: bool = False
    """Accept an extension object whose URN is missing from ``schemas``."""
    unknown_schemas: bool = False
    """Ignore unknown URNs in ``schemas`` (e.g. Entra's ADSCIM group marker)."""
    patch_op_any_case: bool = False
    """Accept PATCH ``op`` in any case (``Add``, ``Replace``, ``Remove``)."""
    patch_dotted_keys: bool = False
    """In a path-less PATCH value, treat ``name.givenName`` and ``urn:...:attr`` keys as paths."""
    patch_filter_creates: bool = False
    """``add``/``replace`` on ``attr[filter].sub`` that matches nothing creates the element."""
    patch_replace_absent_adds: bool = False
    """``replace`` of an absent attribute or value acts as ``add`` instead of ``noTarget``."""
    patch_remove_by_value: bool = False
    """``remove`` with ``path: "members"`` and a value array removes those values only."""
    member_display_name: bool = False
    """A group member's ``displayName`` means ``display`` (Microsoft's SCIM reference code)."""
    patch_value_arrays: bool = False
    """Legacy ``[{"value": X}]`` arrays for single-valued attributes become ``X``."""
    unqualified_extension_paths: bool = False
    """A path or filter naming an extension attribute without its URN (``manager``) resolves
    to it when no core attribute has that name and only one extension does."""

    def with_(self, **changes: bool) -> Tolerance:
        """A copy with some switches changed."""
        return replace(self, **changes)


STRICT = Tolerance()
# Each switch exists for a shape Entra sends (docs/patch.md, "Tolerance switches"), so ENTRA is
# every switch on: a new switch joins it without being listed a second time.
ENTRA = Tolerance(**{switch.name: True for switch in fields(Tolerance)})
