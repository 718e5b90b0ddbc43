"""PATCH targets: the value filter of ``attr[filter]`` checked without the evaluator."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from scimkit import ENTRA, STRICT, USER, ResourceType
from scimkit._patch._path import record_matches, resolve_target
from scimkit._schema import Attribute, AttributeType, Schema

LABELLED = ResourceType(
    name="Labelled",
    endpoint="/Labelled",
    schema=Schema(
        id="urn:example:params:scim:schemas:Labelled",
        name="Labelled",
        attributes=(
            Attribute(
                "labels",
                AttributeType.COMPLEX,
                multi_valued=True,
                sub_attributes=(
                    Attribute("value"),
                    Attribute("type", case_exact=True),
                    Attribute("kinds", multi_valued=True),
                    Attribute("rank", AttributeType.INTEGER),
                ),
            ),
        ),
    ),
)

RECORDS: list[dict[str, Any]] = [
    {"value": "a@x", "type": "work"},
    {"value": "A@X", "type": "Work"},
    {"value": "a@x", "type": "home", "primary": True},
    {"value": "b@x"},
    {"type": "work"},
    {"value": None, "type": None},
    {"value": 5, "type": ["work"]},
    {"value": "a@x", "type": "work", "kinds": ["x", "Y"], "rank": 2},
    {"kinds": "y", "rank": "2"},
    {},
]


@pytest.mark.parametrize(
    ("resource_type", "path", "fast"),
    [
        (USER, 'emails[type eq "work"].value', True),
        (USER, 'emails[type eq "WORK" and value eq "A@x"]', True),
        (USER, 'emails[value eq "a@x" and type eq "home"].display', True),
        (USER, 'emails[type ne "work"].value', False),
        (USER, 'emails[type eq "work" or type eq "home"].value', False),
        (USER, "emails[primary eq true].value", False),
        (USER, "emails[value pr]", False),
        (LABELLED, 'labels[type eq "work"].value', True),
        (LABELLED, 'labels[type eq "Work"]', True),
        (LABELLED, 'labels[kinds eq "Y" and value eq "a@x"]', True),
        (LABELLED, "labels[rank eq 2]", False),
    ],
)
def test_the_fast_check_agrees_with_the_evaluator(
    resource_type: ResourceType, path: str, fast: bool
) -> None:
    for tolerance in (STRICT, ENTRA):
        target = resolve_target(path, resource_type, tolerance)
        assert (target.equals is not None) is fast, path
        general = replace(target, equals=None)
        for record in RECORDS:
            assert record_matches(target, record) == record_matches(general, record), record


def test_entra_s_work_email_filter_is_checked_without_the_evaluator() -> None:
    target = resolve_target('emails[type eq "work"].value', USER, ENTRA)
    assert target.equals == (("type", "work", True),)
    assert record_matches(target, {"type": "WORK", "value": "a@x"})
    assert not record_matches(target, {"type": "home", "value": "a@x"})
