"""The tenant admin console: server-rendered pages under ``/admin``.

Pages are Jinja2 templates (``reference_app/templates``, autoescaped) with one stylesheet and a
few lines of script for the copy button. The session is a signed cookie (Starlette's
``SessionMiddleware``, itsdangerous) scoped to ``/admin``; every form carries the session's
CSRF token; an admin sees only the tenants they administer (anything else is a 404, exactly
like a tenant that does not exist).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_app.admin.accounts import AdminDirectory, normalize_email
from reference_app.admin.guards import SignInLimiter, check_csrf, csrf_token
from reference_app.admin.probe import Probe
from reference_app.admin.sync import ERROR_WINDOW, QUARANTINE_SHARE, sync_status
from reference_app.events import POLL_RECEIVER
from reference_app.redaction import Redactor
from reference_app.request_log import RequestLog, RequestQuery
from reference_app.schemas import FCC_USER_URN, GROUPS, USERS
from reference_app.settings import SettingsError, check_url
from reference_app.tenant_cache import CachedTenantRegistry
from reference_app.tenants import (
    MemoryTenantRegistry,
    Tenant,
    TenantDirectory,
    TenantRegistry,
    TokenKind,
)
from scimkit import Event, NotFound, QueryParams, ResourceService, SCIMError

if TYPE_CHECKING:
    from reference_app.events import EventDelivery

__all__ = ["PREFIX", "AdminConsole", "AdminMount", "create_admin_app"]

PREFIX = "/admin"
SESSION_COOKIE = "scimkit_admin"
SESSION_MAX_AGE = 8 * 60 * 60
PAGE_SIZE = 25
ACTIVITY_PAGE = 50
_SYNC_TIMES = 500
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_RESOURCES = ("Users", "Groups", "Bulk", "Schemas", "ResourceTypes", "ServiceProviderConfig")
_NOTICES = {
    "revoked": "The secondary token no longer works.",
    "nothing-to-revoke": "There is no secondary token.",
    "push-set": "Events are now pushed to this URL.",
    "push-cleared": "Events are no longer pushed.",
}


def _notice(request: Request, registry: TenantRegistry | None) -> str | None:
    """The notice a redirect after a change asked for (``?done=``), true for this deployment."""
    done = request.query_params.get("done", "")
    notice = _NOTICES.get(done)
    if done == "revoked" and isinstance(registry, CachedTenantRegistry):
        # The tenant cache (docs/deployment.md): this process forgot the token at once, the
        # others keep it until their entry expires.
        notice = (
            f"The secondary token no longer works here. Other instances stop accepting it "
            f"within {registry.ttl:g} seconds (the tenant cache)."
        )
    return notice


@dataclass(slots=True)
class AdminConsole:
    """What the console reads and changes."""

    tenants: TenantDirectory
    admins: AdminDirectory
    service: ResourceService
    request_log: RequestLog | None
    redactor: Redactor
    public_url: str | None = None
    """The base URL of printed Tenant URLs; else the URL the browser used."""
    events: EventDelivery | None = None
    """The tenants' event delivery, when the store records events (set by ``create_app``)."""

    def tenant_url(self, request: Request, tenant: str) -> str:
        base = self.public_url or str(request.base_url)
        return f"{base.rstrip('/')}/scim/v2/{tenant}"


class AdminMount(BaseRoute):
    """Sends ``/admin`` and everything below it, path unchanged, to the console app.

    Unlike ``Mount`` it also takes ``/admin`` itself, which is what the SCIM app's slash
    collapsing makes of ``/admin/``.
    """

    def __init__(self, app: ASGIApp, prefix: str = PREFIX) -> None:
        self.app = app
        self.prefix = prefix

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/")):
            return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class _SecurityHeaders:
    """No caching (a token is shown once), no framing, scripts only from the console."""

    HEADERS = [
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
            b"form-action 'self'; base-uri 'none'",
        ),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), *self.HEADERS]
                if not any(key == b"cache-control" for key, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class _SignInFirst(Exception):
    pass


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(files("reference_app") / "templates"))
    templates.env.filters["when"] = _when
    templates.env.filters["ago"] = _ago
    templates.env.filters["clock"] = lambda moment: moment.astimezone(UTC).strftime(
        "%m-%d %H:%M:%S"
    )
    # Query strings as Entra's admin would type them: filter=userName eq "ada@example.com".
    templates.env.filters["readable"] = unquote_plus
    templates.env.filters["indented"] = _indented
    templates.env.filters["percent"] = lambda share: f"{share * 100:.0f} %"
    return templates


def _indented(body: str) -> str:
    """A logged body, indented when it is JSON (the log keeps it compact, as received)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body  # a size note, or a body cut at the limit
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = (datetime.now(UTC) - moment).total_seconds()
    if seconds < 0:
        minutes = math.ceil(-seconds / 60)
        return f"in {minutes} min" if minutes < 120 else f"in {minutes // 60} h"
    if seconds < 60:
        return "just now"
    if seconds < 2 * 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


class Page(Protocol):
    """A page handler that takes extra template values (e.g. a token shown once)."""

    async def __call__(self, request: Request, **extra: Any) -> Response: ...


def create_admin_app(console: AdminConsole, *, session_secret: str, secure: bool) -> Starlette:
    """The console as an ASGI app whose routes carry the full ``/admin`` paths."""
    templates = _templates()
    limiter = SignInLimiter()
    probe = Probe(console.service)

    def render(
        request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        context.setdefault("email", request.session.get("email"))
        context["csrf"] = csrf_token(request)
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    async def tenant_of(request: Request) -> Tenant:
        name = request.path_params["tenant"]
        allowed = request.session.get("tenants")
        if not isinstance(allowed, list):
            raise _SignInFirst()
        tenant = await console.tenants.get(name) if name in allowed else None
        if tenant is None:
            raise HTTPException(404)
        return tenant

    async def form(request: Request) -> dict[str, Any]:
        data = await request.form()
        check_csrf(request, data.get("csrf"))
        return dict(data)

    def page(request: Request, tenant: Tenant, name: str, **context: Any) -> Response:
        return render(
            request,
            name,
            {"tenant": tenant.name, "tenant_names": request.session.get("tenants"), **context},
        )

    # -- sign-in ----------------------------------------------------------------------------

    async def index(request: Request) -> Response:
        allowed = request.session.get("tenants")
        if isinstance(allowed, list) and len(allowed) == 1:
            return RedirectResponse(f"{PREFIX}/t/{allowed[0]}/scim", 303)
        if isinstance(allowed, list) and allowed:
            return render(request, "tenants.html", {"tenant_names": allowed})
        return render(request, "signin.html", {})

    async def sign_in(request: Request) -> Response:
        data = await form(request)
        email = normalize_email(str(data.get("email", "")))
        address = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(email, address)
        if wait > 0:
            minutes = math.ceil(wait / 60)
            error = f"Too many failed sign-ins. Try again in {minutes} minute(s)."
            return render(request, "signin.html", {"error": error, "typed": email}, 429)
        tenants = await console.admins.sign_in(email, str(data.get("password", "")))
        if not tenants:
            limiter.failed(email, address)
            error = "Wrong email or password."
            return render(request, "signin.html", {"error": error, "typed": email}, 401)
        limiter.succeeded(email)
        return _start_session(request, tenants, email)

    async def sign_out(request: Request) -> Response:
        await form(request)
        request.session.clear()
        return RedirectResponse(PREFIX, 303)

    async def link(request: Request) -> Response:
        # A GET only shows a button: link scanners and previews must not use the link up.
        return render(request, "link.html", {"token": request.path_params["token"]})

    async def redeem(request: Request) -> Response:
        await form(request)
        tenant = await console.admins.redeem_link(request.path_params["token"])
        if tenant is None:
            error = "This sign-in link was already used or has expired."
            return render(request, "signin.html", {"error": error}, 410)
        return _start_session(request, [tenant], None)

    def _start_session(request: Request, tenants: list[str], email: str | None) -> Response:
        # A new session (and CSRF token) at sign-in: nothing from before carries over.
        request.session.clear()
        request.session["tenants"] = tenants
        request.session["email"] = email or "one-time link"
        target = f"{PREFIX}/t/{tenants[0]}/scim" if len(tenants) == 1 else PREFIX
        return RedirectResponse(target, 303)

    # -- User Provisioning (SCIM) ------------------------------------------------------------

    async def scim_page(request: Request, **extra: Any) -> Response:
        tenant = await tenant_of(request)
        tokens = _tokens(tenant)
        registry = await console.tenants.registry_of(tenant.name)
        status = await _status(tenant.name)
        return page(
            request,
            tenant,
            "scim.html",
            nav="scim",
            tenant_url=console.tenant_url(request, tenant.name),
            tokens=tokens,
            in_process=isinstance(registry, MemoryTenantRegistry),
            status=status,
            notice=_notice(request, registry),
            fcc_urn=FCC_USER_URN,
            **extra,
        )

    async def registry_for(request: Request) -> tuple[Tenant, TenantRegistry]:
        """The signed-in admin's tenant and its registry, for a form that changes it."""
        tenant = await tenant_of(request)
        await form(request)
        registry = await console.tenants.registry_of(tenant.name)
        if registry is None:
            raise HTTPException(404)
        return tenant, registry

    async def generate_token(request: Request, kind: TokenKind, shown: Page) -> Response:
        tenant, registry = await registry_for(request)
        token = await registry.rotate(tenant.name, kind)
        # Shown in this response only; never redirected to, stored or put in the session.
        return await shown(request, new_token=token)

    async def revoke_token(request: Request, kind: TokenKind, page_name: str) -> Response:
        tenant, registry = await registry_for(request)
        revoked = await registry.revoke_secondary(tenant.name, kind)
        done = "revoked" if revoked else "nothing-to-revoke"
        return RedirectResponse(f"{PREFIX}/t/{tenant.name}/{page_name}?done={done}", 303)

    async def generate(request: Request) -> Response:
        return await generate_token(request, TokenKind.SCIM, scim_page)

    async def revoke(request: Request) -> Response:
        return await revoke_token(request, TokenKind.SCIM, "scim")

    async def test_connection(request: Request) -> Response:
        tenant = await tenant_of(request)
        await form(request)
        return await scim_page(request, probes=await probe.run(tenant.name))

    async def _status(tenant: str) -> Any:
        if console.request_log is None:
            return None
        now = datetime.now(UTC)
        counts = await console.request_log.counts(tenant, now - ERROR_WINDOW, _SYNC_TIMES)
        return sync_status(counts, now)

    # -- Events ------------------------------------------------------------------------------

    async def events_page(request: Request, status_code: int = 200, **extra: Any) -> Response:
        tenant = await tenant_of(request)
        events = console.events
        registry = await console.tenants.registry_of(tenant.name)
        context: dict[str, Any] = {
            "nav": "events",
            "enabled": events is not None,
            "tokens": _tokens(tenant, TokenKind.EVENTS),
            "push_url": tenant.events_push,
            "in_process": isinstance(registry, MemoryTenantRegistry),
            "poll_url": console.tenant_url(request, tenant.name) + "/Events",
            "jwks_url": (console.public_url or str(request.base_url)).rstrip("/")
            + "/.well-known/jwks.json",
            "notice": _notice(request, registry),
        }
        if events is not None:
            context["poll_backlog"] = await events.poll_backlog(tenant.name)
            context["push"] = await events.pushes.status(tenant.name)
            context["errors"] = events.poller.errors(tenant.name, POLL_RECEIVER)
            context["stats"] = await events.feed.stats(tenant.name)
        context.update(extra)
        response = page(request, tenant, "events.html", **context)
        response.status_code = status_code
        return response

    async def events_generate(request: Request) -> Response:
        if console.events is None:
            raise HTTPException(404)
        return await generate_token(request, TokenKind.EVENTS, events_page)

    async def events_revoke(request: Request) -> Response:
        return await revoke_token(request, TokenKind.EVENTS, "events")

    async def events_push(request: Request) -> Response:
        tenant = await tenant_of(request)
        data = await form(request)
        registry = await console.tenants.registry_of(tenant.name)
        if registry is None or console.events is None:
            raise HTTPException(404)
        url: str | None = str(data.get("url", "")).strip()
        if data.get("action") == "clear":
            url = None
        elif url:
            try:
                url = check_url(url)
            except SettingsError as exc:
                return await events_page(request, 400, push_error=str(exc), typed_url=url)
        else:
            url = None
        await registry.set_events_push(tenant.name, url)
        await console.events.pushes.sync(tenant.name)
        done = "push-set" if url else "push-cleared"
        return RedirectResponse(f"{PREFIX}/t/{tenant.name}/events?done={done}", 303)

    # -- Activity ----------------------------------------------------------------------------

    async def activity(request: Request) -> Response:
        tenant = await tenant_of(request)
        params = request.query_params
        query = RequestQuery(
            errors_only=params.get("errors") == "1",
            method=params.get("method") if params.get("method") in _METHODS else None,
            resource_type=params.get("resource") or None,
            since=_moment(params.get("since")),
            until=_moment(params.get("until")),
            before=params.get("before") or None,
            limit=ACTIVITY_PAGE,
        )
        records = await console.request_log.find(tenant.name, query) if console.request_log else []
        older = None
        if len(records) == ACTIVITY_PAGE:
            older = params.multi_items()
            older = [(k, v) for k, v in older if k != "before"] + [("before", records[-1].id)]
        return page(
            request,
            tenant,
            "activity.html",
            nav="activity",
            records=records,
            filters=params,
            methods=_METHODS,
            resources=_RESOURCES,
            older=older,
            status=await _status(tenant.name),
            logging=console.request_log is not None,
            quarantine_share=QUARANTINE_SHARE,
        )

    async def activity_item(request: Request) -> Response:
        tenant = await tenant_of(request)
        record = None
        if console.request_log is not None:
            record = await console.request_log.get(tenant.name, request.path_params["id"])
        if record is None:
            raise HTTPException(404)
        return page(request, tenant, "request.html", nav="activity", record=record)

    # -- Users and Groups --------------------------------------------------------------------

    async def listing(request: Request, kind: str) -> Response:
        tenant = await tenant_of(request)
        resource_type = USERS if kind == "users" else GROUPS
        key = "userName" if kind == "users" else "displayName"
        search = request.query_params.get("q", "").strip()
        number = max(1, _int(request.query_params.get("page"), 1))
        error = None
        params = QueryParams(
            filter=f'{key} sw "{_quoted(search)}"' if search else None,
            start_index=(number - 1) * PAGE_SIZE + 1,
            count=PAGE_SIZE,
            excluded_attributes=("members",) if kind == "groups" else (),
        )
        try:
            result = await console.service.query(tenant.name, resource_type, params)
            resources, total = list(result.resources), result.total_results
        except SCIMError as exc:
            resources, total, error = [], 0, exc.detail
        pages = max(1, math.ceil(total / PAGE_SIZE))
        return page(
            request,
            tenant,
            f"{kind}.html",
            nav=kind,
            resources=[_row(r) for r in resources],
            total=total,
            search=search,
            number=number,
            pages=pages,
            error=error,
        )

    async def users(request: Request) -> Response:
        return await listing(request, "users")

    async def groups(request: Request) -> Response:
        return await listing(request, "groups")

    async def user(request: Request) -> Response:
        tenant = await tenant_of(request)
        try:
            resource = await console.service.get(tenant.name, USERS, request.path_params["id"])
        except NotFound:
            raise HTTPException(404) from None
        records = []
        if console.request_log is not None:
            records = await console.request_log.find(
                tenant.name,
                RequestQuery(
                    resource_id=resource["id"], resource_name=resource.get("userName"), limit=50
                ),
            )
        raw = orjson.dumps(
            console.redactor.redact(resource), option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z
        ).decode()
        events = None
        if console.events is not None:
            found = await console.events.recent(tenant.name, f"/Users/{resource['id']}")
            events = [_event_row(event) for event in found]
        return page(
            request,
            tenant,
            "user.html",
            nav="users",
            user=_row(resource),
            raw=raw,
            records=records,
            events=events,
        )

    async def stylesheet(request: Request) -> Response:
        return _static("admin.css", "text/css")

    async def script(request: Request) -> Response:
        return _static("copy.js", "text/javascript")

    async def error_page(request: Request, exc: Exception) -> Response:
        if isinstance(exc, _SignInFirst):
            return RedirectResponse(PREFIX, 303)
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) and status != 404 else None
        return render(request, "error.html", {"status": status, "detail": detail}, status)

    routes = [
        Route(PREFIX, index),
        Route(f"{PREFIX}/signin", sign_in, methods=["POST"]),
        Route(f"{PREFIX}/signout", sign_out, methods=["POST"]),
        Route(f"{PREFIX}/link/{{token}}", link),
        Route(f"{PREFIX}/link/{{token}}", redeem, methods=["POST"]),
        Route(f"{PREFIX}/static/admin.css", stylesheet),
        Route(f"{PREFIX}/static/copy.js", script),
        Route(f"{PREFIX}/t/{{tenant}}", _to_scim),
        Route(f"{PREFIX}/t/{{tenant}}/scim", scim_page),
        Route(f"{PREFIX}/t/{{tenant}}/scim/generate", generate, methods=["POST"]),
        Route(f"{PREFIX}/t/{{tenant}}/scim/revoke", revoke, methods=["POST"]),
        Route(f"{PREFIX}/t/{{tenant}}/scim/test", test_connection, methods=["POST"]),
        Route(f"{PREFIX}/t/{{tenant}}/activity", activity),
        Route(f"{PREFIX}/t/{{tenant}}/activity/{{id}}", activity_item),
        Route(f"{PREFIX}/t/{{tenant}}/users", users),
        Route(f"{PREFIX}/t/{{tenant}}/users/{{id}}", user),
        Route(f"{PREFIX}/t/{{tenant}}/groups", groups),
        Route(f"{PREFIX}/t/{{tenant}}/events", events_page),
        Route(f"{PREFIX}/t/{{tenant}}/events/generate", events_generate, methods=["POST"]),
        Route(f"{PREFIX}/t/{{tenant}}/events/revoke", events_revoke, methods=["POST"]),
        Route(f"{PREFIX}/t/{{tenant}}/events/push", events_push, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(_SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=session_secret,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                path=PREFIX,
                same_site="lax",
                https_only=secure,
            ),
        ],
        exception_handlers={HTTPException: error_page, _SignInFirst: error_page},
    )


async def _to_scim(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/t/{request.path_params['tenant']}/scim", 303)


@dataclass(frozen=True, slots=True)
class TokenView:
    label: str
    created: datetime
    last_used: datetime | None


def _tokens(tenant: Tenant, kind: TokenKind = TokenKind.SCIM) -> list[TokenView]:
    labels = ("Primary token", "Secondary token")
    tokens = tenant.tokens(kind)
    return [
        TokenView(labels[index], tokens.created[index], tokens.used[index])
        for index in range(min(2, len(tokens.digests)))
    ]


def _event_row(event: Event) -> dict[str, Any]:
    return {
        "time": event.iat,
        "type": f"prov:{event.type.value}",
        "attributes": ", ".join(event.attributes or ()),
        "version": event.version,
        "txn": event.txn,
    }


def _row(resource: dict[str, Any]) -> dict[str, Any]:
    fcc = resource.get(FCC_USER_URN) or {}
    emails = resource.get("emails") or []
    email = next((e.get("value") for e in emails if e.get("type") == "work"), None)
    name = resource.get("name") or {}
    meta = resource.get("meta") or {}
    return {
        "id": resource.get("id"),
        "userName": resource.get("userName"),
        "displayName": resource.get("displayName") or name.get("formatted"),
        "externalId": resource.get("externalId"),
        "email": email or (emails[0].get("value") if emails else None),
        "active": resource.get("active"),
        "loginDisabled": fcc.get("loginDisabled"),
        "administrator": fcc.get("administrator"),
        "created": meta.get("created"),
        "lastModified": meta.get("lastModified"),
    }


def _static(name: str, media_type: str) -> Response:
    text = (files("reference_app") / "templates" / "static" / name).read_text("utf-8")
    return PlainTextResponse(text, media_type=media_type, headers={"Cache-Control": "max-age=300"})


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _moment(text: str | None) -> datetime | None:
    """A ``datetime-local`` form value, read as UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
