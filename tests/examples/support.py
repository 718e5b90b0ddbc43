"""Entra-shaped provisioning steps for the example consumer's tests (bodies from benchmarks)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import _entra
from benchmarks._entra import FCC, SimUser, make_users, patch_message, user_create_body

TENANT = "acme"

Write = Callable[[str, str, Any], Awaitable[Any]]
"""Sends one SCIM write: (method, path relative to the tenant URL, body) -> the reply body."""


@dataclass
class EntraRun:
    """Entra's provisioning of a few users, step by step, with what the table must then say."""

    write: Write
    users: list[SimUser] = field(default_factory=lambda: make_users(6, "ex", random.Random(7)))

    def steps(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        """(name, step) in Entra's order; each step leaves the SCIM state changed."""
        u = self.users
        return [
            ("create", self.create_all),
            (
                "default dialect: email and familyName",
                lambda: self.patch(
                    u[1], _entra.replace_email_and_family("new@contoso.example", "Smit")
                ),
            ),
            (
                "rename userName and displayName",
                lambda: self.patch(
                    u[2],
                    patch_message(
                        {"op": "Replace", "path": "userName", "value": "renamed@contoso.example"},
                        {"op": "Replace", "path": "displayName", "value": "Renamed User"},
                    ),
                ),
            ),
            ('disable: active "False"', lambda: self.patch(u[3], _entra.disable())),
            (
                'fcc loginDisabled "True"',
                lambda: self.patch(u[4], _entra.fcc_flag_and_department("loginDisabled", "Legal")),
            ),
            (
                'fcc administrator "True"',
                lambda: self.patch(
                    u[5], _entra.fcc_flag_and_department("administrator", "Finance")
                ),
            ),
            (
                "optscim062020: administrator revoked",
                lambda: self.patch(
                    u[0], _entra.optscim062020("a@contoso.example", "Ann", "Ann X", False, "Legal")
                ),
            ),
            (
                'enable: active "True"',
                lambda: self.patch(
                    u[3], patch_message({"op": "Replace", "path": "active", "value": "True"})
                ),
            ),
            (
                "fcc loginDisabled false (boolean)",
                lambda: self.patch(
                    u[4],
                    patch_message(
                        {"op": "replace", "path": f"{FCC}:loginDisabled", "value": False}
                    ),
                ),
            ),
            ("group with members", self.group),
            ("delete a user in the group", lambda: self.delete(u[1])),
        ]

    async def create_all(self) -> None:
        for user in self.users:
            created = await self.write("POST", "/Users", user_create_body(user))
            user.id = created["id"]

    async def patch(self, user: SimUser, body: dict[str, Any]) -> None:
        await self.write("PATCH", f"/Users/{user.id}", body)

    async def group(self) -> None:
        created = await self.write(
            "POST", "/Groups", _entra.group_create_body("Sales", "group-sales")
        )
        ids = [user.id or "" for user in self.users[:3]]
        await self.write("PATCH", f"/Groups/{created['id']}", _entra.members_patch("Add", ids))

    async def delete(self, user: SimUser) -> None:
        await self.write("DELETE", f"/Users/{user.id}", None)


EXPECTED_AUDIT = {
    0: ["created", "administrator revoked"],
    1: ["created", "deleted"],
    2: ["created", "renamed to renamed@contoso.example (Renamed User)"],
    3: ["created", "login refused", "login allowed"],
    4: ["created", "login refused", "login allowed"],
    5: ["created", "administrator granted"],
}
"""What each user's audit trail holds after every step, each action exactly once."""
