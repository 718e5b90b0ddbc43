"""How a public package presents the names it re-exports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["claim"]


def claim(namespace: Mapping[str, object], names: Iterable[str], module: str) -> None:
    """Name ``module`` as the home of each class in ``names`` (reprs, docs and pickles).

    Users import these classes from the public package, so tracebacks and ``repr`` should say
    ``scimkit.MemoryStore``, not the private module that happens to define it.
    """
    for name in names:
        value = namespace[name]
        if isinstance(value, type):
            value.__module__ = module
