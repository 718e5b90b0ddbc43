"""Built-in schemas and resource types: User, Group, EnterpriseUser (RFC 7643 §4) and discovery.

Attribute characteristics follow RFC 7643 §4 and §8.7; descriptions are ours and brief.
"""

from __future__ import annotations

from scimkit._resource_type import ResourceType, SchemaExtension
from scimkit._schema import Attribute, AttributeType, Mutability, Returned, Schema, Uniqueness

__all__ = [
    "ENTERPRISE_USER_SCHEMA",
    "GROUP",
    "GROUP_SCHEMA",
    "RESOURCE_TYPE_SCHEMA",
    "SCHEMA_SCHEMA",
    "SERVICE_PROVIDER_CONFIG_SCHEMA",
    "USER",
    "USER_SCHEMA",
]

_STR = AttributeType.STRING
_BOOL = AttributeType.BOOLEAN
_REF = AttributeType.REFERENCE
_CPLX = AttributeType.COMPLEX
_RO = Mutability.READ_ONLY
_IMM = Mutability.IMMUTABLE


def _strings(*names: str) -> tuple[Attribute, ...]:
    """Plain string attributes: optional, readWrite, caseExact=false, no description."""
    return tuple(Attribute(name) for name in names)


def _multi(
    name: str,
    types: tuple[str, ...],
    description: str,
    *,
    value_type: AttributeType = _STR,
    reference_types: tuple[str, ...] = (),
) -> Attribute:
    """A multi-valued complex attribute of the usual value/display/type/primary shape."""
    return Attribute(
        name,
        _CPLX,
        multi_valued=True,
        description=description,
        sub_attributes=(
            Attribute("value", value_type, reference_types=reference_types),
            Attribute("display"),
            Attribute("type", canonical_values=types),
            Attribute("primary", _BOOL),
        ),
    )


USER_SCHEMA = Schema(
    id="urn:ietf:params:scim:schemas:core:2.0:User",
    name="User",
    description="User Account",
    attributes=(
        Attribute(
            "userName",
            required=True,
            uniqueness=Uniqueness.SERVER,
            description="Unique identifier for the user, used to sign in.",
        ),
        Attribute(
            "name",
            _CPLX,
            description="The components of the user's name.",
            sub_attributes=_strings(
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix",
            ),
        ),
        Attribute("displayName", description="Name shown to end users."),
        Attribute("nickName", description="Casual name."),
        Attribute("profileUrl", _REF, reference_types=("external",)),
        Attribute("title", description="Job title."),
        Attribute("userType", description="Relationship to the organization."),
        Attribute("preferredLanguage", description="Preferred language (RFC 7231 §5.3.5)."),
        Attribute("locale", description="Default location for localisation."),
        Attribute("timezone", description="Time zone in IANA format."),
        Attribute("active", _BOOL, description="Whether the account is active."),
        Attribute(
            "password",
            mutability=Mutability.WRITE_ONLY,
            returned=Returned.NEVER,
            description="Clear-text password; never returned.",
        ),
        _multi("emails", ("work", "home", "other"), "Email addresses."),
        _multi(
            "phoneNumbers", ("work", "home", "mobile", "fax", "pager", "other"), "Phone numbers."
        ),
        _multi(
            "ims",
            ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
            "Instant messaging addresses.",
        ),
        _multi(
            "photos",
            ("photo", "thumbnail"),
            "URLs of images of the user.",
            value_type=_REF,
            reference_types=("external",),
        ),
        Attribute(
            "addresses",
            _CPLX,
            multi_valued=True,
            description="Physical mailing addresses.",
            sub_attributes=(
                *_strings(
                    "formatted", "streetAddress", "locality", "region", "postalCode", "country"
                ),
                Attribute("type", canonical_values=("work", "home", "other")),
                Attribute("primary", _BOOL),
            ),
        ),
        Attribute(
            "groups",
            _CPLX,
            multi_valued=True,
            mutability=_RO,
            description="Groups the user belongs to; derived from group membership.",
            sub_attributes=(
                Attribute("value", mutability=_RO),
                Attribute("$ref", _REF, mutability=_RO, reference_types=("User", "Group")),
                Attribute("display", mutability=_RO),
                Attribute("type", mutability=_RO, canonical_values=("direct", "indirect")),
            ),
        ),
        _multi("entitlements", (), "Entitlements of the user."),
        _multi("roles", (), "Roles of the user."),
        _multi(
            "x509Certificates",
            (),
            "X.509 certificates of the user.",
            value_type=AttributeType.BINARY,
        ),
    ),
)

GROUP_SCHEMA = Schema(
    id="urn:ietf:params:scim:schemas:core:2.0:Group",
    name="Group",
    description="Group",
    attributes=(
        Attribute("displayName", required=True, description="Human-readable name of the group."),
        Attribute(
            "members",
            _CPLX,
            multi_valued=True,
            description="Members of the group.",
            sub_attributes=(
                Attribute("value", mutability=_IMM, case_exact=True),
                Attribute("$ref", _REF, mutability=_IMM, reference_types=("User", "Group")),
                Attribute("type", mutability=_IMM, canonical_values=("User", "Group")),
                Attribute("display", mutability=_IMM),
            ),
        ),
    ),
)

ENTERPRISE_USER_SCHEMA = Schema(
    id="urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        Attribute("employeeNumber", description="Identifier assigned by the organization."),
        *_strings("costCenter", "organization", "division", "department"),
        Attribute(
            "manager",
            _CPLX,
            description="The user's manager.",
            sub_attributes=(
                Attribute("value", case_exact=True),
                Attribute("$ref", _REF, reference_types=("User",)),
                Attribute("displayName", mutability=_RO),
            ),
        ),
    ),
)

USER = ResourceType(
    name="User",
    endpoint="/Users",
    schema=USER_SCHEMA,
    extensions=(SchemaExtension(ENTERPRISE_USER_SCHEMA),),
    description="User Account",
)

GROUP = ResourceType(name="Group", endpoint="/Groups", schema=GROUP_SCHEMA, description="Group")


def _supported(name: str, *extra: Attribute) -> Attribute:
    return Attribute(
        name,
        _CPLX,
        required=True,
        mutability=_RO,
        sub_attributes=(Attribute("supported", _BOOL, required=True, mutability=_RO), *extra),
    )


_INT = AttributeType.INTEGER

SERVICE_PROVIDER_CONFIG_SCHEMA = Schema(
    id="urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
    name="Service Provider Configuration",
    description="Features of the service provider.",
    attributes=(
        Attribute("documentationUri", _REF, mutability=_RO, reference_types=("external",)),
        _supported("patch"),
        _supported(
            "bulk",
            Attribute("maxOperations", _INT, required=True, mutability=_RO),
            Attribute("maxPayloadSize", _INT, required=True, mutability=_RO),
        ),
        _supported("filter", Attribute("maxResults", _INT, required=True, mutability=_RO)),
        _supported("changePassword"),
        _supported("sort"),
        _supported("etag"),
        Attribute(
            "authenticationSchemes",
            _CPLX,
            multi_valued=True,
            required=True,
            mutability=_RO,
            sub_attributes=(
                Attribute("type", required=True, mutability=_RO),
                Attribute("name", required=True, mutability=_RO),
                Attribute("description", required=True, mutability=_RO),
                Attribute("specUri", _REF, mutability=_RO, reference_types=("external",)),
                Attribute("documentationUri", _REF, mutability=_RO, reference_types=("external",)),
                Attribute("primary", _BOOL, mutability=_RO),
            ),
        ),
    ),
)

RESOURCE_TYPE_SCHEMA = Schema(
    id="urn:ietf:params:scim:schemas:core:2.0:ResourceType",
    name="ResourceType",
    description="A type of resource the service provider serves.",
    attributes=(
        Attribute("id", mutability=_RO),
        Attribute("name", required=True, mutability=_RO),
        Attribute("description", mutability=_RO),
        Attribute("endpoint", _REF, required=True, mutability=_RO, reference_types=("uri",)),
        Attribute(
            "schema", _REF, required=True, case_exact=True, mutability=_RO, reference_types=("uri",)
        ),
        Attribute(
            "schemaExtensions",
            _CPLX,
            multi_valued=True,
            mutability=_RO,
            sub_attributes=(
                Attribute(
                    "schema",
                    _REF,
                    required=True,
                    case_exact=True,
                    mutability=_RO,
                    reference_types=("uri",),
                ),
                Attribute("required", _BOOL, required=True, mutability=_RO),
            ),
        ),
    ),
)

_ATTRIBUTE_CHARACTERISTICS: tuple[Attribute, ...] = (
    Attribute("name", required=True, case_exact=True, mutability=_RO),
    Attribute(
        "type",
        required=True,
        mutability=_RO,
        canonical_values=tuple(t.value for t in AttributeType),
    ),
    Attribute("multiValued", _BOOL, required=True, mutability=_RO),
    Attribute("description", mutability=_RO),
    Attribute("required", _BOOL, mutability=_RO),
    Attribute("canonicalValues", multi_valued=True, case_exact=True, mutability=_RO),
    Attribute("caseExact", _BOOL, mutability=_RO),
    Attribute("mutability", mutability=_RO, canonical_values=tuple(m.value for m in Mutability)),
    Attribute("returned", mutability=_RO, canonical_values=tuple(r.value for r in Returned)),
    Attribute("uniqueness", mutability=_RO, canonical_values=tuple(u.value for u in Uniqueness)),
    Attribute("referenceTypes", multi_valued=True, mutability=_RO),
)

SCHEMA_SCHEMA = Schema(
    id="urn:ietf:params:scim:schemas:core:2.0:Schema",
    name="Schema",
    description="Definition of a schema and its attributes.",
    attributes=(
        Attribute("id", required=True, mutability=_RO),
        Attribute("name", mutability=_RO),
        Attribute("description", mutability=_RO),
        Attribute(
            "attributes",
            _CPLX,
            multi_valued=True,
            required=True,
            mutability=_RO,
            sub_attributes=(
                *_ATTRIBUTE_CHARACTERISTICS,
                Attribute(
                    "subAttributes",
                    _CPLX,
                    multi_valued=True,
                    mutability=_RO,
                    sub_attributes=_ATTRIBUTE_CHARACTERISTICS,
                ),
            ),
        ),
    ),
)
