from __future__ import annotations

import pytest

from reference_app.settings import (
    Settings,
    SettingsError,
    TenantSeed,
    load_settings,
    parse_tenant,
    worker_environ,
)


def test_defaults_without_arguments_or_environment():
    settings = load_settings({}, environ={})
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert not settings.uses_mongodb
    assert settings.tenant_url("acme") == "http://127.0.0.1:8000/scim/v2/acme"


def test_environment_is_read():
    environ = {
        "SCIMKIT_HOST": "0.0.0.0",
        "SCIMKIT_PORT": "9000",
        "SCIMKIT_MONGODB_URI": "mongodb://db:27017",
        "SCIMKIT_MONGODB_DATABASE": "scim",
        "SCIMKIT_TENANTS": "acme:tok-1, beta:tok:with:colons",
        "SCIMKIT_STRICT_TENANTS": "beta",
        "SCIMKIT_WORKERS": "3",
        "SCIMKIT_PUBLIC_URL": "https://scim.example.com/",
        "SCIMKIT_LOG_LEVEL": "WARNING",
        "SCIMKIT_SERVER": "Granian",
    }
    settings = load_settings({}, environ=environ)
    assert settings.host == "0.0.0.0"
    assert settings.port == 9000
    assert settings.mongodb_uri == "mongodb://db:27017"
    assert settings.mongodb_database == "scim"
    assert settings.tenants == (
        TenantSeed("acme", "tok-1"),
        TenantSeed("beta", "tok:with:colons", strict=True),
    )
    assert settings.workers == 3
    assert settings.log_level == "warning"
    assert settings.server == "granian"
    assert settings.tenant_url("acme") == "https://scim.example.com/scim/v2/acme"


def test_command_line_wins_over_environment():
    environ = {"SCIMKIT_PORT": "9000", "SCIMKIT_TENANTS": "acme:env-token"}
    settings = load_settings({"port": 7000, "tenants": ["beta:cli-token"], "host": None}, environ)
    assert settings.port == 7000
    assert settings.tenants == (TenantSeed("beta", "cli-token"),)


def test_secrets_stay_out_of_repr():
    settings = load_settings(
        {"tenants": ["acme:very-secret-token"], "mongodb_uri": "mongodb://u:pw@db"}, environ={}
    )
    assert "very-secret-token" not in repr(settings)
    assert "pw@db" not in repr(settings)


def test_wildcard_host_prints_a_usable_url():
    assert Settings(host="0.0.0.0", port=80).base_url == "http://localhost:80"
    assert Settings(host="::1").base_url == "http://[::1]:8000"
    https = Settings(certfile="c.pem", keyfile="k.pem")
    assert https.tenant_url("t") == "https://127.0.0.1:8000/scim/v2/t"


@pytest.mark.parametrize(
    ("overrides", "environ", "message"),
    [
        ({"port": 70000}, {}, "port"),
        ({}, {"SCIMKIT_PORT": "eighty"}, "port must be an integer"),
        ({"workers": 0}, {}, "workers"),
        ({"tenants": ["acme"]}, {}, "NAME:TOKEN"),
        ({"tenants": ["Acme:tok"]}, {}, "invalid tenant name"),
        ({"tenants": ["a/b:tok"]}, {}, "invalid tenant name"),
        ({"tenants": ["acme:x", "acme:y"]}, {}, "given twice"),
        ({"strict_tenants": ["ghost"]}, {}, "ghost"),
        ({"certfile": "c.pem"}, {}, "key file"),
        ({"cursor_secret": "short"}, {}, "cursor secret"),
        ({"log_level": "loud"}, {}, "log level"),
        ({"server": "gunicorn"}, {}, "server must be one of hypercorn, granian, uvicorn"),
        ({}, {"SCIMKIT_MONGODB_DATABASE": ""}, None),
        ({"mongodb_database": ""}, {}, "database name"),
        ({}, {"SCIMKIT_REQUEST_LOG": "maybe"}, "request_log must be on or off"),
        ({"malloc_tuning": "sometimes"}, {}, "malloc_tuning must be on or off"),
    ],
)
def test_invalid_values_are_refused_with_the_setting_named(overrides, environ, message):
    if message is None:  # an empty value counts as not given
        assert load_settings(overrides, environ).mongodb_database == "scimkit"
        return
    with pytest.raises(SettingsError, match=message):
        load_settings(overrides, environ)


def test_tenant_errors_do_not_echo_the_token():
    with pytest.raises(SettingsError) as info:
        parse_tenant("BAD:super-secret")
    assert "super-secret" not in str(info.value)


def test_worker_environment_rebuilds_the_same_settings():
    settings = load_settings(
        {
            "host": "0.0.0.0",
            "port": 8123,
            "mongodb_uri": "mongodb://db",
            "tenants": ["acme:tok-1", "beta:tok-2"],
            "strict_tenants": ["beta"],
            "workers": 4,
            "server": "uvicorn",
            "cursor_secret": "0123456789abcdef0123",
            "request_log": "off",
            "malloc_tuning": "off",
            "tenant_cache_seconds": 5,
        },
        environ={},
    )
    assert not settings.request_log and not settings.malloc_tuning
    assert settings.tenant_cache_seconds == 5  # each worker keeps its own tenants 5 s
    assert load_settings({}, worker_environ(settings)) == settings


@pytest.mark.parametrize(
    ("overrides", "environ", "expected"),
    [
        ({}, {}, True),
        ({}, {"SCIMKIT_REQUEST_LOG": "off"}, False),
        ({}, {"SCIMKIT_REQUEST_LOG": " OFF "}, False),
        ({}, {"SCIMKIT_REQUEST_LOG": "on"}, True),
        ({"request_log": "on"}, {"SCIMKIT_REQUEST_LOG": "off"}, True),
        ({"request_log": "off"}, {}, False),
    ],
)
def test_the_request_log_is_switched_on_or_off(overrides, environ, expected):
    assert load_settings(overrides, environ).request_log is expected


@pytest.mark.parametrize(
    ("overrides", "environ", "expected"),
    [
        ({}, {}, True),
        ({}, {"SCIMKIT_MALLOC_TUNING": "off"}, False),
        ({"malloc_tuning": "on"}, {"SCIMKIT_MALLOC_TUNING": "off"}, True),
    ],
)
def test_the_allocator_tuning_is_switched_on_or_off(overrides, environ, expected):
    assert load_settings(overrides, environ).malloc_tuning is expected


def test_console_admins_and_session_secret():
    from reference_app.settings import AdminSeed

    settings = load_settings(
        {"admins": ["acme:ada@x.example:pw:with:colons"]},
        environ={"SCIMKIT_SESSION_SECRET": "s" * 32},
    )
    assert settings.admins == (AdminSeed("acme", "ada@x.example", "pw:with:colons"),)
    assert "pw:with" not in repr(settings) and "s" * 32 not in repr(settings)
    from_env = load_settings({}, environ={"SCIMKIT_ADMINS": "a:a@x:p1, b:b@x:p2"})
    assert [(a.tenant, a.email) for a in from_env.admins] == [("a", "a@x"), ("b", "b@x")]
    rebuilt = load_settings({}, environ=worker_environ(settings))
    assert rebuilt.admins == settings.admins and rebuilt.session_secret == "s" * 32
    for bad in ("acme:no-email:pw", "acme:a@x:", "Bad Name:a@x:pw"):
        with pytest.raises(SettingsError):
            load_settings({"admins": [bad]}, environ={})
    with pytest.raises(SettingsError, match="session secret"):
        Settings(session_secret="short")


def test_worker_environment_keeps_tokens_with_commas_intact():
    settings = load_settings(
        {
            "mongodb_uri": "mongodb://db",
            "tenants": ["acme:tok,beta:stolen", "gamma:a,,b,"],
            "strict_tenants": ["gamma"],
            "workers": 2,
        },
        environ={},
    )
    rebuilt = load_settings({}, worker_environ(settings))
    assert rebuilt.tenants == (
        TenantSeed("acme", "tok,beta:stolen"),
        TenantSeed("gamma", "a,,b,", strict=True),
    )
    assert rebuilt == settings


def test_worker_environment_wins_over_the_parents_own_variables():
    # The parent adds the worker variables to its own environment, where the user's
    # SCIMKIT_* variables still are: the workers must get the parent's resolved settings.
    settings = load_settings({"tenants": ["acme:from-cli"], "port": 8123}, environ={})
    environ = {"SCIMKIT_TENANTS": "other:from-env", "SCIMKIT_PORT": "9000"}
    environ.update(worker_environ(settings))
    assert load_settings({}, environ) == settings


@pytest.mark.parametrize("text", ["{", "[]", '{"tenants": [{"name": "a"}]}', '{"port": 1}'])
def test_a_malformed_worker_variable_is_a_settings_error(text: str):
    with pytest.raises(SettingsError, match="SCIMKIT_WORKER_SETTINGS"):
        load_settings(None, {"SCIMKIT_WORKER_SETTINGS": text})


@pytest.mark.parametrize("token", ["tökén-0123456789", "two words", "trailing "])
def test_tenant_tokens_must_be_visible_ascii(token: str):
    with pytest.raises(SettingsError, match="visible ASCII") as info:
        load_settings({"tenants": [f"acme:{token}"]}, environ={})
    assert "acme" in str(info.value)
    assert token.strip() not in str(info.value)
