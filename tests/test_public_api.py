from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys
import types

import pytest

import scimkit
import scimkit.store


@pytest.mark.parametrize("module", [scimkit, scimkit.store], ids=lambda m: m.__name__)
def test_all_is_sorted_and_complete(module: types.ModuleType) -> None:
    """The curated public API: sorted, and every public top-level name is listed."""
    assert module.__all__ == sorted(module.__all__)
    public = {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_") and not isinstance(obj, types.ModuleType)
    }
    public -= {"annotations"}
    assert set(module.__all__) == public


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


def test_filter_package_names_no_mongodb_layout():
    """The filter core is backend-neutral: its code holds no MongoDB operator or field path.

    The document layout (``a``/``f``/``s`` fields) and the translation live in
    ``scimkit.mongo``; a string literal such as ``"$elemMatch"`` or ``"f.userName"`` here
    would mean that knowledge crept back.
    """
    package = pathlib.Path(scimkit.__file__).parent / "_filter"
    operator = re.compile(r"\$[A-Za-z]+")
    field = re.compile(r"[afs]\.\S*")
    found = []
    for source in sorted(package.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                modules += [alias.name for alias in node.names]
                found += [f"{source.name}: imports {m}" for m in modules if "mongo" in m]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if operator.fullmatch(node.value) or field.fullmatch(node.value):
                    found.append(f"{source.name}:{node.lineno}: {node.value!r}")
            elif isinstance(node, ast.Dict):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                layout = [k for k in keys if k in ("a", "f", "s")]
                found += [f"{source.name}:{node.lineno}: key {k!r}" for k in layout]
    assert found == []
