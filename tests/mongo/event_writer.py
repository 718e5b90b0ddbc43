"""A process that writes through MongoStore with events on, for the crash tests to SIGKILL.

``python -m tests.mongo.event_writer URI DATABASE TENANT [drain|keep] [NAME] [ROUNDS]`` writes
users (``NAME-user<i>``), PATCHes, member adds and deletes one at a time, ``ROUNDS`` rounds
(forever without), then drains and exits, and prints one line per acknowledged write
(``kind id version``, flushed) only after the store returned: what a SCIM client would have
been told succeeded. With ``keep`` its drainer never runs, so everything it wrote is still in
outboxes and tombstones when it dies.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient

from scimkit import GROUP, USER, ResourceService
from scimkit.mongo import MongoStore

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def ack(kind: str, id: str, version: str | None) -> None:
    print(kind, id, version or "-", flush=True)


async def main(
    uri: str,
    database: str,
    tenant: str,
    mode: str = "drain",
    name: str = "w",
    rounds: str = "1000000",
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    # A short lease, so the process that finishes this one's work need not wait long.
    store = MongoStore(client[database], drain_lease=timedelta(seconds=1), drain_sweep_interval=0.2)
    await store.ensure_indexes()
    if mode == "keep":
        await store.close()  # a closed drainer does not start again
    service = ResourceService(store, [USER, GROUP], record_events=True)
    group = await service.create(
        tenant, GROUP, {"schemas": [GROUP.schema.id], "displayName": f"Group {name}"}
    )
    ack("create", group["id"], group["meta"]["version"])
    previous = None
    for i in range(int(rounds)):
        user = await service.create(
            tenant, USER, {"schemas": [USER.schema.id], "userName": f"{name}-user{i}"}
        )
        ack("create", user["id"], user["meta"]["version"])
        body = {"op": "replace", "path": "displayName", "value": f"User {i}"}
        patched = await service.patch(
            tenant, USER, user["id"], {"schemas": [PATCH], "Operations": [body]}
        )
        ack("patch", user["id"], patched["meta"]["version"])
        if i % 2 == 0:
            add = {"op": "add", "path": "members", "value": [{"value": user["id"]}]}
            grown = await service.patch(
                tenant, GROUP, group["id"], {"schemas": [PATCH], "Operations": [add]}
            )
            ack("patch", group["id"], grown["meta"]["version"])
        if previous is not None and i % 3 == 0:
            await service.delete(tenant, USER, previous)
            ack("delete", previous, None)
        previous = user["id"]
    await store.drain_events()
    await store.close()
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
