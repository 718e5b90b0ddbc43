"""What a PATCH changes: the description a store applies without rewriting the whole resource."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["MemberDelta", "PatchResult"]


@dataclass(frozen=True, slots=True)
class MemberDelta:
    """Changes to a multi-valued ``members`` attribute, as member values added and ids removed.

    With ``replace`` true, ``added`` is the complete new member list and the other parts are
    empty. ``added`` and ``rewritten`` hold canonical member objects (``value`` plus optional
    ``type``, ``display``, ``$ref``); ``removed`` holds member ids (``value``). Adding a present
    member and removing an absent one are no-ops for the store. ``rewritten`` holds members
    removed and added again by one PATCH: the store keeps them in exactly this form, present
    or not, as a PATCH on the loaded list would. An id is in at most one of the three parts,
    so a store may apply them in any order.
    """

    added: tuple[dict[str, Any], ...] = ()
    removed: tuple[str, ...] = ()
    replace: bool = False
    rewritten: tuple[dict[str, Any], ...] = ()

    def __bool__(self) -> bool:
        return self.replace or bool(self.added) or bool(self.removed) or bool(self.rewritten)


@dataclass(frozen=True, slots=True)
class PatchResult:
    """The outcome of applying a PATCH request to a resource.

    ``resource`` is the complete new resource, except that ``members`` is absent when the engine
    ran without the member list loaded; then ``member_delta`` carries the member changes.
    ``changed`` is false for a PATCH that changed nothing (the store must not bump the version).
    ``changed_attributes`` names the top-level keys (attribute names or extension URNs) whose
    values differ from the original, so a store may write only those.
    """

    resource: dict[str, Any]
    changed: bool
    member_delta: MemberDelta = field(default_factory=MemberDelta)
    changed_attributes: frozenset[str] = frozenset()
