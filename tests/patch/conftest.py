from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run ``slow`` tests only when asked for (``-m slow``), as the marker's help says."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if item.get_closest_marker("slow") is not None and item.path.is_relative_to(
            config.rootpath / "tests" / "patch"
        ):
            item.add_marker(skip)
