"""The three apps of ``request_log_http --one-process``: each port reaches its own app."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from benchmarks import one_process
from benchmarks._entra import headers
from benchmarks.run_ceiling import TENANT

TOKEN = "t" * 32
OFF, ON, CEILING = 8101, 8102, 8103


async def _lifespan(app: one_process.ByPort, message: str) -> tuple[Any, Any, Any]:
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan"}, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    assert (await from_app.get())["type"] == message
    return task, to_app, from_app


async def test_each_port_reaches_its_app_and_every_lifespan_runs() -> None:
    app = one_process.build(TOKEN, "request_log", OFF, ON, CEILING)
    task, to_app, from_app = await _lifespan(app, "lifespan.startup.complete")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@b.example"}
    async with httpx.AsyncClient(transport=transport) as client:
        base = f"/scim/v2/{TENANT}/Users"
        created = await client.post(
            f"http://127.0.0.1:{ON}{base}", json=user, headers=headers(TOKEN)
        )
        assert created.status_code == 201
        lookup = base + "?filter=userName%20eq%20%22a@b.example%22"
        found = {
            port: (await client.get(f"http://127.0.0.1:{port}{lookup}", headers=headers(TOKEN)))
            for port in (OFF, ON)
        }
        # Two reference apps, two stores: the user exists only where it was made.
        assert [found[port].json()["totalResults"] for port in (OFF, ON)] == [0, 1]
        # The ceiling answers any filter with one made-up user and keeps nothing.
        ceiling = await client.get(f"http://127.0.0.1:{CEILING}{lookup}", headers=headers(TOKEN))
        assert ceiling.status_code == 200 and ceiling.json()["totalResults"] == 1
    on, off = app.apps[ON], app.apps[OFF]
    assert on.state.activity is not None and off.state.activity is None
    await on.state.activity.flush()  # the recorder runs: the ON app's lifespan was entered
    assert on.state.activity.stored == 2  # its POST and its GET
    await to_app.put({"type": "lifespan.shutdown"})
    assert (await from_app.get())["type"] == "lifespan.shutdown.complete"
    await task
