"""Group membership as a delta, so a store can apply member changes without the member list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scimkit._patch_result import MemberDelta
from scimkit._schema import Attribute
from scimkit._store import members_by_id

__all__ = ["MemberChanges", "diff_members"]


class MemberChanges:
    """Member operations folded, in order, into one delta.

    Each id ends up in at most one of ``added``, ``removed`` and ``rewritten``, and the later
    operation wins, so the delta means the same whichever order a store applies its parts in.
    A member removed and then added again is ``rewritten``: on the loaded list the add would
    append the new form, so the store must not keep the stored one. After a ``replace`` (or a
    ``remove`` of all members) the delta holds the whole new list.
    """

    __slots__ = ("_added", "_removed", "_replace", "_rewritten")

    def __init__(self) -> None:
        self._added: dict[str, dict[str, Any]] = {}
        self._removed: dict[str, None] = {}
        self._rewritten: dict[str, dict[str, Any]] = {}
        self._replace = False

    def add(self, members: Iterable[dict[str, Any]]) -> None:
        for member in members:
            ident = member["value"]
            if ident in self._removed:
                del self._removed[ident]
                self._rewritten[ident] = member
            elif ident not in self._rewritten:
                # A member already added keeps its first form: adding it again changes nothing.
                self._added.setdefault(ident, member)

    def remove(self, ids: Iterable[str]) -> None:
        for ident in ids:
            self._added.pop(ident, None)
            self._rewritten.pop(ident, None)
            if not self._replace:
                self._removed[ident] = None

    def replace_all(self, members: Iterable[dict[str, Any]]) -> None:
        self._added = {}
        self._removed = {}
        self._rewritten = {}
        self._replace = True
        self.add(members)

    def delta(self) -> MemberDelta:
        return MemberDelta(
            added=tuple(self._added.values()),
            removed=tuple(self._removed),
            replace=self._replace,
            rewritten=tuple(self._rewritten.values()),
        )


def diff_members(
    before: Mapping[str, Any], after: Mapping[str, Any], attribute: Attribute
) -> MemberDelta:
    """The delta between two loaded member lists.

    A member present in both but changed (another ``type`` or ``display``) cannot be expressed
    as an add of a present member (a no-op for the store), so then the delta is a replacement.
    """
    old = members_by_id(before.get(attribute.name))
    new = members_by_id(after.get(attribute.name))
    if any(old[ident] != member for ident, member in new.items() if ident in old):
        return MemberDelta(added=tuple(new.values()), replace=True)
    return MemberDelta(
        added=tuple(member for ident, member in new.items() if ident not in old),
        removed=tuple(ident for ident in old if ident not in new),
    )
