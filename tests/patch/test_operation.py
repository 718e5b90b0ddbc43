"""The PatchOp message (RFC 7644 §3.5.2): structure checks and op-name policy."""

from __future__ import annotations

from typing import Any

import pytest

from scimkit import ENTRA, STRICT, InvalidSyntax, PatchOperation, parse_patch
from tests.patch.support import PATCH_OP, body


def test_operations_come_back_in_order_with_lower_case_ops():
    ops = parse_patch(
        body(
            {"op": "add", "path": "nickName", "value": "Babs"},
            {"op": "remove", "path": "title"},
            {"op": "replace", "value": {"displayName": "B"}},
        )
    )
    assert ops == (
        PatchOperation("add", "nickName", "Babs"),
        PatchOperation("remove", "title"),
        PatchOperation("replace", None, {"displayName": "B"}),
    )


def test_message_attribute_names_are_case_insensitive():
    """RFC 7643 §2.1: attribute names, message attributes included, are case-insensitive."""
    ops = parse_patch({"SCHEMAS": [PATCH_OP], "operations": [{"OP": "add", "Value": {"a": 1}}]})
    assert ops == (PatchOperation("add", None, {"a": 1}),)


@pytest.mark.parametrize("op", ["Add", "Replace", "Remove", "ADD", "rEpLaCe"])
def test_capitalised_ops_are_refused_in_strict_mode_and_accepted_for_entra(op: str):
    """Entra's default job sends ``Add``/``Replace``/``Remove`` (entra-quirks §A.1)."""
    raw = {"op": op, "path": "displayName", "value": "x"}
    with pytest.raises(InvalidSyntax, match=op):
        parse_patch(body(raw), STRICT)
    assert parse_patch(body(raw), ENTRA)[0].op == op.lower()


@pytest.mark.parametrize(
    "message",
    [
        None,
        [],
        "text",
        {"Operations": [{"op": "add", "value": {}}]},
        {"schemas": "urn:ietf:params:scim:api:messages:2.0:PatchOp", "Operations": []},
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []},
        {"schemas": [PATCH_OP]},
        {"schemas": [PATCH_OP], "Operations": []},
        {"schemas": [PATCH_OP], "Operations": {"op": "add"}},
        {"schemas": [PATCH_OP], "Operations": ["add"]},
        {"schemas": [PATCH_OP], "Operations": [{"path": "x", "value": 1}]},
        {"schemas": [PATCH_OP], "Operations": [{"op": 1, "value": 1}]},
        {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": 3, "value": 1}]},
        {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "x"}]},
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace"}]},
    ],
)
def test_malformed_messages_are_invalid_syntax(message: Any):
    with pytest.raises(InvalidSyntax):
        parse_patch(message, ENTRA)


@pytest.mark.parametrize("op", ["move", "copy", "test", "delete", ""])
def test_unknown_ops_are_invalid_syntax_naming_the_op(op: str):
    with pytest.raises(InvalidSyntax) as caught:
        parse_patch(body({"op": op, "path": "x", "value": 1}), ENTRA)
    assert repr(op) in caught.value.detail
    assert caught.value.to_body()["scimType"] == "invalidSyntax"


def test_remove_needs_no_value_and_null_path_means_no_path():
    ops = parse_patch(
        body({"op": "remove", "path": "title"}, {"op": "add", "path": None, "value": {}})
    )
    assert ops[0].value is None
    assert ops[1].path is None
