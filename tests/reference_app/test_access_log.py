"""The access line: one per request, with its id, tenant, status, duration and SCIM error type."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from reference_app.access_log import ACCESS_LOGGER, AccessLog, RequestRecord, log_request
from reference_app.logs import (
    JsonFormatter,
    LineValues,
    LoopBatchedHandler,
    RequestIdFilter,
    TextFormatter,
    own_handler,
)
from tests.reference_app.process import free_port, served
from tests.reference_app.support import TOKEN_A

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PASSWORD = "Pa55w0rd-never-logged"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def _access(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        dict(record.fields)  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == ACCESS_LOGGER
    ]


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)


async def test_one_line_per_request_with_the_client_request_id(
    acme: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    answer = await acme.get("/Users?filter=userName+eq+%22x%22", headers={"X-Request-Id": "abc-1"})
    assert answer.status_code == 200
    assert answer.headers["X-Request-Id"] == "abc-1"
    (line,) = _access(caplog)
    assert line["request_id"] == "abc-1"
    assert line["tenant"] == "acme"
    assert line["method"] == "GET"
    assert line["path"] == "/scim/v2/acme/Users"  # never the query string
    assert line["status"] == 200
    assert line["scim_type"] is None
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


@pytest.mark.parametrize("sent", [None, "has space", "x" * 129, "new\nline", ""])
async def test_a_missing_or_unsafe_request_id_is_replaced(
    acme: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, sent: str | None
):
    headers = {} if sent is None else {"X-Request-Id": sent}
    answer = await acme.get("/Users", headers=headers)
    generated = answer.headers["X-Request-Id"]
    assert GENERATED_ID.fullmatch(generated)
    assert _access(caplog)[0]["request_id"] == generated


async def test_scim_error_type_is_logged_and_the_body_is_not(
    acme: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    body = {"schemas": [USER_SCHEMA], "userName": "dup@example.com", "password": PASSWORD}
    assert (await acme.post("/Users", json=body)).status_code == 201
    assert (await acme.post("/Users", json=body)).status_code == 409
    bad_filter = await acme.get("/Users?filter=userName+zz+%22x%22")
    assert bad_filter.status_code == 400
    lines = _access(caplog)
    assert [(line["status"], line["scim_type"]) for line in lines] == [
        (201, None),
        (409, "uniqueness"),
        (400, "invalidFilter"),
    ]
    assert PASSWORD not in caplog.text
    assert "dup@example.com" not in caplog.text


async def test_tokens_are_never_logged(
    acme: httpx.AsyncClient, root: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    wrong = "wrong-token-never-logged-0123456789"
    assert (await acme.get("/Users")).status_code == 200
    answer = await root.get("/scim/v2/acme/Users", headers={"Authorization": f"Bearer {wrong}"})
    assert answer.status_code == 401
    lines = _access(caplog)
    assert [line["status"] for line in lines] == [200, 401]
    text = caplog.text + repr([record.__dict__ for record in caplog.records])
    assert TOKEN_A not in text and wrong not in text


async def test_tenant_is_only_a_well_formed_tenant_name(
    root: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    await root.get("/healthz")
    await root.get("/scim/v2/NOT%20A%20TENANT/Users")
    await root.get("/scim/v2/beta/Groups")
    assert [line["tenant"] for line in _access(caplog)] == [None, None, "beta"]


async def test_tenant_names_are_judged_once_each_and_the_memory_of_them_is_bounded():
    # The verdicts are remembered per name; a flood of made-up names (or one too long to be a
    # name) must neither be taken for tenants nor grow that memory without end.
    records: list[RequestRecord] = []
    headers_sent: list[Any] = []

    async def answer(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers_sent})
        await send({"type": "http.response.body", "body": b"{}"})

    log = AccessLog(answer, observers=(records.append,))
    transport = httpx.ASGITransport(app=log)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await client.get("/scim/v2/" + "a" * 63 + "/Users")
        await client.get("/scim/v2/" + "a" * 64 + "/Users")
        for n in range(5000):
            await client.get(f"/scim/v2/t{n}/Users")
        await client.get("/scim/v2/t1/Users")
        await client.get("/scim/v2/T1/Users")
    tenants = [record.tenant for record in records]
    assert tenants[:2] == ["a" * 63, None]
    assert tenants[2:-2] == [f"t{n}" for n in range(5000)]
    assert tenants[-2:] == ["t1", None]
    assert len(log._names) <= 4096 and "a" * 64 not in log._names
    # The application's own header list is left as it sent it (the id goes into a copy).
    assert headers_sent == []


async def test_an_unanswered_failure_is_logged_as_500(caplog: pytest.LogCaptureFixture):
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    records: list[RequestRecord] = []
    app = AccessLog(failing, observers=(records.append,))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with pytest.raises(RuntimeError):
            await client.get("/scim/v2/acme/Users")
    (record,) = records
    assert (record.status, record.tenant, record.path) == (500, "acme", "/scim/v2/acme/Users")


def _record(**fields: Any) -> logging.LogRecord:
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "request", (), None)
    record.fields = fields
    RequestIdFilter().filter(record)
    return record


def test_json_format_is_one_object_per_line():
    line = JsonFormatter().format(_record(request_id="r1", status=200, tenant=None))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "request" and entry["level"] == "info"
    assert entry["logger"] == "reference_app.access"
    assert (entry["request_id"], entry["status"], entry["tenant"]) == ("r1", 200, None)
    assert entry["time"].endswith("Z")


def test_text_format_quotes_values_that_could_forge_fields():
    line = TextFormatter().format(_record(path='/x y\nstatus=200 "', status=404, tenant=None))
    assert "\n" not in line
    assert line.endswith('path="/x y\\nstatus=200 \\"" status=404 tenant=-')


def test_serve_writes_json_lines():
    port = free_port()
    arguments = ["--log-format", "json", "--tenant", f"t:{TOKEN_A}"]
    with served(arguments, port=port) as server:
        httpx.get(
            f"{server.base_url}/scim/v2/t/Users",
            headers={"Authorization": f"Bearer {TOKEN_A}", "X-Request-Id": "from-the-client"},
        )
    entries = [json.loads(line) for line in server.stderr.splitlines()]  # every line is JSON
    access = [e for e in entries if e.get("request_id") == "from-the-client"]
    assert len(access) == 1
    assert access[0]["logger"] == ACCESS_LOGGER
    assert (access[0]["tenant"], access[0]["status"]) == ("t", 200)
    assert any("NOT persisted" in entry["message"] for entry in entries)
    assert TOKEN_A not in server.stderr + server.stdout


@pytest.mark.parametrize(
    "created",
    [1764900000.0, 1764900000.999, 1764900001.0005, 1764903599.5, 1764903600.25],
    ids=["second", "end of second", "next second", "end of hour", "next hour"],
)
def test_time_stamps_made_once_a_second_read_as_logging_and_datetime_make_them(created: float):
    # One formatter for all the records in order, as a server's handler keeps it: the text of
    # the second is reused until a record falls in another one.
    text, json_lines = TextFormatter(), JsonFormatter()
    for moment in (created - 1.5, created - 0.001, created):
        record = _record(status=200)
        record.created, record.msecs = moment, int((moment - int(moment)) * 1000) + 0.0
        assert text.formatTime(record) == logging.Formatter().formatTime(record)
        stamp = json.loads(json_lines.format(record))["time"]
        made = datetime.fromtimestamp(int(moment), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        assert stamp == f"{made}.{int(record.msecs):03d}Z"


def test_a_date_format_of_ones_own_is_used_as_given():
    record = _record(status=200)
    assert TextFormatter().formatTime(record, "%Y") == logging.Formatter().formatTime(record, "%Y")


def test_the_access_line_goes_through_the_logger_s_handlers_and_filters(
    caplog: pytest.LogCaptureFixture,
):
    # Made with makeRecord and handed to handle(), not through logger.info: a filter on the
    # logger and the levels still apply, and the record carries what a formatter reads.
    seen: list[logging.LogRecord] = []

    class Keep(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            seen.append(record)
            status = getattr(record, "fields", {}).get("status")
            return status != 204

    access = logging.getLogger(ACCESS_LOGGER)
    keep = Keep()
    access.addFilter(keep)
    try:
        for status in (200, 204):
            log_request(RequestRecord("r1", "GET", "/scim/v2/a/Users", "a", status, 0.5, None))
        caplog.set_level(logging.WARNING, logger=ACCESS_LOGGER)
        log_request(RequestRecord("r2", "GET", "/scim/v2/a/Users", "a", 200, 0.5, None))
    finally:
        access.removeFilter(keep)
    assert [line["status"] for line in _access(caplog)] == [200]
    assert len(seen) == 2
    first = seen[0]
    assert (first.levelno, first.getMessage(), getattr(first, "request_id", None)) == (
        logging.INFO,
        "request",
        "r1",
    )
    assert TextFormatter().format(first).endswith("duration_ms=500.0 scim_type=-")


def test_the_text_line_is_logging_s_own_format_followed_by_the_fields():
    record = _record(request_id="r1", status=201, tenant="acme", duration_ms=1.5, scim_type=None)
    record.msg, record.args = "request %s", ("made",)
    line = TextFormatter().format(record)
    assert line == (
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s").format(
            record
        )
        + " request_id=r1 status=201 tenant=acme duration_ms=1.5 scim_type=-"
    )
    assert " INFO reference_app.access: request made " in line


def test_a_traceback_follows_the_text_line():
    record = _record(status=500)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    first, *rest = TextFormatter().format(record).splitlines()
    assert first.endswith("request status=500")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "RuntimeError: boom"


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()], ids=["text", "json"])
@pytest.mark.parametrize("created", [1764900000.0, 1764900123.4567, 1764903599.9994])
def test_a_line_made_without_a_record_is_the_record_s_line(
    formatter: TextFormatter | JsonFormatter, created: float
):
    fields = RequestRecord("r1", "GET", "/scim/v2/a/U s", "a", 200, 0.25, None).fields()
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "request", (), None)
    record.fields, record.request_id = fields, "r1"
    record.created, record.msecs, record.process = created, (created % 1) * 1000, os.getpid()
    made = formatter.line(created, LineValues.of(record))
    assert made == formatter.format(record)


@contextlib.contextmanager
def own_output() -> Iterator[tuple[LoopBatchedHandler, io.StringIO]]:
    """The root logger as install_log_handler leaves it in a served process: one handler.

    The root's handler list is changed in place and restored before the test ends, so pytest's
    capture handler, added to that list for the test and taken off after it, stays in order.
    """
    stream = io.StringIO()
    handler = LoopBatchedHandler(stream)
    handler.setFormatter(TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield handler, stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


class Quiet(logging.Handler):
    """A handler that writes nothing (NullHandler would not even run its filters)."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


class Seen(logging.Filter):
    """A filter that lets everything through and keeps what it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.seen.append(record)
        return True


def test_the_access_line_goes_straight_to_the_app_s_own_handler():
    access = logging.getLogger(ACCESS_LOGGER)
    with own_output() as (handler, stream):
        assert own_handler(access) is handler
        log_request(RequestRecord("r9", "PATCH", "/scim/v2/a/Users/1", "a", 200, 0.002, None))
    (line,) = stream.getvalue().splitlines()  # outside a loop: written at once
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ INFO reference_app\.access: request "
        r"request_id=r9 tenant=a method=PATCH path=/scim/v2/a/Users/1 status=200 "
        r"duration_ms=2\.0 scim_type=-",
        line,
    )


@pytest.mark.parametrize(
    "change",
    [
        "a filter on the logger",
        "a handler of its own",
        "no propagation",
        "a second root handler",
        "a foreign filter",
        "a level above info",
        "a foreign formatter",
        "a stream handler",
    ],
)
def test_any_other_log_configuration_gets_records(monkeypatch: pytest.MonkeyPatch, change: str):
    access = logging.getLogger(ACCESS_LOGGER)
    watch = Seen()
    catcher = Quiet()
    catcher.addFilter(watch)  # a handler that only watches
    with own_output() as (handler, stream):
        root = logging.getLogger()
        if change == "a filter on the logger":
            monkeypatch.setattr(access, "filters", [watch])
        elif change == "a handler of its own":
            monkeypatch.setattr(access, "handlers", [catcher])
        elif change == "no propagation":
            monkeypatch.setattr(access, "propagate", False)
            monkeypatch.setattr(access, "handlers", [catcher])
        elif change == "a second root handler":
            root.handlers.append(catcher)
        elif change == "a foreign filter":
            monkeypatch.setattr(handler, "filters", [watch])
        elif change == "a level above info":
            monkeypatch.setattr(handler, "level", logging.WARNING)
        elif change == "a foreign formatter":
            handler.setFormatter(logging.Formatter("%(message)s %(fields)s"))
        else:
            plain = logging.StreamHandler(stream)
            plain.setFormatter(TextFormatter())
            root.handlers[:] = [plain]
        owned = own_handler(access)
        log_request(RequestRecord("r9", "GET", "/scim/v2/a/Users", "a", 200, 0.001, None))
    if change == "a level above info":
        assert owned is None and stream.getvalue() == ""  # filtered by level
    elif change == "a foreign formatter":
        # The handler is the app's, its formatter is not: keep_info declines, a record goes.
        assert owned is handler and stream.getvalue().startswith("request {'request_id': 'r9'")
    elif change == "a stream handler":
        assert owned is None and "request_id=r9" in stream.getvalue()
    else:
        assert owned is None
        assert [getattr(r, "request_id", None) for r in watch.seen] == ["r9"]


def test_serve_writes_text_lines():
    port = free_port()
    with served(["--tenant", f"t:{TOKEN_A}"], port=port) as server:
        for n in range(3):
            httpx.get(
                f"{server.base_url}/scim/v2/t/Users",
                headers={"Authorization": f"Bearer {TOKEN_A}", "X-Request-Id": f"text-{n}"},
            )
    access = [line for line in server.stderr.splitlines() if "request_id=text-" in line]
    assert len(access) == 3  # one each, in order
    for n, line in enumerate(access):
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ INFO reference_app\.access: request "
            rf"request_id=text-{n} tenant=t method=GET path=/scim/v2/t/Users status=200 "
            r"duration_ms=[0-9.]+ scim_type=-",
            line,
        ), line
