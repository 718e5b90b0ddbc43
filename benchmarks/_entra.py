"""What Microsoft Entra ID sends: headers, create bodies, PATCH dialects, match queries.

Shapes from ``shared/reference/entra-requests.md`` (the section numbers below are its own),
with the FCC extension ``urn:ietf:params:scim:schemas:extension:fcc:2.0:User`` sent but not
listed in ``schemas`` (D6). Every benchmark builds its requests here, so the simulator, the
ceiling runner and the micro-benchmarks send the same bytes for the same step.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json"
EXTERNAL_ID = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
_DEPARTMENTS = ("Sales", "Finance", "Engineering", "Support", "Legal", "Operations")


def headers(token: str) -> dict[str, str]:
    """The headers Entra sends with every request (the Secret Token as bearer)."""
    return {
        "Authorization": f"Bearer {token}",
        "Accept": SCIM_JSON,
        "Content-Type": f"{SCIM_JSON}; charset=utf-8",
    }


def filter_query(attribute: str, value: str) -> str:
    """Entra's wire form: ``filter=userName+eq+%22value%22`` (space as +, quotes as %22)."""
    return "filter=" + quote_plus(f'{attribute} eq "{value}"')


def random_case(text: str, rng: random.Random) -> str:
    """``text`` in random letter case.

    Entra looks each user up by a filter naming that user, so no filter text repeats within a
    cycle; ``userName`` matches case-insensitively, so random case gives distinct texts for the
    same seeded users and a server's filter cache misses as it would under Entra.
    """
    return "".join(c.upper() if rng.random() < 0.5 else c for c in text)


# --- users and groups -------------------------------------------------------------------------


@dataclass
class SimUser:
    """One user as Entra provisions it, and what the server should hold for it afterwards."""

    index: int
    user_name: str
    external_id: str
    given: str
    family: str
    email: str
    department: str
    administrator: bool
    login_disabled: bool = False
    active: bool = True
    id: str | None = None
    dialect: str | None = None


def make_users(count: int, prefix: str, rng: random.Random) -> list[SimUser]:
    """``count`` distinct users named ``user<index>.<prefix>@contoso.example``."""
    users = []
    for index in range(count):
        # Draw in this order: a seed gives the same users as in earlier published runs.
        family = f"Family{rng.randrange(10**6):06d}"
        user_name = f"user{index:06d}.{prefix}@contoso.example"
        users.append(
            SimUser(
                index=index,
                user_name=user_name,
                external_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                given=f"Given{index:06d}",
                family=family,
                email=user_name,
                department=rng.choice(_DEPARTMENTS),
                administrator=index % 50 == 0,
            )
        )
    return users


def sample_user(index: int = 1) -> SimUser:
    """Alice Jansen of Sales as user ``index``: the micro-benchmarks' fixed create body."""
    user_name = f"user{index:06d}@contoso.example"
    return SimUser(index, user_name, EXTERNAL_ID, "Alice", "Jansen", user_name, "Sales", False)


def user_create_body(user: SimUser, *, fcc: bool = True) -> dict[str, Any]:
    """Entra's POST /Users body (§3.2, D1 "Create User"); the FCC extension unless ``fcc=False``."""
    body: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": user.external_id,
        "userName": user.user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user.email}],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": f"{user.given} {user.family}",
            "familyName": user.family,
            "givenName": user.given,
        },
        ENTERPRISE: {"department": user.department, "employeeNumber": str(user.index)},
    }
    if fcc:
        body[FCC] = {"administrator": user.administrator, "loginDisabled": False}
    body["roles"] = []
    return body


def group_create_body(display_name: str, external_id: str) -> dict[str, Any]:
    """Entra's POST /Groups body, with the ADSCIM marker URN."""
    return {
        "schemas": [CORE_GROUP, ADSCIM_GROUP],
        "externalId": external_id,
        "displayName": display_name,
        "meta": {"resourceType": "Group"},
    }


# --- PATCH dialects (§4, §5.1) ----------------------------------------------------------------


def patch_message(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def members_patch(op: str, ids: Sequence[str]) -> dict[str, Any]:
    """``Add`` or ``Remove`` of members, each as Entra writes it (``"$ref": null``)."""
    members = [{"$ref": None, "value": i} for i in ids]
    return patch_message({"op": op, "path": "members", "value": members})


def replace_email_and_family(email: str, family: str) -> dict[str, Any]:
    """The default dialect: capitalised ``Replace`` of the work email and ``name.familyName``."""
    return patch_message(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": email},
        {"op": "Replace", "path": "name.familyName", "value": family},
    )


def replace_given_name(given: str, formatted: str) -> dict[str, Any]:
    """The default dialect on ``name.givenName`` and ``name.formatted``."""
    return patch_message(
        {"op": "Replace", "path": "name.givenName", "value": given},
        {"op": "Replace", "path": "name.formatted", "value": formatted},
    )


def disable() -> dict[str, Any]:
    """Disabling: ``Replace active`` with the string ``"False"``."""
    return patch_message({"op": "Replace", "path": "active", "value": "False"})


def fcc_flag_and_department(flag: str, department: str) -> dict[str, Any]:
    """A string Boolean ``"True"`` on an FCC flag, then ``Add`` of the enterprise department."""
    return patch_message(
        {"op": "Replace", "path": f"{FCC}:{flag}", "value": "True"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": department},
    )


def optscim062020(
    email: str, given: str, formatted: str, administrator: bool, department: str
) -> dict[str, Any]:
    """The ``aadOptscim062020`` dialect: lower-case ops, path-less ``replace`` with dotted keys."""
    return patch_message(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": email},
        {
            "op": "replace",
            "value": {
                "name.givenName": given,
                "name.formatted": formatted,
                f"{FCC}:administrator": administrator,
                f"{ENTERPRISE}:department": department,
            },
        },
    )
