from __future__ import annotations

import subprocess
import sys
import types

import scimkit


def test_all_is_sorted_and_complete():
    """The curated public API: sorted, and every public top-level name is listed."""
    assert scimkit.__all__ == sorted(scimkit.__all__)
    public = {
        name
        for name, obj in vars(scimkit).items()
        if not name.startswith("_") and not isinstance(obj, types.ModuleType)
    }
    public -= {"annotations"}
    assert set(scimkit.__all__) == public


def test_exported_classes_claim_the_package():
    for name in scimkit.__all__:
        obj = getattr(scimkit, name)
        if isinstance(obj, type):
            assert obj.__module__ == "scimkit", name


def test_core_imports_neither_starlette_nor_a_mongo_driver():
    code = (
        "import sys, scimkit\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'pymongo', 'motor', 'bson', 'hypercorn', 'joserfc', 'httpx')]\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_adapter_packages_curate_their_api_too():
    import scimkit.events
    import scimkit.mongo
    import scimkit.testing
    import scimkit.web

    for module in (scimkit.web, scimkit.mongo, scimkit.testing, scimkit.events):
        assert module.__all__ == sorted(module.__all__), module.__name__
        assert all(hasattr(module, name) for name in module.__all__), module.__name__
