"""The application's own user table (SQLite), kept in step with SCIM provisioning events.

This is the part a real application already has: its accounts, and a login check. What SCIM
adds is :meth:`Accounts.apply`, which turns "this user now looks like this" (a User resource as
SCIM returns it) into the application's columns, and records what changed for the audit trail;
and :func:`user_after`, which works out that User from an event and the copy kept of it.
Both ways of receiving events (``embedded.py``, ``remote.py``) end up calling them, inside a
transaction that also stores how far the receiver got, so a change and its progress marker are
committed together or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from scimkit import ENTRA, ResourceType, SCIMError, apply_patch, parse_patch

__all__ = ["FCC_USER_URN", "Account", "Accounts", "account_of", "user_after"]

FCC_USER_URN = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS account (
    scim_id        TEXT PRIMARY KEY,
    user_name      TEXT NOT NULL,
    display_name   TEXT,
    active         INTEGER NOT NULL,
    login_disabled INTEGER NOT NULL,
    administrator  INTEGER NOT NULL,
    scim           TEXT NOT NULL  -- the User as SCIM last described it (to replay PATCHes on)
);
CREATE TABLE IF NOT EXISTS audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    scim_id TEXT NOT NULL,
    action  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS progress (
    receiver TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_set (
    jti TEXT PRIMARY KEY
);
"""


@dataclass(frozen=True, slots=True)
class Account:
    """One row of the application's user table."""

    scim_id: str
    user_name: str
    display_name: str | None
    active: bool
    login_disabled: bool
    administrator: bool

    @property
    def may_log_in(self) -> bool:
        return self.active and not self.login_disabled


def account_of(user: Mapping[str, Any]) -> Account:
    """The row for a User resource as a SCIM GET returns it.

    scimkit has already validated and typed the resource, so Entra's ``"False"`` strings arrive
    here as booleans. An absent ``active`` means nobody deactivated the account.
    """
    fcc = user.get(FCC_USER_URN) or {}
    return Account(
        scim_id=user["id"],
        user_name=user["userName"],
        display_name=user.get("displayName"),
        active=user.get("active") is not False,
        login_disabled=fcc.get("loginDisabled") is True,
        administrator=fcc.get("administrator") is True,
    )


def user_after(
    kind: str, payload: Mapping[str, Any], before: Mapping[str, Any] | None, users: ResourceType
) -> dict[str, Any] | None:
    """The User after a provisioning event, worked out from the event alone, if it can be.

    ``kind`` is the event type (``create``, ``put``, ``patch``, ``activate``, ...), ``payload``
    the event's value in the SET (``{"data": ...}`` for a ``full`` event) and ``before`` the
    copy the application kept. A ``full`` create or put carries the User; a ``full`` patch
    carries the PATCH as Entra sent it (any of its dialects), which scimkit's own PATCH engine
    replays on the copy. ``None``: the application must read the User (a ``notice`` event, no
    copy, or a copy that no longer fits).
    """
    data = payload.get("data")
    if kind in ("create", "put") and isinstance(data, dict):
        return _kept(data)
    if before is None:
        return None
    if kind in ("activate", "deactivate"):
        return {**before, "active": kind == "activate"}
    if kind == "patch" and isinstance(data, dict):
        try:
            operations = parse_patch(data, ENTRA)
            patched = apply_patch(before, operations, users, tolerance=ENTRA, members_loaded=False)
        except SCIMError:
            return None
        return _kept(patched.resource)
    return None


def _kept(user: Mapping[str, Any]) -> dict[str, Any]:
    # meta changes on every write and groups are another resource's business: not kept.
    return {key: value for key, value in user.items() if key not in ("meta", "groups")}


def _changes(old: Account | None, new: Account) -> list[str]:
    if old is None:
        return ["created"]
    actions = []
    if (old.user_name, old.display_name) != (new.user_name, new.display_name):
        actions.append(f"renamed to {new.user_name} ({new.display_name})")
    if old.may_log_in and not new.may_log_in:
        actions.append("login refused")  # here a real application ends the user's sessions
    elif new.may_log_in and not old.may_log_in:
        actions.append("login allowed")
    if new.administrator != old.administrator:
        actions.append("administrator granted" if new.administrator else "administrator revoked")
    return actions


class Accounts:
    """The application's SQLite database: accounts, their audit trail, receivers' progress."""

    def __init__(self, path: str) -> None:
        # Autocommit mode: transactions are opened explicitly by transaction().
        self.db = sqlite3.connect(path, isolation_level=None)
        # WAL with synchronous=NORMAL: a commit does not wait for the disk. A power cut may
        # lose the last commits, but a change and its progress marker are lost together, so
        # the lost events are simply delivered again.
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: everything inside is committed together or rolled back."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- what the application asks ------------------------------------------------------------

    def login_allowed(self, user_name: str) -> bool:
        """Whether this user may sign in: provisioned, active and not login-disabled."""
        row = self.db.execute(
            "SELECT active, login_disabled FROM account WHERE user_name = ?", (user_name,)
        ).fetchone()
        return row is not None and bool(row[0]) and not row[1]

    def get(self, scim_id: str) -> Account | None:
        row = self.db.execute("SELECT * FROM account WHERE scim_id = ?", (scim_id,)).fetchone()
        return None if row is None else _account(row)

    def all(self) -> dict[str, Account]:
        return {row[0]: _account(row) for row in self.db.execute("SELECT * FROM account")}

    def resource(self, scim_id: str) -> dict[str, Any] | None:
        """The copy of the User kept with its row (``None`` if there is no row)."""
        row = self.db.execute("SELECT scim FROM account WHERE scim_id = ?", (scim_id,)).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    def audit(self, scim_id: str | None = None) -> list[str]:
        if scim_id is None:
            rows = self.db.execute("SELECT action FROM audit ORDER BY seq")
        else:
            rows = self.db.execute(
                "SELECT action FROM audit WHERE scim_id = ? ORDER BY seq", (scim_id,)
            )
        return [row[0] for row in rows]

    # -- what provisioning changes (call inside transaction()) --------------------------------

    def apply(self, user: Mapping[str, Any]) -> None:
        """Make the row of this User equal the resource, auditing what changed."""
        new = account_of(user)
        actions = _changes(self.get(new.scim_id), new)
        self.db.execute(
            "INSERT OR REPLACE INTO account VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                new.scim_id,
                new.user_name,
                new.display_name,
                new.active,
                new.login_disabled,
                new.administrator,
                orjson.dumps(_kept(user), option=orjson.OPT_UTC_Z),
            ),
        )
        self._audit(new.scim_id, actions)

    def remove(self, scim_id: str) -> None:
        """The user was deleted in SCIM: delete the account (a second delete does nothing)."""
        if self.db.execute("DELETE FROM account WHERE scim_id = ?", (scim_id,)).rowcount:
            self._audit(scim_id, ["deleted"])

    def position(self, receiver: str) -> int:
        """How far ``receiver`` got in the feed (0: from the start)."""
        row = self.db.execute(
            "SELECT position FROM progress WHERE receiver = ?", (receiver,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def set_position(self, receiver: str, position: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO progress VALUES (?, ?)", (receiver, position))

    def first_sight(self, jti: str) -> bool:
        """Record a SET's ``jti``; false if it was recorded before (a re-delivery)."""
        cursor = self.db.execute("INSERT OR IGNORE INTO seen_set VALUES (?)", (jti,))
        return cursor.rowcount == 1

    def _audit(self, scim_id: str, actions: list[str]) -> None:
        self.db.executemany(
            "INSERT INTO audit (scim_id, action) VALUES (?, ?)",
            [(scim_id, action) for action in actions],
        )


def _account(row: tuple[Any, ...]) -> Account:
    scim_id, user_name, display_name, active, login_disabled, administrator, _ = row
    return Account(
        scim_id, user_name, display_name, bool(active), bool(login_disabled), bool(administrator)
    )
