"""Schemas as data (RFC 7643 §2, §7): attribute characteristics, attributes and schemas.

Definitions are frozen values. They load from, and render to, the RFC's own JSON form
(RFC 7643 §7), so an application can declare an extension as data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scimkit._errors import InvalidValue

__all__ = [
    "Attribute",
    "AttributeType",
    "Mutability",
    "Returned",
    "Schema",
    "Uniqueness",
    "discovery_meta",
]

SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def discovery_meta(resource_type: str, location: str | None) -> dict[str, Any]:
    """``meta`` of a discovery resource (RFC 7644 §4): its type, and its location when known."""
    meta: dict[str, Any] = {"resourceType": resource_type}
    if location is not None:
        meta["location"] = location
    return meta


class AttributeType(StrEnum):
    """The data type of an attribute (RFC 7643 §2.3)."""

    STRING = "string"
    BOOLEAN = "boolean"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATETIME = "dateTime"
    REFERENCE = "reference"
    BINARY = "binary"
    COMPLEX = "complex"


class Mutability(StrEnum):
    """Whether and how a client may change an attribute (RFC 7643 §7)."""

    READ_ONLY = "readOnly"
    READ_WRITE = "readWrite"
    IMMUTABLE = "immutable"
    WRITE_ONLY = "writeOnly"


class Returned(StrEnum):
    """When an attribute is returned in a response (RFC 7643 §7)."""

    ALWAYS = "always"
    NEVER = "never"
    DEFAULT = "default"
    REQUEST = "request"


class Uniqueness(StrEnum):
    """The scope in which a value must be unique (RFC 7643 §7)."""

    NONE = "none"
    SERVER = "server"
    GLOBAL = "global"


def _fold(name: str) -> str:
    return name.lower()


@dataclass(frozen=True, slots=True, eq=False)
class Attribute:
    """One attribute definition; ``sub_attributes`` are set for complex attributes."""

    name: str
    type: AttributeType = AttributeType.STRING
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: Mutability = Mutability.READ_WRITE
    returned: Returned = Returned.DEFAULT
    uniqueness: Uniqueness = Uniqueness.NONE
    description: str = ""
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    _index: Mapping[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.type is AttributeType.COMPLEX and not self.sub_attributes:
            raise ValueError(f"complex attribute {self.name!r} needs sub-attributes")
        if self.type is not AttributeType.COMPLEX and self.sub_attributes:
            raise ValueError(f"only complex attributes have sub-attributes ({self.name!r})")
        object.__setattr__(self, "_index", _index_by_name(self.sub_attributes, self.name))

    def sub_attribute(self, name: str) -> Attribute | None:
        """The sub-attribute called ``name``, matched case-insensitively (RFC 7643 §2.1)."""
        return self._index.get(_fold(name))

    @property
    def is_complex(self) -> bool:
        return self.type is AttributeType.COMPLEX

    def to_json(self) -> dict[str, Any]:
        """The attribute in RFC 7643 §7 form."""
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type.value,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
        }
        if self.type is AttributeType.COMPLEX:
            data["subAttributes"] = [sub.to_json() for sub in self.sub_attributes]
        else:
            data["caseExact"] = self.case_exact
        if self.canonical_values:
            data["canonicalValues"] = list(self.canonical_values)
        if self.type is AttributeType.REFERENCE:
            data["referenceTypes"] = list(self.reference_types)
        data["mutability"] = self.mutability.value
        data["returned"] = self.returned.value
        data["uniqueness"] = self.uniqueness.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attribute:
        """Load an attribute from RFC 7643 §7 form; raises :class:`InvalidValue` if malformed."""
        if not isinstance(data, Mapping):
            raise InvalidValue("An attribute definition must be a JSON object.")
        try:
            name = data["name"]
            if not isinstance(name, str) or not name:
                raise InvalidValue("An attribute definition needs a non-empty 'name'.")
            subs = tuple(cls.from_json(sub) for sub in data.get("subAttributes") or ())
            return cls(
                name=name,
                type=AttributeType(data.get("type", "string")),
                multi_valued=_flag(data, "multiValued"),
                required=_flag(data, "required"),
                case_exact=_flag(data, "caseExact"),
                mutability=Mutability(data.get("mutability", "readWrite")),
                returned=Returned(data.get("returned", "default")),
                uniqueness=Uniqueness(data.get("uniqueness", "none")),
                description=str(data.get("description", "")),
                canonical_values=tuple(str(v) for v in data.get("canonicalValues") or ()),
                reference_types=tuple(str(v) for v in data.get("referenceTypes") or ()),
                sub_attributes=subs,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidValue(f"Invalid attribute definition {data.get('name')!r}: {exc}") from exc


@dataclass(frozen=True, slots=True, eq=False)
class Schema:
    """A schema: a URN and its attributes (RFC 7643 §7)."""

    id: str
    name: str
    attributes: tuple[Attribute, ...]
    description: str = ""
    _index: Mapping[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _index_by_name(self.attributes, self.id))

    def attribute(self, name: str) -> Attribute | None:
        """The top-level attribute called ``name``, matched case-insensitively."""
        return self._index.get(_fold(name))

    def to_json(self, location: str | None = None) -> dict[str, Any]:
        """The schema resource in RFC 7643 §7 form."""
        return {
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [attribute.to_json() for attribute in self.attributes],
            "meta": discovery_meta("Schema", location),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Schema:
        """Load a schema from RFC 7643 §7 form; raises :class:`InvalidValue` if malformed."""
        if not isinstance(data, Mapping):
            raise InvalidValue("A schema definition must be a JSON object.")
        schema_id = data.get("id")
        if not isinstance(schema_id, str) or not schema_id.startswith("urn:"):
            raise InvalidValue("A schema definition needs an 'id' that is a URN.")
        attributes = data.get("attributes")
        if not isinstance(attributes, list):
            raise InvalidValue(f"Schema {schema_id} needs an 'attributes' list.")
        try:
            return cls(
                id=schema_id,
                name=str(data.get("name", "")),
                description=str(data.get("description", "")),
                attributes=tuple(Attribute.from_json(a) for a in attributes),
            )
        except ValueError as exc:
            raise InvalidValue(f"Invalid schema {schema_id}: {exc}") from exc


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key!r} must be a Boolean")
    return value


def _index_by_name(attributes: Iterable[Attribute], owner: str) -> dict[str, Attribute]:
    index: dict[str, Attribute] = {}
    for attribute in attributes:
        key = _fold(attribute.name)
        if key in index:
            raise ValueError(f"duplicate attribute {attribute.name!r} in {owner}")
        index[key] = attribute
    return index
