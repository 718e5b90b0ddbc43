"""The request log as the SCIM client fills it: off the request path, no headers, redacted."""

from __future__ import annotations

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from reference_app.request_log import RequestQuery
from tests.reference_app.support import TOKEN_A, scim_client, scim_json

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


async def _records(app: Starlette, tenant: str = "acme", **query):
    await app.state.activity.flush()
    return await app.state.request_log.find(tenant, RequestQuery(**query))


async def test_requests_are_recorded_with_status_resource_and_error_detail(
    app: Starlette, acme: httpx.AsyncClient
):
    created = await acme.post(
        "/Users", **scim_json({"schemas": [USER], "userName": "ada", "password": "hunter2"})
    )
    uid = created.json()["id"]
    duplicate = await acme.post("/Users", **scim_json({"schemas": [USER], "userName": "ADA"}))
    assert duplicate.status_code == 409
    await acme.get('/Users?filter=userName eq "ada"')

    lookup, conflict, create = await _records(app)
    assert (create.method, create.path, create.status) == ("POST", "/Users", 201)
    assert (create.resource_type, create.resource_id, create.resource_name) == ("Users", uid, "ada")
    assert create.duration_ms > 0
    assert conflict.status == 409 and conflict.scim_type == "uniqueness"
    assert conflict.detail and "userName" in conflict.detail
    assert lookup.resource_name == "ada" and lookup.query.startswith("filter=")
    assert "hunter2" not in (create.request_body or "")
    assert "[redacted]" in (create.request_body or "")
    assert [r.status for r in await _records(app, errors_only=True)] == [409]
    assert [r.id for r in await _records(app, resource_id=uid)] == [create.id]
    assert len(await _records(app, resource_name="ADA")) == 3


async def test_the_token_is_never_recorded(app: Starlette):
    async with scim_client(app, "acme", TOKEN_A) as client:
        await client.get("/Users")
        await client.post("/Users", **scim_json({"schemas": [USER], "userName": "x"}))
    async with scim_client(app, "acme", "wrong-token-of-some-length") as client:
        assert (await client.get("/Users")).status_code == 401
    records = await _records(app)
    assert [r.status for r in records] == [401, 201, 200]
    assert TOKEN_A not in repr(records) and "wrong-token" not in repr(records)


async def test_requests_to_unknown_tenants_are_not_kept(app: Starlette):
    async with scim_client(app, "ghost", "whatever-token") as client:
        assert (await client.get("/Users")).status_code == 401
    assert await _records(app, "ghost") == []


async def test_a_batch_tells_tenants_apart_whose_names_share_a_prefix():
    from reference_app.activity import ActivityRecorder, RawRequest
    from reference_app.redaction import Redactor
    from reference_app.request_log import MemoryRequestLog
    from reference_app.schemas import RESOURCE_TYPES

    async def exists(tenant: str) -> bool:
        return tenant in {"acme", "acme2"}

    log = MemoryRequestLog()
    recorder = ActivityRecorder(log, Redactor(RESOURCE_TYPES), exists)
    paths = ["/acme", "/acmeX/Users", "/acme/Users", "/acme2/Users/u1", "/acme/Groups", "/acme"]
    batch: list[RawRequest] = [
        (n, 0.001, "GET", "/scim/v2" + path, b"", 200, None, b"", b"{}")
        for n, path in enumerate(paths)
    ]
    await log.append_rows(await recorder._rows(batch))
    assert [r.path for r in await log.find("acme", RequestQuery())] == [
        "/",
        "/Groups",
        "/Users",
        "/",
    ]
    assert [r.path for r in await log.find("acme2", RequestQuery())] == ["/Users/u1"]
    assert await log.find("acmeX", RequestQuery()) == []


async def test_the_console_and_health_are_not_scim_requests(app: Starlette, root):
    await root.get("/healthz")
    await root.get("/admin/")
    assert await _records(app) == []


@pytest.mark.parametrize("flag", [False])
async def test_the_log_can_be_off(flag: bool):
    from tests.reference_app.support import running, two_tenants

    async with running(two_tenants(request_log=flag)) as app:
        assert app.state.activity is None and app.state.request_log is None
        async with scim_client(app, "acme", TOKEN_A) as client:
            assert (await client.get("/Users")).status_code == 200


async def test_responses_are_kept_as_sent_and_names_read_from_them(
    app: Starlette, acme: httpx.AsyncClient
):
    created = await acme.post("/Users", **scim_json({"schemas": [USER], "userName": "grace"}))
    uid = created.json()["id"]
    patched = await acme.patch(
        f"/Users/{uid}",
        **scim_json(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "password", "value": "s3cret-Value"}],
            }
        ),
    )
    assert patched.status_code == 200
    await acme.get(f"/Users/{uid}")
    read, patch, create = await _records(app)
    # Names the request does not give come from the response (PATCH and GET of one user).
    assert patch.resource_name == "grace" and read.resource_name == "grace"
    assert read.response_body == (await acme.get(f"/Users/{uid}")).text
    assert create.response_body == created.text
    assert "s3cret-Value" not in (patch.request_body or "")
    assert "[redacted]" in (patch.request_body or "")


def test_a_response_that_is_not_json_is_not_shown():
    from reference_app.activity import RawRequest, to_record
    from reference_app.redaction import Redactor
    from reference_app.schemas import RESOURCE_TYPES

    raw: RawRequest = (0, 0.001, "GET", "/scim/v2/acme/Users", b"", 405, None, b"", b"Nope")
    record = to_record(raw, "acme", "/Users", Redactor(RESOURCE_TYPES))
    assert record.response_body is not None and "Nope" not in record.response_body
    assert record.response_body.startswith("[4 bytes, not shown")


def test_a_json_body_that_is_a_bare_value_is_shown():
    from reference_app.activity import RawRequest, to_record
    from reference_app.redaction import Redactor
    from reference_app.schemas import RESOURCE_TYPES

    raw: RawRequest = (0, 0.001, "POST", "/scim/v2/acme/Users", b"", 400, None, b'"ada"', b"")
    assert to_record(raw, "acme", "/Users", Redactor(RESOURCE_TYPES)).request_body == '"ada"'


async def test_waiting_requests_are_no_work_for_the_garbage_collector():
    # What the middleware queues holds only strings, bytes and numbers, so the collector
    # stops tracking it at its first pass and the old generation never holds it.
    import gc

    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.types import Receive, Scope, Send

    from reference_app.access_log import AccessLog
    from reference_app.activity import RawRequest
    from scimkit.web import REQUEST_BODY_KEY

    async def create(scope: Scope, receive: Receive, send: Send) -> None:
        body = await Request(scope, receive).body()
        scope[REQUEST_BODY_KEY] = body  # as scimkit leaves the body it read
        name = orjson.loads(body)["userName"]
        answer = JSONResponse({"userName": name}, status_code=201, headers={"Location": "/x/1"})
        await answer(scope, receive, send)

    waiting: list[RawRequest] = []
    app = AccessLog(create, observers=(), keep=waiting.append)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.post("/scim/v2/acme/Users", json={"userName": "gc", "password": "x"})
    (raw,) = waiting
    assert raw[2:4] == ("POST", "/scim/v2/acme/Users") and raw[5:7] == (201, b"/x/1")
    assert b"password" in raw[7] and raw[8] == b'{"userName":"gc"}'
    gc.collect(0)
    assert not gc.is_tracked(raw)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        (b"filter=userName+eq+%22ada%40x.example%22", "ada@x.example"),
        (b"count=1&filter=displayName%20EQ%20%22a%5C%22b%22", 'a"b'),
        (b'filter=userName eq "j\xc3\xbcrgen"', "j\xc3\xbcrgen"),  # raw bytes, read as Latin-1
        (b"filter=userName+eq+%22j%C3%BCrgen%22", "j\u00fcrgen"),
        (b'filter=userName eq "a\\\\"', "a\\\\"),
        (b'filter=userName eq "a"b"', None),
        (b'filter=userName sw "a"', None),
    ],
)
def test_the_name_of_a_lookup_comes_from_its_filter(query: bytes, name: str | None):
    from reference_app.activity import RawRequest, to_record
    from reference_app.redaction import Redactor
    from reference_app.schemas import RESOURCE_TYPES

    raw: RawRequest = (0, 0.001, "GET", "/scim/v2/acme/Users", query, 200, None, b"", b"{}")
    assert to_record(raw, "acme", "/Users", Redactor(RESOURCE_TYPES)).resource_name == name


async def test_bodies_sent_in_chunks_are_kept_whole(app: Starlette, acme: httpx.AsyncClient):
    async def chunks():
        yield b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
        yield b'"userName":"chunky"}'

    headers = {"Content-Type": "application/scim+json"}
    created = await acme.post("/Users", content=chunks(), headers=headers)
    assert created.status_code == 201
    (record,) = await _records(app)
    assert record.request_body == f'{{"schemas":["{USER}"],"userName":"chunky"}}'
    assert record.response_body == created.text


async def test_a_response_sent_in_chunks_is_kept_whole():
    from starlette.types import Receive, Scope, Send

    from reference_app.access_log import AccessLog
    from reference_app.activity import RawRequest

    async def chunked(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"user', "more_body": True})
        await send({"type": "http.response.body", "body": b'Name":"ada"}'})

    waiting: list[RawRequest] = []
    app = AccessLog(chunked, observers=(), keep=waiting.append)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/scim/v2/acme/Users/u1")
    (raw,) = waiting
    assert raw[5] == 200 and raw[7] == b"" and raw[8] == b'{"userName":"ada"}'


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_body_the_service_cannot_read_as_json_is_never_shown(
    app: Starlette, acme: httpx.AsyncClient, method: str
):
    # The recorder shows a 2xx answer's body without parsing it: the service parses the body
    # of every POST, PUT and PATCH before it can answer 2xx. Anything else is only its size.
    created = await acme.post("/Users", **scim_json({"schemas": [USER], "userName": "eve"}))
    path = "/Users" if method == "POST" else f"/Users/{created.json()['id']}"
    headers = {"Content-Type": "application/scim+json"}
    answer = await acme.request(method, path, content=b"userName=eve&secret-ish", headers=headers)
    assert answer.status_code == 400
    failed, create = await _records(app)
    assert failed.request_body is not None and "secret-ish" not in failed.request_body
    assert failed.request_body.startswith("[23 bytes, not shown")
    assert create.request_body == created.request.content.decode()  # as sent
    assert create.resource_name == "eve"
