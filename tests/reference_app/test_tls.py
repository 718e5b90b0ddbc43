"""HTTPS served directly (``--certfile``/``--keyfile``) with a throw-away CA a client verifies."""

from __future__ import annotations

import httpx
import pytest
import trustme

from reference_app.__main__ import main
from tests.reference_app.process import free_port, served, trusting_context

TOKEN = "token-of-t-0123456789"


def test_https_is_served_and_verifies_against_the_ca(ca: trustme.CA, cert_files: list[str]):
    port = free_port()
    trusting = trusting_context(ca)
    arguments = [*cert_files, "--tenant", f"t:{TOKEN}"]
    with served(arguments, port=port, scheme="https", verify=trusting) as server:
        assert server.base_url.startswith("https://")
        with httpx.Client(base_url=server.base_url, verify=trusting, timeout=5) as client:
            answer = client.get("/scim/v2/t/Users", headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 200
            # Printed and rendered URLs say https (the scheme follows the certificate option).
            location = client.post(
                "/scim/v2/t/Users",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "tls@example.com",
                },
            ).headers["Location"]
            assert location.startswith(f"https://localhost:{port}/scim/v2/t/Users/")
        # A client that does not trust the CA refuses the certificate.
        with httpx.Client(base_url=server.base_url, timeout=5) as untrusting:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                untrusting.get("/healthz")
        # Plain HTTP on the TLS port gets no SCIM answer.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as plain:
            with pytest.raises(httpx.TransportError):
                plain.get("/healthz")
        # The container probe speaks TLS to the same settings.
        assert main(["healthcheck", "--port", str(port), *cert_files]) == 0
