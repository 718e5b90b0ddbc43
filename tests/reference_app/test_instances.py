"""Several instances: two ``reference-app serve`` processes on one database act as one service.

What docs/deployment.md promises a load balancer without sticky sessions: a token rotated with
``reference-app tenant rotate`` holds on every instance at once, a cursor from one instance pages
on another (given the shared ``SCIMKIT_CURSOR_SECRET``), and what one instance writes the other
finds. Small data: every write costs milliseconds on the stand-in.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from reference_app.__main__ import main
from tests.reference_app.process import free_port, served

pytestmark = pytest.mark.mongo

CURSOR_SECRET = "shared-cursor-secret-0123456789abcdef"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
TOKEN_LINE = re.compile(r"Secret Token: (\S+)")


class Instances:
    """Clients for the instances, and the tenant commands run against their database."""

    def __init__(self, clients: list[httpx.Client], database: list[str]) -> None:
        self.clients = clients
        self._database = database

    def tenant(self, action: str, name: str) -> str:
        """``reference-app tenant ACTION NAME`` on the instances' database; the token printed."""
        printed = io.StringIO()
        with redirect_stdout(printed):
            assert main(["tenant", action, name, *self._database]) == 0
        found = TOKEN_LINE.search(printed.getvalue())
        assert found is not None
        return found.group(1)

    def statuses(self, tenant: str, token: str) -> list[int]:
        """Each instance's answer to an authenticated request with ``token``."""
        return [
            client.get(f"/scim/v2/{tenant}/Users", headers=_bearer(token)).status_code
            for client in self.clients
        ]


@pytest.fixture(scope="module")
def instances(mongodb_uri: str) -> Iterator[Instances]:
    """Two instances on one database, shared by this module's tests (each uses its own tenant)."""
    name = f"scimkit_test_{uuid.uuid4().hex[:16]}"
    database = ["--mongodb-uri", mongodb_uri, "--mongodb-database", name]
    # The secret comes from the environment, as docs/deployment.md says to give it.
    environ = {"SCIMKIT_CURSOR_SECRET": CURSOR_SECRET}
    # A stored tenant before the start, so neither instance creates the `default` one.
    Instances([], database).tenant("create", "setup")
    try:
        with (
            served(database, port=free_port(), environ=environ) as first,
            served(database, port=free_port(), environ=environ) as second,
            httpx.Client(base_url=first.base_url, timeout=5.0) as one,
            httpx.Client(base_url=second.base_url, timeout=5.0) as other,
        ):
            yield Instances([one, other], database)
    finally:
        client: MongoClient[dict[str, Any]]
        with MongoClient(mongodb_uri) as client:
            client.drop_database(name)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _scim_json(token: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"json": body, "headers": {**_bearer(token), "Content-Type": "application/scim+json"}}


def test_a_rotated_token_holds_on_every_instance_at_once(instances: Instances):
    first = instances.tenant("create", "rotating")
    # Both instances have authenticated the first token, so a cached digest would show below.
    assert instances.statuses("rotating", first) == [200, 200]

    second = instances.tenant("rotate", "rotating")
    assert instances.statuses("rotating", second) == [200, 200]
    assert instances.statuses("rotating", first) == [200, 200]  # now the secondary

    third = instances.tenant("rotate", "rotating")
    assert instances.statuses("rotating", third) == [200, 200]
    assert instances.statuses("rotating", second) == [200, 200]
    assert instances.statuses("rotating", first) == [401, 401]  # gone with the second rotation


def test_what_one_instance_writes_the_other_serves(instances: Instances):
    token = instances.tenant("create", "writing")
    one, other = instances.clients
    users = "/scim/v2/writing/Users"
    ids = set()
    for name in ("ada@example.com", "bob@example.com", "cyd@example.com"):
        created = one.post(users, **_scim_json(token, {"schemas": [USER_URN], "userName": name}))
        assert created.status_code == 201, created.text
        ids.add(created.json()["id"])

    # Entra's matching GET, on the instance that did not create the user.
    matched = other.get(
        users, params={"filter": 'userName eq "Ada@Example.com"'}, headers=_bearer(token)
    )
    assert matched.status_code == 200
    assert [user["userName"] for user in matched.json()["Resources"]] == ["ada@example.com"]
    duplicate = other.post(
        users, **_scim_json(token, {"schemas": [USER_URN], "userName": "ADA@example.com"})
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["scimType"] == "uniqueness"

    # RFC 9865 paging: the first page from one instance, the rest from the other.
    first_page = one.get(users, params={"cursor": "", "count": 2}, headers=_bearer(token)).json()
    assert len(first_page["Resources"]) == 2
    rest = other.get(
        users, params={"cursor": first_page["nextCursor"], "count": 2}, headers=_bearer(token)
    )
    assert rest.status_code == 200, rest.text
    assert "nextCursor" not in rest.json()
    paged = [user["id"] for user in first_page["Resources"] + rest.json()["Resources"]]
    assert sorted(paged) == sorted(ids)
