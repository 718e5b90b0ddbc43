"""The reference app's settings: command-line values over ``SCIMKIT_*`` environment variables.

This is the only module of the project that reads the environment. Everything else receives a
frozen :class:`Settings`.

==========================  ==========================================================
variable                    meaning
==========================  ==========================================================
``SCIMKIT_HOST``            address to bind (default ``127.0.0.1``)
``SCIMKIT_PORT``            port to bind (default ``8000``)
``SCIMKIT_MONGODB_URI``     MongoDB URI; without it the embedded memory store is used
``SCIMKIT_MONGODB_DATABASE``  database name (default ``scimkit``)
``SCIMKIT_TENANTS``         ``name:token,name:token`` tenants kept in the process
``SCIMKIT_STRICT_TENANTS``  ``name,name``: these process tenants get strict RFC input rules
``SCIMKIT_WORKERS``         worker processes (default 1; more needs MongoDB)
``SCIMKIT_SERVER``          ASGI server: ``hypercorn`` (default), ``granian`` or ``uvicorn``
``SCIMKIT_PUBLIC_URL``      base URL clients use (printed Tenant URLs start with it)
``SCIMKIT_CERTFILE``        TLS certificate (PEM) to serve HTTPS directly
``SCIMKIT_KEYFILE``         TLS private key (PEM)
``SCIMKIT_CURSOR_SECRET``   secret signing RFC 9865 cursors (shared by all workers)
``SCIMKIT_LOG_LEVEL``       ``debug``, ``info`` (default), ``warning`` or ``error``
``SCIMKIT_ADMINS``          ``tenant:email:password,...`` console admins kept in the process
``SCIMKIT_SESSION_SECRET``  secret signing admin console sessions (shared by all workers)
``SCIMKIT_LOG_FORMAT``      ``text`` (default) or ``json`` (one JSON object per line)
``SCIMKIT_METRICS_PORT``    port serving Prometheus ``/metrics`` on the same host (default: none)
``SCIMKIT_METRICS_TENANT_LABELS``  how many tenants get their own metrics label (default 0: off)
``SCIMKIT_EVENTS``          ``on`` (default) or ``off``: record provisioning events
``SCIMKIT_EVENTS_TOKENS``   ``tenant:token,...`` events tokens (poll ``/Events``) of process tenants
``SCIMKIT_EVENTS_PUSH``     ``tenant:url,...`` push receivers (RFC 8935) of process tenants
``SCIMKIT_EVENTS_KEY``      PEM file of the SET signing key (generated there when absent)
``SCIMKIT_REQUEST_LOG``     ``on`` (default) or ``off``: the console's SCIM request log (Activity)
``SCIMKIT_MALLOC_TUNING``   ``on`` (default) or ``off``: keep freed memory in the process (glibc)
==========================  ==========================================================

``SCIMKIT_WORKER_SETTINGS`` is internal: ``serve --workers N`` sets it to the resolved settings
as JSON for its worker processes, and when it is set it is the whole configuration.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from scimkit.web import check_token

__all__ = [
    "AdminSeed",
    "DEFAULT_DATABASE",
    "ENV_PREFIX",
    "EventsPushSeed",
    "EventsTokenSeed",
    "LOG_FORMATS",
    "SERVERS",
    "Settings",
    "SettingsError",
    "MAX_TENANT_NAME",
    "TENANT_NAME_PATTERN",
    "TenantSeed",
    "WORKER_SETTINGS_VARIABLE",
    "check_url",
    "load_settings",
    "parse_admin",
    "parse_events_push",
    "parse_events_token",
    "parse_tenant",
    "validate_tenant_name",
    "worker_environ",
]

ENV_PREFIX = "SCIMKIT_"
DEFAULT_DATABASE = "scimkit"
WORKER_SETTINGS_VARIABLE = "SCIMKIT_WORKER_SETTINGS"
MAX_TENANT_NAME = 63
"""The longest tenant name, in characters."""
TENANT_NAME_PATTERN = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_TENANT_NAME - 1}}}")
"""Tenant names are one lower-case URL path segment, so the Tenant URL needs no escaping."""

_LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
SERVERS = ("hypercorn", "granian", "uvicorn")
"""The ASGI servers ``serve`` can run (``reference_app.servers``); the first is the default."""
_MIN_SECRET_BYTES = 16
# A revoked token works on other instances for up to this long with the tenant cache on: five
# minutes at most, so that milliseconds given for seconds fail at start instead.
_MAX_TENANT_CACHE_SECONDS = 300


class SettingsError(ValueError):
    """A setting has an invalid value; the message names the setting."""


def validate_tenant_name(name: str) -> str:
    """``name`` if it is a valid tenant name, else :class:`SettingsError`."""
    if not TENANT_NAME_PATTERN.fullmatch(name):
        raise SettingsError(
            f"invalid tenant name {name!r}: use 1-{MAX_TENANT_NAME} lower-case letters, digits, "
            "'-' or '_', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True, slots=True)
class TenantSeed:
    """A tenant given on the command line or in ``SCIMKIT_TENANTS``, with its clear token.

    Such tenants live in the process only; the token is hashed as soon as the app is built.
    """

    name: str
    token: str = field(repr=False)
    strict: bool = False


def parse_tenant(text: str) -> TenantSeed:
    """Parse ``NAME:TOKEN`` (the token may itself contain ``:``)."""
    return TenantSeed(*_name_and_token(text, "a tenant", "token"))


def _name_and_token(text: str, what: str, kind: str) -> tuple[str, str]:
    """``NAME:TOKEN`` checked: a valid tenant name and a token a client can present."""
    name, sep, token = text.partition(":")
    if not sep or not token:
        raise SettingsError(f"{what} must be given as NAME:TOKEN, not {text.split(':')[0]!r}…")
    validate_tenant_name(name)
    try:
        check_token(token)
    except ValueError as exc:
        raise SettingsError(f"the {kind} of tenant {name!r}: {exc}") from None
    return name, token


@dataclass(frozen=True, slots=True)
class AdminSeed:
    """An admin console account given with ``--admin`` or in ``SCIMKIT_ADMINS``.

    The password is hashed as soon as the app is built; the account lives in the process.
    """

    tenant: str
    email: str
    password: str = field(repr=False)


def parse_admin(text: str) -> AdminSeed:
    """Parse ``TENANT:EMAIL:PASSWORD`` (the password may itself contain ``:``)."""
    tenant, _, rest = text.partition(":")
    email, _, password = rest.partition(":")
    if "@" not in email or not password:
        raise SettingsError(
            f"an admin must be given as TENANT:EMAIL:PASSWORD, not {tenant!r}:{email!r}:…"
        )
    return AdminSeed(validate_tenant_name(tenant), email.strip(), password)


@dataclass(frozen=True, slots=True)
class EventsTokenSeed:
    """An events token (``--events-token``) of a process tenant: it polls ``/Events`` only."""

    tenant: str
    token: str = field(repr=False)


def parse_events_token(text: str) -> EventsTokenSeed:
    """Parse ``TENANT:TOKEN`` (the token may itself contain ``:``)."""
    return EventsTokenSeed(*_name_and_token(text, "an events token", "events token"))


@dataclass(frozen=True, slots=True)
class EventsPushSeed:
    """A push receiver URL (``--events-push``) of a process tenant."""

    tenant: str
    url: str


def parse_events_push(text: str) -> EventsPushSeed:
    """Parse ``TENANT:URL``; the URL must be absolute http(s)."""
    tenant, sep, url = text.partition(":")
    if not sep or not url:
        raise SettingsError(f"a push receiver must be given as TENANT:URL, not {text!r}")
    validate_tenant_name(tenant)
    return EventsPushSeed(tenant, check_url(url))


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host (a push receiver), else an error."""
    from scimkit.events import check_push_url

    try:
        return check_push_url(url)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the reference app is configured with. Secrets are kept out of ``repr``."""

    host: str = "127.0.0.1"
    port: int = 8000
    mongodb_uri: str | None = field(default=None, repr=False)
    mongodb_database: str = DEFAULT_DATABASE
    tenants: tuple[TenantSeed, ...] = ()
    workers: int = 1
    server: str = SERVERS[0]
    public_url: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    cursor_secret: str | None = field(default=None, repr=False)
    log_level: str = "info"
    admins: tuple[AdminSeed, ...] = ()
    session_secret: str | None = field(default=None, repr=False)
    request_log: bool = True
    """Record each SCIM request for the admin console's Activity page."""
    malloc_tuning: bool = True
    """Tell glibc's allocator to keep freed memory (``reference_app.allocator``)."""
    log_format: str = "text"
    metrics_port: int | None = None
    metrics_tenant_labels: int = 0
    events: bool = True
    """Record provisioning events (``docs/events.md``) when the store can."""
    events_tokens: tuple[EventsTokenSeed, ...] = ()
    events_push: tuple[EventsPushSeed, ...] = ()
    events_key: str | None = None
    """PEM file of the SET signing key; ``None``: a key kept in the process only."""
    tenant_cache_seconds: int = 0
    """Seconds a tenant read from MongoDB is kept in the process (``0``: read per request)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, not {self.port}")
        if self.workers < 1:
            raise SettingsError(f"workers must be at least 1, not {self.workers}")
        if not self.mongodb_database:
            raise SettingsError("the MongoDB database name must not be empty")
        names = [seed.name for seed in self.tenants]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise SettingsError(f"tenant given twice: {', '.join(duplicates)}")
        if (self.certfile is None) != (self.keyfile is None):
            raise SettingsError("HTTPS needs both a certificate file and a key file")
        if self.cursor_secret is not None and len(self.cursor_secret) < _MIN_SECRET_BYTES:
            raise SettingsError(f"the cursor secret needs at least {_MIN_SECRET_BYTES} characters")
        if self.server not in SERVERS:
            raise SettingsError(f"server must be one of {', '.join(SERVERS)}, not {self.server!r}")
        if self.log_level not in _LOG_LEVELS:
            raise SettingsError(f"log level must be one of {', '.join(_LOG_LEVELS)}")
        if self.session_secret is not None and len(self.session_secret) < _MIN_SECRET_BYTES:
            raise SettingsError(f"the session secret needs at least {_MIN_SECRET_BYTES} characters")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"log format must be one of {', '.join(LOG_FORMATS)}")
        if self.metrics_port is not None:
            if not 0 <= self.metrics_port <= 65535:
                raise SettingsError(f"metrics port must be 0 to 65535, not {self.metrics_port}")
            if self.metrics_port == self.port != 0:
                raise SettingsError("the metrics port must not be the SCIM port")
        if self.metrics_tenant_labels < 0:
            raise SettingsError("metrics tenant labels must be 0 (off) or more")
        if not 0 <= self.tenant_cache_seconds <= _MAX_TENANT_CACHE_SECONDS:
            raise SettingsError(
                f"the tenant cache must keep tenants 0 (off) to {_MAX_TENANT_CACHE_SECONDS} "
                f"seconds, not {self.tenant_cache_seconds}"
            )
        if self.tenant_cache_seconds and self.mongodb_uri is None:
            raise SettingsError(
                "the tenant cache keeps tenants read from MongoDB: it needs a MongoDB URI"
            )
        if not self.events and (self.events_tokens or self.events_push):
            raise SettingsError("events tokens and push receivers need events on (--events on)")
        for kind, seeds in (
            ("events token", self.events_tokens),
            ("push receiver", self.events_push),
        ):
            named = [seed.tenant for seed in seeds]
            twice = sorted({name for name in named if named.count(name) > 1})
            if twice:
                raise SettingsError(f"{kind} given twice for tenant {', '.join(twice)}")

    @property
    def events_wanted(self) -> bool:
        """Whether events tokens or push receivers are configured (they need a feed)."""
        return bool(self.events_tokens or self.events_push)

    @property
    def uses_mongodb(self) -> bool:
        return self.mongodb_uri is not None

    @property
    def base_url(self) -> str:
        """The URL clients reach the app at, without a trailing slash."""
        if self.public_url is not None:
            return self.public_url.rstrip("/")
        scheme = "https" if self.certfile is not None else "http"
        # A wildcard bind address is not an address a client can use.
        host = "localhost" if self.host in ("", "0.0.0.0", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    def tenant_url(self, tenant: str) -> str:
        """The Tenant URL to paste into Microsoft Entra for ``tenant``."""
        return f"{self.base_url}/scim/v2/{tenant}"


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings from command-line ``overrides`` (``None`` = not given) over ``environ``.

    ``environ`` defaults to ``os.environ``. ``overrides`` keys are :class:`Settings` field
    names; ``tenants`` is a list of ``NAME:TOKEN`` strings and ``strict_tenants`` a list of
    names.
    """
    env = os.environ if environ is None else environ
    resolved = env.get(WORKER_SETTINGS_VARIABLE)
    if resolved and not overrides:
        return _from_json(resolved)
    given = {key: value for key, value in (overrides or {}).items() if value is not None}

    def pick(key: str) -> str | None:
        if key in given:
            return str(given[key])
        value = env.get(ENV_PREFIX + key.upper())
        return value if value else None

    tenant_texts: Iterable[str] = given.get("tenants") or _split(env.get("SCIMKIT_TENANTS"))
    strict_names = set(given.get("strict_tenants") or _split(env.get("SCIMKIT_STRICT_TENANTS")))
    tenants = []
    for text in tenant_texts:
        seed = parse_tenant(text)
        tenants.append(TenantSeed(seed.name, seed.token, strict=seed.name in strict_names))
    unknown = strict_names - {seed.name for seed in tenants}
    if unknown:
        raise SettingsError(
            f"strict tenant(s) {', '.join(sorted(unknown))} not given with --tenant; "
            "use `reference-app tenant tolerance` for stored tenants"
        )

    values: dict[str, Any] = {"tenants": tuple(tenants)}
    admin_texts: Iterable[str] = given.get("admins") or _split(env.get("SCIMKIT_ADMINS"))
    values["admins"] = tuple(parse_admin(text) for text in admin_texts)
    token_texts: Iterable[str] = given.get("events_tokens") or _split(
        env.get("SCIMKIT_EVENTS_TOKENS")
    )
    values["events_tokens"] = tuple(parse_events_token(text) for text in token_texts)
    push_texts: Iterable[str] = given.get("events_push") or _split(env.get("SCIMKIT_EVENTS_PUSH"))
    values["events_push"] = tuple(parse_events_push(text) for text in push_texts)
    events = pick("events")
    if events is not None:
        values["events"] = _switch("events", events)
    key = pick("events_key")
    if key is not None:
        values["events_key"] = key
    secret = pick("session_secret")
    if secret is not None:
        values["session_secret"] = secret
    for key in ("host", "mongodb_uri", "public_url", "certfile", "keyfile", "cursor_secret"):
        value = pick(key)
        if value is not None:
            values[key] = value
    database = pick("mongodb_database")
    if database is not None:
        values["mongodb_database"] = database
    for key in ("port", "workers", "metrics_port", "metrics_tenant_labels", "tenant_cache_seconds"):
        number = pick(key)
        if number is not None:
            values[key] = _integer(key, number)
    level = pick("log_level")
    if level is not None:
        values["log_level"] = level.lower()
    log_format = pick("log_format")
    if log_format is not None:
        values["log_format"] = log_format.lower()
    server = pick("server")
    if server is not None:
        values["server"] = server.lower()
    for switch in ("request_log", "malloc_tuning"):
        word = pick(switch)
        if word is not None:
            values[switch] = _switch(switch, word)
    return Settings(**values)


def worker_environ(settings: Settings) -> dict[str, str]:
    """Environment variables from which :func:`load_settings` rebuilds ``settings`` exactly.

    Worker processes are spawned afresh (the servers' multi-process runners; granian always
    serves from workers), so this is how they receive the parent's resolved settings: one
    JSON value, because the ``SCIMKIT_*`` list formats cannot carry every token (a comma in
    a token would split it in two).
    """
    return {WORKER_SETTINGS_VARIABLE: json.dumps(asdict(settings))}


def _from_json(text: str) -> Settings:
    try:
        values = json.loads(text)
        values["tenants"] = tuple(TenantSeed(**seed) for seed in values["tenants"])
        values["admins"] = tuple(AdminSeed(**seed) for seed in values["admins"])
        values["events_tokens"] = tuple(EventsTokenSeed(**s) for s in values["events_tokens"])
        values["events_push"] = tuple(EventsPushSeed(**s) for s in values["events_push"])
        return Settings(**values)
    except SettingsError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        # The type only: the text holds tokens and secrets.
        raise SettingsError(
            f"{WORKER_SETTINGS_VARIABLE} is not valid ({type(exc).__name__})"
        ) from None


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _switch(key: str, text: str) -> bool:
    word = text.strip().lower()
    if word in ("on", "true", "1", "yes"):
        return True
    if word in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"{key} must be on or off, not {text!r}")


def _integer(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{key} must be an integer, not {text!r}") from None
