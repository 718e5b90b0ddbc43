"""Resource types (RFC 7643 §6) and schema-resolved attribute references.

A :class:`ResourceType` joins a core schema with its extensions and resolves attribute names,
plain, dotted or URN-qualified (``urn:...:User:manager.value``), case-insensitively, to an
:class:`AttrRef`. Everything downstream (filters, PATCH, stores) works with ``AttrRef`` values,
never with client text, so a storage field path is always built from schema names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scimkit._schema import (
    Attribute,
    AttributeType,
    Mutability,
    Returned,
    Schema,
    Uniqueness,
    discovery_meta,
)

__all__ = ["AttrRef", "COMMON_ATTRIBUTES", "ResourceType", "SchemaExtension"]

RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"

COMMON_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "id",
        case_exact=True,
        mutability=Mutability.READ_ONLY,
        returned=Returned.ALWAYS,
        uniqueness=Uniqueness.SERVER,
        description="Unique identifier assigned by the service provider.",
    ),
    Attribute(
        "externalId",
        case_exact=True,
        description="Identifier of the resource as defined by the provisioning client.",
    ),
    Attribute(
        "meta",
        AttributeType.COMPLEX,
        mutability=Mutability.READ_ONLY,
        description="Resource metadata.",
        sub_attributes=(
            Attribute("resourceType", case_exact=True, mutability=Mutability.READ_ONLY),
            Attribute("created", AttributeType.DATETIME, mutability=Mutability.READ_ONLY),
            Attribute("lastModified", AttributeType.DATETIME, mutability=Mutability.READ_ONLY),
            Attribute(
                "location",
                AttributeType.REFERENCE,
                case_exact=True,
                mutability=Mutability.READ_ONLY,
                reference_types=("uri",),
            ),
            Attribute("version", case_exact=True, mutability=Mutability.READ_ONLY),
        ),
    ),
)
"""RFC 7643 §3.1 attributes every resource has; they resolve with or without the core URN."""

_COMMON_INDEX = {a.name.lower(): a for a in COMMON_ATTRIBUTES}


@dataclass(frozen=True, slots=True)
class AttrRef:
    """An attribute resolved against a resource type.

    ``schema`` is the URN of the schema that holds the attribute; ``extension`` is true when
    that schema is an extension, whose attributes live under the URN key of the resource.
    """

    schema: str
    attribute: Attribute
    sub_attribute: Attribute | None = None
    extension: bool = False

    @property
    def target(self) -> Attribute:
        """The attribute the reference ends at (the sub-attribute if there is one)."""
        return self.sub_attribute if self.sub_attribute is not None else self.attribute

    @property
    def keys(self) -> tuple[str, ...]:
        """Canonical JSON keys leading to the value in a resource dict."""
        keys: tuple[str, ...] = (self.attribute.name,)
        if self.sub_attribute is not None:
            keys += (self.sub_attribute.name,)
        return (self.schema, *keys) if self.extension else keys

    @property
    def dotted(self) -> str:
        """Canonical text of the path: ``name.givenName``, ``urn:...:User:manager.value``."""
        text = self.attribute.name
        if self.sub_attribute is not None:
            text += "." + self.sub_attribute.name
        return f"{self.schema}:{text}" if self.extension else text

    def with_sub(self, sub_attribute: Attribute | None) -> AttrRef:
        return AttrRef(self.schema, self.attribute, sub_attribute, self.extension)


@dataclass(frozen=True, slots=True)
class SchemaExtension:
    """An extension schema of a resource type, and whether resources must carry it."""

    schema: Schema
    required: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class ResourceType:
    """A resource type: name, endpoint, core schema and extensions (RFC 7643 §6)."""

    name: str
    endpoint: str
    schema: Schema
    extensions: tuple[SchemaExtension, ...] = ()
    description: str = ""
    _by_urn: Mapping[str, Schema] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _members: Attribute | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )
    _groups: Attribute | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        by_urn = {self.schema.id.lower(): self.schema}
        for extension in self.extensions:
            key = extension.schema.id.lower()
            if key in by_urn:
                raise ValueError(f"schema {extension.schema.id} is used twice in {self.name}")
            by_urn[key] = extension.schema
        object.__setattr__(self, "_by_urn", by_urn)
        object.__setattr__(self, "_members", _members_of(self.schema))
        object.__setattr__(self, "_groups", _groups_of(self.schema))

    @property
    def id(self) -> str:
        return self.name

    @property
    def members_attribute(self) -> Attribute | None:
        """The core ``members`` attribute when resources of this type are groups, else ``None``.

        A group type has a top-level multi-valued complex ``members`` with a ``value``. Stores
        keep its values apart from the resource, as memberships; PATCH can change them as a
        delta; responses load them only when asked. Answered once, when the type is made.
        """
        return self._members

    @property
    def groups_attribute(self) -> Attribute | None:
        """The readOnly multi-valued complex ``groups`` that stores derive from memberships."""
        return self._groups

    @property
    def schema_ids(self) -> tuple[str, ...]:
        """URNs of the core schema and of every extension."""
        return (self.schema.id, *(e.schema.id for e in self.extensions))

    def schema_for(self, urn: str) -> Schema | None:
        """The core or extension schema with this URN (case-insensitive)."""
        return self._by_urn.get(urn.lower())

    def extension_schemas(self) -> Iterator[Schema]:
        return (extension.schema for extension in self.extensions)

    def resolve(
        self,
        urn: str | None,
        name: str,
        sub_attribute: str | None = None,
        *,
        extensions: bool = False,
    ) -> AttrRef | None:
        """Resolve a path given in parts, or ``None`` if the resource type has no such attribute.

        With ``extensions``, a name without URN that no core attribute has resolves to the one
        extension attribute of that name (``manager``; never when two extensions have it).
        """
        if urn is None:
            schema = self.schema
        else:
            found = self.schema_for(urn)
            if found is None:
                return None
            schema = found
        attribute = schema.attribute(name)
        if attribute is None and schema is self.schema:
            attribute = _COMMON_INDEX.get(name.lower())
            if attribute is None and extensions:
                owners = [s for s in self.extension_schemas() if s.attribute(name) is not None]
                if len(owners) == 1:
                    schema = owners[0]
                    attribute = schema.attribute(name)
        if attribute is None:
            return None
        sub: Attribute | None = None
        if sub_attribute is not None:
            sub = attribute.sub_attribute(sub_attribute)
            if sub is None:
                return None
        return AttrRef(schema.id, attribute, sub, extension=schema is not self.schema)

    def split_path(self, path: str) -> tuple[str | None, str, str | None] | None:
        """Split ``[urn:]attr[.sub]`` text into parts; ``None`` if it has no valid shape.

        The URN prefix is recognised only for schemas of this resource type (the longest match),
        because URNs themselves contain dots and colons.
        """
        urn: str | None = None
        rest = path
        if path[:4].lower() == "urn:":
            lowered = path.lower()
            for key in sorted(self._by_urn, key=len, reverse=True):
                if lowered.startswith(key + ":"):
                    urn = self._by_urn[key].id
                    rest = path[len(key) + 1 :]
                    break
            else:
                return None
        name, dot, sub = rest.partition(".")
        if not name or (dot and (not sub or "." in sub)):
            return None
        return urn, name, sub if dot else None

    def resolve_path(self, path: str) -> AttrRef | None:
        """Resolve ``[urn:]attr[.sub]`` text, or ``None`` if unknown or malformed."""
        parts = self.split_path(path)
        if parts is None:
            return None
        return self.resolve(*parts)

    def attributes(self) -> Iterator[AttrRef]:
        """Every top-level attribute of the core schema, the common ones and the extensions."""
        for attribute in COMMON_ATTRIBUTES:
            yield AttrRef(self.schema.id, attribute)
        for attribute in self.schema.attributes:
            if attribute.name.lower() not in _COMMON_INDEX:
                yield AttrRef(self.schema.id, attribute)
        for schema in self.extension_schemas():
            for attribute in schema.attributes:
                yield AttrRef(schema.id, attribute, extension=True)

    def unique_attributes(self) -> tuple[AttrRef, ...]:
        """Top-level attributes (besides ``id``) declared ``uniqueness: server`` or ``global``."""
        return tuple(
            ref
            for ref in self.attributes()
            if ref.attribute.uniqueness is not Uniqueness.NONE and ref.attribute.name != "id"
        )

    def to_json(self, location: str | None = None) -> dict[str, Any]:
        """The ResourceType resource (RFC 7643 §6)."""
        return {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": [
                {"schema": e.schema.id, "required": e.required} for e in self.extensions
            ],
            "meta": discovery_meta("ResourceType", location),
        }


def _members_of(schema: Schema) -> Attribute | None:
    attribute = _multi_valued_complex(schema, "members")
    return attribute if attribute and attribute.sub_attribute("value") is not None else None


def _groups_of(schema: Schema) -> Attribute | None:
    attribute = _multi_valued_complex(schema, "groups")
    return attribute if attribute and attribute.mutability is Mutability.READ_ONLY else None


def _multi_valued_complex(schema: Schema, name: str) -> Attribute | None:
    attribute = schema.attribute(name)
    if attribute is not None and attribute.multi_valued and attribute.is_complex:
        return attribute
    return None
