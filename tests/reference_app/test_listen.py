"""``reference-app events listen`` against a served app: verified, one line per event, acked."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from typing import IO

import httpx

from tests.reference_app.process import free_port, reference_app_command, served
from tests.reference_app.support import TOKEN_A

EVENTS_TOKEN = "events-token-of-acme-0123456789"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _lines(stream: IO[str]) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            found.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return found


def _next(lines: queue.Queue[str]) -> str:
    return lines.get(timeout=20)


def _listener(tenant_url: str, token: str) -> subprocess.Popen[str]:
    command = [*reference_app_command(), "events", "listen", "--tenant-url", tenant_url]
    return subprocess.Popen(
        [*command, "--token", token],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(listener: subprocess.Popen[str]) -> str:
    listener.send_signal(signal.SIGINT)
    _, stderr = listener.communicate(timeout=15)
    assert listener.returncode == 0, stderr
    return stderr


def test_listen_prints_each_event_once_and_acknowledges_it():
    arguments = ["--tenant", f"acme:{TOKEN_A}", "--events-token", f"acme:{EVENTS_TOKEN}"]
    with served(arguments, port=free_port()) as server:
        tenant_url = f"{server.base_url}/scim/v2/acme"
        scim = httpx.Client(
            base_url=tenant_url, headers={"Authorization": f"Bearer {TOKEN_A}"}, timeout=10
        )
        with scim:
            listener = _listener(tenant_url, EVENTS_TOKEN)
            assert listener.stdout is not None
            lines = _lines(listener.stdout)
            body = {"schemas": [USER], "userName": "ada@acme.example", "externalId": "ada-1"}
            user = scim.post("/Users", json=body).json()
            created = _next(lines)
            assert "prov:create" in created and f"/Users/{user['id']}" in created
            assert "externalId=ada-1" in created and "userName=ada@acme.example" in created
            deactivate = {
                "schemas": [PATCH],
                "Operations": [{"op": "replace", "path": "active", "value": "False"}],
            }
            assert scim.patch(f"/Users/{user['id']}", json=deactivate).status_code == 200
            patched = _next(lines)
            assert "prov:patch" in patched and "changed: replace active" in patched
            assert "prov:deactivate" in _next(lines)
            time.sleep(0.5)  # its next poll (sent at once) acknowledges what it printed
            _stop(listener)

            # A second listener sees only what happened since, nothing printed before.
            scim.post("/Users", json={"schemas": [USER], "userName": "bob@acme.example"})
            again = _listener(tenant_url, EVENTS_TOKEN)
            assert again.stdout is not None
            later = _lines(again.stdout)
            line = _next(later)
            assert "prov:create" in line and "bob@acme.example" in line
            time.sleep(1.0)
            assert later.empty()
            _stop(again)

        # A SCIM token is not an events token.
        wrong = _listener(tenant_url, TOKEN_A)
        _, stderr = wrong.communicate(timeout=15)
        assert wrong.returncode == 1 and "refused the events token (401)" in stderr
