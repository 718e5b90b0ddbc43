"""Sample resources and a test resource type with every attribute type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scimkit._resource_type import ResourceType, SchemaExtension
from scimkit._schema import Attribute, AttributeType, Returned, Schema

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


BJENSEN: dict[str, Any] = {
    "schemas": [CORE, ENTERPRISE],
    "id": "u1",
    "userName": "bjensen",
    "name": {"familyName": "O'Malley", "givenName": "Barbara"},
    "title": "Tour Guide",
    "userType": "Employee",
    "active": True,
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
    "meta": {"lastModified": utc(2011, 5, 13, 4, 42, 34)},
    ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "26118915-6090-4610-87e4"}},
}
JSMITH: dict[str, Any] = {
    "schemas": [CORE],
    "id": "u2",
    "userName": "JSmith",
    "userType": "Intern",
    "active": False,
    "emails": [{"value": "js@example.org", "type": "home"}],
    "ims": [{"value": "js@foo.com", "type": "xmpp"}],
    "meta": {"lastModified": utc(2012, 1, 1)},
}
JANE: dict[str, Any] = {
    "schemas": [CORE],
    "id": "u3",
    "userName": "jane",
    "title": "",
    "userType": "Employee",
    "emails": [
        {"value": "jane@other.net", "type": "work"},
        {"value": "jane@example.com", "type": "home"},
    ],
    "meta": {"lastModified": utc(2010, 1, 1)},
}
ALICE: dict[str, Any] = {"schemas": [CORE], "id": "u4", "userName": "alice"}

USERS = [BJENSEN, JSMITH, JANE, ALICE]


WIDGET_SCHEMA = Schema(
    id="urn:example:params:scim:schemas:Widget",
    name="Widget",
    attributes=(
        Attribute("label"),
        Attribute("code", case_exact=True),
        Attribute("count", AttributeType.INTEGER),
        Attribute("score", AttributeType.DECIMAL),
        Attribute("flag", AttributeType.BOOLEAN),
        Attribute("born", AttributeType.DATETIME),
        Attribute("blob", AttributeType.BINARY),
        Attribute("link", AttributeType.REFERENCE, reference_types=("external",)),
        Attribute("tags", multi_valued=True),
        Attribute("secret", returned=Returned.NEVER),
        Attribute(
            "parts",
            AttributeType.COMPLEX,
            multi_valued=True,
            sub_attributes=(
                Attribute("value"),
                Attribute("size", AttributeType.INTEGER),
                Attribute("aliases", multi_valued=True),
            ),
        ),
        Attribute(
            "spec",
            AttributeType.COMPLEX,
            sub_attributes=(Attribute("width", AttributeType.DECIMAL), Attribute("note")),
        ),
    ),
)
WIDGET_EXTENSION = Schema(
    id="urn:example:params:scim:schemas:extension:1.0:Widget",
    name="WidgetExtension",
    attributes=(Attribute("origin"),),
)
WIDGET = ResourceType(
    name="Widget",
    endpoint="/Widgets",
    schema=WIDGET_SCHEMA,
    extensions=(SchemaExtension(WIDGET_EXTENSION),),
)
