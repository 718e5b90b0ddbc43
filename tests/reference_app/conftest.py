from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trustme
from starlette.applications import Starlette

from tests.reference_app.support import (
    SETTINGS_VARIABLES,
    TOKEN_A,
    TOKEN_B,
    running,
    scim_client,
    two_tenants,
)


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's own variables are unset, so the machine's environment cannot leak in."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def app() -> AsyncIterator[Starlette]:
    """The reference app on the memory store with tenants ``acme`` and ``beta``, started."""
    async with running(two_tenants()) as started:
        yield started


@pytest.fixture
async def acme(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with scim_client(app, "acme", TOKEN_A) as client:
        yield client


@pytest.fixture
async def beta(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with scim_client(app, "beta", TOKEN_B) as client:
        yield client


@pytest.fixture
async def root(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client at the server root, without credentials."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def cert_files(ca: trustme.CA, tmp_path: Path) -> list[str]:
    """``--certfile``/``--keyfile`` arguments for a certificate the CA issued to localhost."""
    issued = ca.issue_cert("localhost", "127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(certfile))
    for extra in issued.cert_chain_pems[1:]:
        extra.write_to_path(str(certfile), append=True)
    issued.private_key_pem.write_to_path(str(keyfile))
    return ["--certfile", str(certfile), "--keyfile", str(keyfile)]
