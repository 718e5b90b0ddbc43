"""The service the micro-benchmarks drive: the reference app's resource types on MemoryStore."""

from __future__ import annotations

from benchmarks._entra import sample_user, user_create_body
from scimkit import ENTRA, GROUP, USER, MemoryStore, ResourceService, ResourceType

__all__ = ["TENANT", "fill", "memory_service", "resource_types"]

TENANT = "bench"


def resource_types() -> tuple[ResourceType, ResourceType]:
    """The reference app's User (enterprise + FCC extensions) and Group, else the built-ins."""
    try:
        from reference_app.schemas import GROUPS, USERS
    except ImportError:
        return USER, GROUP
    return USERS, GROUPS


def memory_service(store: MemoryStore) -> ResourceService:
    """A service over ``store`` with Entra's tolerance, as the reference app's tenants run."""
    return ResourceService(store, resource_types(), tolerance=ENTRA)


async def fill(service: ResourceService, count: int) -> list[str]:
    """Create users 0 .. ``count - 1`` with Entra's create body; their ids."""
    users, _ = resource_types()
    ids = []
    for index in range(count):
        created = await service.create(TENANT, users, user_create_body(sample_user(index)))
        ids.append(created["id"])
    return ids
