from __future__ import annotations

from reference_app.redaction import REDACTED, Redactor
from reference_app.schemas import RESOURCE_TYPES

FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"


def test_passwords_and_tokens_are_redacted_wherever_they_appear():
    redactor = Redactor(RESOURCE_TYPES)
    body = {
        "userName": "ada",
        "password": "hunter2",
        "Operations": [
            {"op": "Replace", "path": "password", "value": "p1"},
            {
                "op": "Replace",
                "path": "urn:ietf:params:scim:schemas:core:2.0:User:password",
                "value": "p2",
            },
            {"op": "Replace", "value": {"Password": "p3", "name.givenName": "Ada"}},
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "a@x"},
        ],
        FCC: {"administrator": True},
        "access_token": "t",
    }
    redacted = redactor.redact(body)
    assert "hunter2" not in str(redacted) and "p1" not in str(redacted)
    assert "p2" not in str(redacted) and "p3" not in str(redacted)
    assert redacted["password"] == REDACTED and redacted["access_token"] == REDACTED
    assert redacted["Operations"][2]["value"]["name.givenName"] == "Ada"
    assert redacted["Operations"][3]["value"] == "a@x"
    assert redacted[FCC] == {"administrator": True}
    assert body["password"] == "hunter2"  # a copy: the input is untouched


def test_never_returned_attributes_come_from_the_schemas():
    assert "password" in Redactor(RESOURCE_TYPES).names


def test_only_bodies_without_any_secret_name_skip_redaction():
    redactor = Redactor(RESOURCE_TYPES)
    assert not redactor.may_hold_secrets(b'{"userName":"ada","name":{"givenName":"Ada"}}')
    holding = [
        b'{"PassWord":"hunter2"}',
        b'{"Operations":[{"op":"replace","path":"password","value":"p"}]}',
        b'{"urn:ietf:params:scim:schemas:core:2.0:User:password":"p"}',
        b'{"x":{"Access_Token":"t"}}',
        # Escaped or non-ASCII spellings that decode or casefold to a secret name.
        b'{"p\\u0061ssword":"p"}',
        '{"pa\u017f\u017fword":"p"}'.encode(),
        b'{"displayName":"say \\"hi\\"","p\\u0061ssword":"p"}',  # after another escape
    ]
    for raw in holding:
        assert redactor.may_hold_secrets(raw), raw
    assert not redactor.may_hold_secrets(b'{"displayName":"say \\"hi\\""}')
    assert redactor.is_secret("pa\u017f\u017fword")


def test_responses_are_clean_unless_a_returned_attribute_has_a_secret_name():
    from scimkit import ResourceType, Schema

    assert Redactor(RESOURCE_TYPES).responses_clean
    urn = "urn:example:params:scim:schemas:extension:keys:2.0:User"
    keys = Schema.from_json(
        {"id": urn, "name": "Keys", "attributes": [{"name": "apiKey", "type": "string"}]}
    )
    with_keys = ResourceType(
        name="Device", endpoint="/Devices", schema=keys, description="returns an apiKey"
    )
    assert not Redactor((*RESOURCE_TYPES, with_keys)).responses_clean
