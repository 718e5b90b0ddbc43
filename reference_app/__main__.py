"""The ``reference-app`` command (also ``python -m reference_app``).

``serve`` runs the SCIM tenant(s) and the admin console under hypercorn, granian or uvicorn
(``--server``); ``healthcheck`` probes a running server's ``/healthz`` (the container image's
HEALTHCHECK); ``tenant create|rotate|list|policy|admin|events-token|events-push`` manage
tenants stored in MongoDB; ``refold`` migrates stored documents to the current case folding;
``events listen`` prints a tenant's provisioning events live.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from reference_app.admin.accounts import LINK_TTL, MongoAdminRegistry
from reference_app.app import (
    APP_FACTORY_PATH,
    TENANTS_COLLECTION,
    configure_logging,
    create_app,
    mongo_database,
    mongo_records_events,
)
from reference_app.events import signer_for
from reference_app.schemas import RESOURCE_TYPES
from reference_app.servers import missing_server, serve, spawns_workers
from reference_app.settings import (
    LOG_FORMATS,
    SERVERS,
    Settings,
    SettingsError,
    TenantSeed,
    check_url,
    load_settings,
    validate_tenant_name,
    worker_environ,
)
from reference_app.tenants import (
    DEFAULT_TENANT,
    MongoTenantRegistry,
    Policy,
    TenantExists,
    TokenKind,
    UnknownTenant,
    new_token,
)
from scimkit import ServiceUnavailable

__all__ = ["build_parser", "main"]

logger = logging.getLogger("reference_app")

_MIN_PASSWORD = 12
HEALTHCHECK_TIMEOUT = 4.0
"""Seconds ``healthcheck`` waits; below the image's HEALTHCHECK timeout, above /healthz's own."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reference-app",
        description="A multi-tenant SCIM 2.0 service for Microsoft Entra ID, built on scimkit.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the SCIM service")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000)")
    _add_mongo_arguments(serve)
    serve.add_argument(
        "--tenant",
        action="append",
        dest="tenants",
        metavar="NAME:TOKEN",
        help="a tenant and its bearer token, kept in the process (repeatable)",
    )
    serve.add_argument(
        "--strict-tenant",
        action="append",
        dest="strict_tenants",
        metavar="NAME",
        help="accept only RFC-conformant requests for this --tenant (default: Entra-tolerant)",
    )
    serve.add_argument(
        "--workers", type=int, help="worker processes (default 1; more needs MongoDB)"
    )
    serve.add_argument(
        "--server",
        choices=SERVERS,
        help="ASGI server (default hypercorn; granian and uvicorn are the scimkit[granian] "
        "and scimkit[uvicorn] extras, and spend less CPU per request)",
    )
    serve.add_argument(
        "--public-url", help="base URL clients use, e.g. https://scim.example.com (behind a proxy)"
    )
    _add_tls_arguments(serve)
    serve.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="default info"
    )
    serve.add_argument(
        "--admin",
        action="append",
        dest="admins",
        metavar="TENANT:EMAIL:PASSWORD",
        help="an admin console account, kept in the process (repeatable)",
    )
    serve.add_argument(
        "--tenant-cache-seconds",
        type=int,
        metavar="N",
        help="keep each tenant read from MongoDB N seconds (default 0: read per request); "
        "a token revoked through another process keeps working here up to N seconds",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus /metrics on this port of --host (default: no metrics)",
    )
    serve.add_argument(
        "--metrics-tenant-labels",
        type=int,
        metavar="N",
        help="give the first N tenants their own metrics label, the rest 'other' (default 0)",
    )
    serve.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="text (default) or json: one JSON object per line, for a log collector",
    )
    serve.add_argument(
        "--events",
        choices=("on", "off"),
        help="record provisioning events (default on; docs/events.md)",
    )
    serve.add_argument(
        "--events-token",
        action="append",
        dest="events_tokens",
        metavar="TENANT:TOKEN",
        help="an events token of a --tenant: it polls {Tenant URL}/Events only (repeatable)",
    )
    serve.add_argument(
        "--events-push",
        action="append",
        metavar="TENANT:URL",
        help="push a --tenant's events to this receiver URL (RFC 8935; repeatable)",
    )
    serve.add_argument(
        "--events-key",
        metavar="PATH",
        help="PEM key signing the events (made there when absent; default: one per process)",
    )
    serve.add_argument(
        "--request-log",
        choices=("on", "off"),
        help="record SCIM requests for the admin console's Activity page (default on)",
    )
    serve.add_argument(
        "--malloc-tuning",
        choices=("on", "off"),
        help="keep freed memory in the process instead of returning it at once (glibc; "
        "default on; docs/deployment.md)",
    )

    healthcheck = commands.add_parser(
        "healthcheck",
        help="exit 0 if this host's server answers GET /healthz with 200 (a container probe)",
    )
    healthcheck.add_argument("--host", help="address the server is bound to (default 127.0.0.1)")
    healthcheck.add_argument("--port", type=int, help="port the server is bound to (default 8000)")
    _add_tls_arguments(healthcheck)

    tenant = commands.add_parser("tenant", help="manage tenants stored in MongoDB")
    actions = tenant.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a tenant and print its token once")
    create.add_argument("name")
    create.add_argument("--strict", action="store_true", help="accept only RFC-conformant requests")
    rotate = actions.add_parser(
        "rotate", help="print a new primary token once; the old primary stays valid as secondary"
    )
    rotate.add_argument("name")
    actions.add_parser("list", help="list tenants (names, policies and creation dates)")
    policy = actions.add_parser("policy", help="set a tenant's input policy")
    policy.add_argument("name")
    policy.add_argument("policy", choices=[p.value for p in Policy])
    admin = actions.add_parser(
        "admin", help="create an admin console account (or set its password; read from stdin)"
    )
    admin.add_argument("name")
    admin.add_argument("email")
    events_token = actions.add_parser(
        "events-token",
        help="print a new events token once (polls /Events only); the old one stays as secondary",
    )
    events_token.add_argument("name")
    events_push = actions.add_parser(
        "events-push", help="set the tenant's push receiver URL (RFC 8935), or --clear it"
    )
    events_push.add_argument("name")
    target = events_push.add_mutually_exclusive_group(required=True)
    target.add_argument("url", nargs="?", help="an absolute http(s) URL")
    target.add_argument("--clear", action="store_true", help="stop pushing")
    for sub in (create, rotate, policy, admin, events_token, events_push):
        _add_mongo_arguments(sub)
    for sub in (create, rotate, events_token):
        sub.add_argument("--public-url", help="base URL of the service, for the printed Tenant URL")
    _add_mongo_arguments(actions.choices["list"])

    refold = commands.add_parser(
        "refold",
        help="rewrite case-folded copies in MongoDB written by an older version (docs/storage.md)",
    )
    _add_mongo_arguments(refold)

    events = commands.add_parser("events", help="watch a tenant's provisioning events")
    event_actions = events.add_subparsers(dest="action", required=True, metavar="ACTION")
    listen = event_actions.add_parser(
        "listen", help="poll {Tenant URL}/Events, verify and print each event until Ctrl-C"
    )
    listen.add_argument("--tenant-url", required=True, help="the Tenant URL (…/scim/v2/NAME)")
    listen.add_argument("--token", required=True, help="the tenant's events token")
    listen.add_argument(
        "--jwks-url",
        help="where the signing keys are (default: /.well-known/jwks.json at the root)",
    )
    return parser


def _add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--certfile", help="TLS certificate (PEM) to serve HTTPS")
    parser.add_argument("--keyfile", help="TLS private key (PEM)")


def _add_mongo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mongodb-uri", help="MongoDB URI (without one, serve uses the embedded memory store)"
    )
    parser.add_argument("--mongodb-database", help="database name (default scimkit)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(_overrides(args))
    except SettingsError as exc:
        print(f"reference-app: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if args.command == "serve":
        return _serve(settings)
    if args.command == "refold":
        return _refold(settings)
    if args.command == "healthcheck":
        return _healthcheck(settings)
    if args.command == "events":
        return _listen(args)
    return _tenant_command(args, settings)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = (
        "host",
        "port",
        "mongodb_uri",
        "mongodb_database",
        "tenants",
        "strict_tenants",
        "workers",
        "server",
        "public_url",
        "certfile",
        "keyfile",
        "log_level",
        "admins",
        "log_format",
        "metrics_port",
        "metrics_tenant_labels",
        "events",
        "events_tokens",
        "events_push",
        "events_key",
        "request_log",
        "malloc_tuning",
        "tenant_cache_seconds",
    )
    return {name: getattr(args, name, None) for name in names}


# -- serve ------------------------------------------------------------------------------------


def _serve(settings: Settings) -> int:
    if settings.workers > 1 and not settings.uses_mongodb:
        print(
            "reference-app: --workers > 1 needs MongoDB (--mongodb-uri): the embedded memory "
            "store lives in one process, so workers would not share data",
            file=sys.stderr,
        )
        return 2
    # The embedded default tenant is made below, fresh in each process.
    fresh_default = not settings.uses_mongodb and not settings.tenants
    if settings.workers > 1 and settings.metrics_port is not None:
        print(
            "reference-app: --metrics-port needs --workers 1: each worker would need a port of "
            "its own; run one worker per instance (docs/deployment.md)",
            file=sys.stderr,
        )
        return 2
    missing = missing_server(settings.server)
    if missing is not None:
        print(f"reference-app: {missing}", file=sys.stderr)
        return 2
    try:
        if settings.uses_mongodb and settings.events_wanted:
            asyncio.run(mongo_records_events(settings))
        if settings.events_key is not None:
            signer_for(settings)  # makes the key file now, once, before workers start
    except SettingsError as exc:
        print(f"reference-app: {exc}", file=sys.stderr)
        return 2
    try:
        settings = asyncio.run(_bootstrap_tenants(settings))
    except Exception as exc:  # the database is unreachable, most likely
        # Serve anyway: stored tenants and --tenant ones work as soon as the database answers,
        # and until then requests get 503 and /healthz says unhealthy (an orchestrator restart
        # loop would not bring the database back sooner).
        print(
            f"reference-app: cannot prepare the tenants now ({exc}); serving anyway, "
            "requests answer 503 until MongoDB answers",
            file=sys.stderr,
        )
    process_tenants = {seed.name for seed in settings.tenants}
    for name, option in [
        *((seed.tenant, "--events-token") for seed in settings.events_tokens),
        *((seed.tenant, "--events-push") for seed in settings.events_push),
    ]:
        if name not in process_tenants:
            print(
                f"reference-app: {option} names tenant {name!r}, which is not a --tenant (or the "
                "embedded default); for tenants stored in MongoDB use `reference-app tenant "
                "events-token` / `events-push`",
                file=sys.stderr,
            )
            return 2
    if spawns_workers(settings):
        if settings.cursor_secret is None:
            # Cursors issued by one worker must verify in another.
            settings = replace(settings, cursor_secret=secrets.token_urlsafe(32))
        if settings.session_secret is None:
            # So must console sessions.
            settings = replace(settings, session_secret=secrets.token_urlsafe(32))
        # Worker processes rebuild the settings from the environment, tenants included.
        os.environ.update(worker_environ(settings))

    def build() -> Any:
        app = create_app(settings)
        if fresh_default:
            link = app.state.admins.registries[0].add_link(DEFAULT_TENANT)
            _announce_link(settings, link)
        return app

    return serve(settings, build, APP_FACTORY_PATH.removesuffix("()"))


async def _bootstrap_tenants(settings: Settings) -> Settings:
    """Make sure some tenant exists; print a new one's Tenant URL and token once.

    Without MongoDB the new ``default`` tenant lives in the process, with a new token on each
    start. With MongoDB it is stored, and printed only the first time.
    """
    if not settings.uses_mongodb:
        if settings.tenants:
            return settings
        token = new_token()
        _announce(settings, DEFAULT_TENANT, token, "created for this process")
        return replace(settings, tenants=(TenantSeed(DEFAULT_TENANT, token),))
    async with mongo_database(settings) as database:
        registry = MongoTenantRegistry(database[TENANTS_COLLECTION])
        stored = {tenant.name for tenant in await registry.list()}
        for seed in settings.tenants:
            if seed.name in stored:
                logger.warning(
                    "Tenant %r is given with --tenant and also stored in MongoDB; "
                    "the --tenant token is the one that works.",
                    seed.name,
                )
        if not settings.tenants and not stored:
            try:
                token = await registry.create(DEFAULT_TENANT)
            except TenantExists:  # another process starting at the same time made it
                return settings
            _announce(settings, DEFAULT_TENANT, token, "created and stored in MongoDB")
            admins = MongoAdminRegistry(database)
            await admins.ensure_indexes()
            _announce_link(settings, await admins.issue_link(DEFAULT_TENANT))
    return settings


def _announce(settings: Settings, name: str, token: str, how: str) -> None:
    print(
        f"Tenant {name!r} {how}. Paste these into Microsoft Entra "
        "(Provisioning > Admin Credentials):\n"
        f"  Tenant URL:   {settings.tenant_url(name)}\n"
        f"  Secret Token: {token}\n"
        "The token is shown only this once; only its SHA-256 hash is kept.",
        flush=True,
    )


def _announce_link(settings: Settings, token: str) -> None:
    hours = int(LINK_TTL.total_seconds() // 3600)
    print(
        f"Admin console (sign in once with this link, within {hours} hours):\n"
        f"  {settings.base_url}/admin/link/{token}",
        flush=True,
    )


# -- refold -----------------------------------------------------------------------------------


def _refold(settings: Settings) -> int:
    if not settings.uses_mongodb:
        print("reference-app: refold needs MongoDB (--mongodb-uri)", file=sys.stderr)
        return 2
    from scimkit.mongo import MongoStore, RefoldReport

    async def run() -> RefoldReport:
        async with mongo_database(settings) as database:
            return await MongoStore(database, RESOURCE_TYPES).refold()

    try:
        report = asyncio.run(run())
    except ServiceUnavailable as exc:
        print(f"reference-app: MongoDB did not answer: {exc.__cause__ or exc}", file=sys.stderr)
        return 1
    print(f"Rewrote the folded copies of {report.updated} document(s).")
    for tenant, type_name, id in report.conflicts:
        print(
            f"Conflict: {type_name} {id} of tenant {tenant!r} now has the same unique value as "
            "another resource; rename or delete one, then run refold again.",
            file=sys.stderr,
        )
    return 1 if report.conflicts else 0


# -- healthcheck ------------------------------------------------------------------------------


def _healthcheck(settings: Settings) -> int:
    """Probe the server these settings describe, on this host (not through --public-url)."""
    import ssl
    import urllib.error
    import urllib.request

    url = replace(settings, public_url=None).base_url + "/healthz"
    context = None
    if settings.certfile is not None:
        # A loopback liveness probe: the certificate names the public host, not localhost, and
        # what is checked here is that the process answers, not who it is.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=HEALTHCHECK_TIMEOUT, context=context) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"reference-app: {url} did not answer: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"reference-app: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


# -- tenant -----------------------------------------------------------------------------------


def _tenant_command(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.uses_mongodb:
        print(
            "reference-app: tenant commands need MongoDB (--mongodb-uri or "
            "SCIMKIT_MONGODB_URI); with the embedded store, give tenants to serve --tenant",
            file=sys.stderr,
        )
        return 2
    from pymongo.errors import PyMongoError

    actions: dict[str, Callable[[MongoTenantRegistry], Awaitable[None]]] = {
        "create": lambda registry: _create(registry, settings, args.name, args.strict),
        "rotate": lambda registry: _rotate(registry, settings, args.name),
        "list": _list,
        "policy": lambda registry: registry.set_policy(args.name, Policy(args.policy)),
        "admin": lambda registry: _admin(registry, args.name, args.email, _read_password()),
        "events-token": lambda registry: _events_token(registry, settings, args.name),
        "events-push": lambda registry: _events_push(registry, args.name, args.url),
    }
    action = actions[args.action]

    async def run() -> None:
        async with mongo_database(settings) as database:
            await action(MongoTenantRegistry(database[TENANTS_COLLECTION]))

    try:
        if args.action != "list":
            validate_tenant_name(args.name)
        asyncio.run(run())
    except SettingsError as exc:
        print(f"reference-app: {exc}", file=sys.stderr)
        return 2
    except TenantExists as exc:
        print(f"reference-app: tenant {exc} already exists", file=sys.stderr)
        return 1
    except UnknownTenant as exc:
        print(f"reference-app: no tenant called {exc}", file=sys.stderr)
        return 1
    except (ServiceUnavailable, PyMongoError) as exc:
        print(f"reference-app: MongoDB did not answer: {exc.__cause__ or exc}", file=sys.stderr)
        return 1
    return 0


async def _create(
    registry: MongoTenantRegistry, settings: Settings, name: str, strict: bool
) -> None:
    token = await registry.create(name, policy=Policy.STRICT if strict else Policy.ENTRA)
    _announce(settings, name, token, "created")


async def _rotate(registry: MongoTenantRegistry, settings: Settings, name: str) -> None:
    token = await registry.rotate(name)
    print(
        f"New primary token of tenant {name!r}. The previous primary keeps working as the "
        "secondary until the next rotation, so update Entra's Secret Token at leisure:\n"
        f"  Tenant URL:   {settings.tenant_url(name)}\n"
        f"  Secret Token: {token}",
        flush=True,
    )


def _read_password() -> str:
    """The new password: prompted twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise SettingsError("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < _MIN_PASSWORD:
        raise SettingsError(f"the password needs at least {_MIN_PASSWORD} characters")
    return password


async def _admin(registry: MongoTenantRegistry, tenant: str, email: str, password: str) -> None:
    if "@" not in email:
        raise SettingsError(f"{email!r} is not an email address")
    if await registry.get(tenant) is None:
        raise UnknownTenant(tenant)
    admins = MongoAdminRegistry(registry.collection.database)
    await admins.ensure_indexes()
    created = await admins.set_password(tenant, email, password)
    what = "created" if created else "password changed"
    print(f"Admin {email} of tenant {tenant!r}: {what}. Sign in at /admin/.")


async def _events_token(registry: MongoTenantRegistry, settings: Settings, name: str) -> None:
    token = await registry.rotate(name, TokenKind.EVENTS)
    print(
        f"New events token of tenant {name!r}: it polls the events feed only (never SCIM). "
        "The previous events token keeps working until the next rotation.\n"
        f"  Poll URL:     {settings.tenant_url(name)}/Events\n"
        f"  Events token: {token}\n"
        f"Watch live:     reference-app events listen --tenant-url {settings.tenant_url(name)} "
        f"--token {token}",
        flush=True,
    )


async def _events_push(registry: MongoTenantRegistry, name: str, url: str | None) -> None:
    if url is not None:
        url = check_url(url)
    await registry.set_events_push(name, url)
    if url is None:
        print(f"Tenant {name!r}: events are no longer pushed.")
    else:
        print(
            f"Tenant {name!r}: events are pushed to {url} "
            "(running servers pick it up within a minute)."
        )


def _listen(args: argparse.Namespace) -> int:
    from reference_app.listen import ListenError, listen

    try:
        asyncio.run(listen(args.tenant_url, args.token, jwks_url=args.jwks_url))
    except KeyboardInterrupt:
        return 0
    except ListenError as exc:
        print(f"reference-app: {exc}", file=sys.stderr)
        return 1
    return 0


async def _list(registry: MongoTenantRegistry) -> None:
    tenants = await registry.list()
    if not tenants:
        print("No tenants.")
    for tenant in tenants:
        created = tenant.created.strftime("%Y-%m-%d %H:%M:%S UTC")
        print(f"{tenant.name}\t{tenant.policy.value}\tcreated {created}")


if __name__ == "__main__":
    sys.exit(main())
