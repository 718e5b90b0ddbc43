"""copy_json: the deep copy every store view and the PATCH engine's working copy rely on."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from scimkit._types import copy_json


def test_containers_are_copied_at_every_depth_and_leaves_are_kept() -> None:
    moment = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    resource: dict[str, Any] = {
        "userName": "bjensen",
        "active": True,
        "emails": [{"type": "work", "value": "b@example.com", "primary": True}],
        "name": {"familyName": "Jensen"},
        "meta": {"created": moment, "version": 'W/"1"'},
        "urn:ext": {"manager": {"value": "m1"}, "tags": [["a"]]},
        "score": 1.5,
        "none": None,
    }
    copied = copy_json(resource)

    assert copied == resource
    assert copied["meta"]["created"] is moment
    copied["emails"][0]["value"] = "x"
    copied["name"]["familyName"] = "x"
    copied["urn:ext"]["manager"]["value"] = "x"
    copied["urn:ext"]["tags"][0].append("b")
    assert resource["emails"][0]["value"] == "b@example.com"
    assert resource["name"] == {"familyName": "Jensen"}
    assert resource["urn:ext"] == {"manager": {"value": "m1"}, "tags": [["a"]]}


def test_a_dict_subclass_inside_is_copied_too() -> None:
    inner = OrderedDict(value="m1")
    copied = copy_json({"manager": inner})
    assert copied["manager"] == {"value": "m1"} and copied["manager"] is not inner
