"""The command line without a server: argument checks and the default-tenant bootstrap."""

from __future__ import annotations

import importlib.util
import re

import pytest

from reference_app.__main__ import _bootstrap_tenants, _overrides, build_parser, main
from reference_app.settings import Settings, TenantSeed, load_settings
from tests.reference_app.support import running, scim_client

TOKEN_LINE = re.compile(r"Secret Token: (\S+)")
URL_LINE = re.compile(r"Tenant URL:\s+(\S+)")


def test_workers_need_mongodb(capsys: pytest.CaptureFixture[str]):
    assert main(["serve", "--workers", "2"]) == 2
    assert "needs MongoDB" in capsys.readouterr().err


def test_a_server_that_is_not_installed_names_its_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "granian" else real(name)
    )
    assert main(["serve", "--server", "granian"]) == 2
    assert "pip install 'scimkit[granian]'" in capsys.readouterr().err


def test_tenant_commands_need_mongodb(capsys: pytest.CaptureFixture[str]):
    assert main(["tenant", "list"]) == 2
    assert "need MongoDB" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--tenant", "Upper:token"],
        ["serve", "--tenant", "no-token"],
        ["serve", "--tenant", "acme:t\u00f6k\u00e9n"],
        ["serve", "--strict-tenant", "ghost"],
        ["serve", "--certfile", "cert.pem"],
        ["serve", "--tenant", "acme:tok-1", "--events-token", "ghost:events-tok-1"],
        ["serve", "--tenant", "acme:tok-1", "--events-push", "ghost:https://app.example/e"],
        ["serve", "--events-push", "default:ftp://app.example/e"],
        ["serve", "--events", "off", "--events-token", "default:events-tok-1"],
        ["serve", "--events-key", "/nonexistent-dir/key.pem"],
        ["serve", "--tenant-cache-seconds", "5"],  # without MongoDB: nothing to keep
        ["serve", "--mongodb-uri", "mongodb://db", "--tenant-cache-seconds", "301"],
    ],
)
def test_bad_settings_exit_with_status_2(argv: list[str], capsys: pytest.CaptureFixture[str]):
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("reference-app: ")


@pytest.mark.parametrize(("switch", "expected"), [("off", False), ("on", True)])
def test_serve_switches_the_request_log(switch: str, expected: bool):
    args = build_parser().parse_args(["serve", "--request-log", switch])
    assert load_settings(_overrides(args), environ={}).request_log is expected


def test_serve_passes_the_tenant_cache_on():
    argv = ["serve", "--mongodb-uri", "mongodb://db", "--tenant-cache-seconds", "5"]
    args = build_parser().parse_args(argv)
    assert load_settings(_overrides(args), environ={}).tenant_cache_seconds == 5


def test_unknown_commands_are_usage_errors():
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


async def test_default_tenant_is_created_and_printed_once(capsys: pytest.CaptureFixture[str]):
    settings = await _bootstrap_tenants(Settings(port=8123))
    out = capsys.readouterr().out
    url = URL_LINE.search(out)
    token = TOKEN_LINE.search(out)
    assert url is not None and url.group(1) == "http://127.0.0.1:8123/scim/v2/default"
    assert token is not None and len(token.group(1)) >= 43
    assert [seed.name for seed in settings.tenants] == ["default"]
    # The printed token is the one that works.
    async with running(settings) as app, scim_client(app, "default", token.group(1)) as client:
        assert (await client.get("/Users")).status_code == 200


async def test_given_tenants_mean_no_default_tenant(capsys: pytest.CaptureFixture[str]):
    settings = Settings(tenants=(TenantSeed("acme", "token-acme-0123456789"),))
    assert await _bootstrap_tenants(settings) == settings
    assert capsys.readouterr().out == ""


async def test_the_new_default_tenant_gets_a_one_time_console_link(
    capsys: pytest.CaptureFixture[str],
):
    from reference_app.__main__ import _announce_link
    from reference_app.app import create_app

    settings = await _bootstrap_tenants(Settings(port=8123))
    app = create_app(settings)
    _announce_link(settings, app.state.admins.registries[0].add_link("default"))
    out = capsys.readouterr().out
    link = re.search(r"http://127\.0\.0\.1:8123/admin/link/(\S+)", out)
    assert link is not None
    assert await app.state.admins.redeem_link(link.group(1)) == "default"
    assert await app.state.admins.redeem_link(link.group(1)) is None
