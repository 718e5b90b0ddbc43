"""Several instances: two ``reference-app serve`` processes on one database act as one service.

What docs/deployment.md promises a load balancer without sticky sessions: a token rotated with
``reference-app tenant rotate`` holds on every instance at once, a cursor from one instance pages
on another (given the shared ``SCIMKIT_CURSOR_SECRET``), what one instance writes the other
finds, and both write one ordered provisioning-event feed (signed with the shared
``SCIMKIT_EVENTS_KEY``). Small data: every write costs milliseconds on the stand-in.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import httpx
import orjson
import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from pymongo import MongoClient

from reference_app.__main__ import main
from tests.reference_app.process import free_port, served

pytestmark = pytest.mark.mongo

CURSOR_SECRET = "shared-cursor-secret-0123456789abcdef"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
TOKEN_LINE = re.compile(r"(?:Secret|Events) [Tt]oken: (\S+)")


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
def instances(mongodb_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instances]:
    """Two instances on one database, shared by this module's tests (each uses its own tenant)."""
    name = f"scimkit_test_{uuid.uuid4().hex[:16]}"
    database = ["--mongodb-uri", mongodb_uri, "--mongodb-database", name]
    # The secret comes from the environment, as docs/deployment.md says to give it.
    key = tmp_path_factory.mktemp("events") / "events-key.pem"
    environ = {"SCIMKIT_CURSOR_SECRET": CURSOR_SECRET, "SCIMKIT_EVENTS_KEY": str(key)}
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


def _event_of(compact: str, keys: KeySet) -> tuple[str, str, str]:
    claims = orjson.loads(jws.deserialize_compact(compact, keys).payload)
    (uri,) = claims["events"]
    kind = re.search(r"prov:[a-z]+", uri)
    assert kind is not None, uri
    return kind.group(0), claims["sub_id"]["uri"], claims["events"][uri].get("version", "")


def test_both_instances_write_one_ordered_feed(instances: Instances):
    token = instances.tenant("create", "feeding")
    events_token = instances.tenant("events-token", "feeding")
    one, other = instances.clients
    users = "/scim/v2/feeding/Users"
    paths = []
    for number, client in enumerate((one, other, one, other)):
        body = {"schemas": [USER_URN], "userName": f"u{number}@example.com"}
        created = client.post(users, **_scim_json(token, body))
        assert created.status_code == 201, created.text
        paths.append(f"/Users/{created.json()['id']}")
    # Each user changed on the instance that did not create it, Entra's string Boolean.
    disable = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    for number, path in enumerate(paths):
        client = other if number % 2 == 0 else one
        assert client.patch(f"/scim/v2/feeding{path}", **_scim_json(token, disable)).is_success

    keys = KeySet.import_key_set(one.get("/.well-known/jwks.json").json())
    assert other.get("/.well-known/jwks.json").json() == one.get("/.well-known/jwks.json").json()
    seen: list[tuple[str, str, str]] = []
    jtis: list[str] = []
    deadline = time.monotonic() + 30
    while len(seen) < 12 and time.monotonic() < deadline:
        poller = one if len(seen) % 2 == 0 else other  # either instance serves the same feed
        answer = poller.post(
            "/scim/v2/feeding/Events",
            json={"ack": jtis[-10:], "returnImmediately": False, "maxEvents": 5},
            headers=_bearer(events_token),
            timeout=35.0,
        )
        assert answer.status_code == 200, answer.text
        for jti, compact in answer.json()["sets"].items():
            jtis.append(jti)
            seen.append(_event_of(compact, keys))
    assert len(jtis) == len(set(jtis)) == 12, seen
    for path in paths:
        # Per resource, in version order: the create, then the PATCH and its deactivation.
        mine = [event for event in seen if event[1] == path]
        assert [kind for kind, _, _ in mine] == ["prov:create", "prov:patch", "prov:deactivate"]
        versions = [version for _, _, version in mine]
        assert all(versions) and versions == sorted(versions), mine
    # The creates were acknowledged by the instances in this order, so the feed keeps it.
    creates = [uri for kind, uri, _ in seen if kind == "prov:create"]
    assert creates == paths
