"""The deployment files lint clean and run only commands, options and variables the app has.

Nothing here builds an image or starts a container (no registry for base images on the test
machines): the files are read, linted and their commands parsed by the real CLI parser.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reference_app.__main__ import _overrides, build_parser
from reference_app.servers import EXTRAS
from reference_app.settings import SERVERS, Settings, load_settings
from tests.deploy.support import (
    ROOT,
    Instruction,
    check_schema,
    dockerfile_stages,
    env_file,
    interpolate,
    load_yaml,
    settings_variables,
    systemd_unit,
    tool,
    variables_in,
)

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
UNIT = ROOT / "deploy" / "scimkit-reference-app.service"
UNIT_ENV = ROOT / "deploy" / "reference-app.env.example"
DEPLOYMENT_FILES = (DOCKERFILE, COMPOSE, UNIT, UNIT_ENV)
CONSOLE_SCRIPT = "reference-app"
# What an operator would pass for compose's required variables.
OPERATOR_ENV = {"SCIMKIT_CURSOR_SECRET": "0123456789abcdef0123456789abcdef"}


def _parse(argv: list[str]) -> argparse.Namespace:
    """``argv`` (after the program name) as the CLI parses it; a usage error fails the test."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"reference-app rejects {shlex.join(argv)!r}")


def _settings(argv: list[str], environ: dict[str, str]) -> Settings:
    """The settings ``reference-app ARGV`` would run with under ``environ``."""
    return load_settings(_overrides(_parse(argv)), environ)


def _instructions(keyword: str) -> list[Instruction]:
    final = dockerfile_stages(DOCKERFILE)[-1]
    return [instruction for instruction in final if instruction.keyword == keyword]


def _image_env() -> dict[str, str]:
    environ: dict[str, str] = {}
    for instruction in _instructions("ENV"):
        for pair in shlex.split(instruction.arguments):
            key, _, value = pair.partition("=")
            environ[key] = value
    return environ


def _entrypoint() -> list[str]:
    (entrypoint,) = _instructions("ENTRYPOINT")
    return entrypoint.exec_form()


def _compose() -> dict[str, Any]:
    document = load_yaml(COMPOSE)
    assert isinstance(document, dict)
    return document


# -- Dockerfile -------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint(tmp_path: Path):
    # A clean config home: a developer's own hadolint.yaml must not relax the check.
    environ = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [tool("hadolint"), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_root_image(tmp_path: Path):
    """The linter really runs: a Dockerfile with known faults fails it."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install starlette\nUSER root\n")
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(bad)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode != 0
    assert "DL3002" in result.stdout  # last USER is root
    assert "DL3007" in result.stdout  # the latest tag


def test_image_is_multi_stage_without_build_tools_in_the_final_stage():
    stages = dockerfile_stages(DOCKERFILE)
    assert len(stages) >= 2
    final = stages[-1]
    copies = [i.arguments for i in final if i.keyword == "COPY"]
    assert copies and all(arguments.startswith("--from=") for arguments in copies)
    for instruction in final:
        if instruction.keyword == "RUN":
            words = set(shlex.split(instruction.arguments))
            assert not words & {"pip", "apt-get", "apt", "gcc", "make", "cc"}, instruction


def _extras(command: str) -> set[str]:
    (spec,) = [word for word in shlex.split(command) if word.startswith(".[")]
    return set(spec.removeprefix(".[").removesuffix("]").split(","))


def test_image_and_unit_install_every_server_the_cli_offers():
    # `--server` (SCIMKIT_SERVER) accepts each of SERVERS; an install without one's extra would
    # fail at start for an operator who followed the README's choice of server.
    needed = {"mongo", *(EXTRAS[server] for server in SERVERS)}
    runs = [i.arguments for stage in dockerfile_stages(DOCKERFILE) for i in stage]
    (install,) = [run for run in runs if "pip install" in run]
    assert needed <= _extras(install)
    (unit_install,) = [
        line.strip("# ") for line in UNIT.read_text().splitlines() if "pip install" in line
    ]
    assert needed <= _extras(unit_install.partition("&&")[2])


def test_image_runs_as_a_numeric_non_root_user():
    (user,) = _instructions("USER")
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)


def test_image_command_and_healthcheck_are_cli_commands():
    entrypoint = _entrypoint()
    assert entrypoint == [CONSOLE_SCRIPT]
    (command,) = _instructions("CMD")
    assert _parse(command.exec_form()).command == "serve"
    (healthcheck,) = _instructions("HEALTHCHECK")
    _, _, probe = healthcheck.arguments.partition(" CMD ")
    argv = Instruction("CMD", probe).exec_form()
    assert argv[0] == CONSOLE_SCRIPT
    assert _parse(argv[1:]).command == "healthcheck"
    # The probe reads the same SCIMKIT_* as the server, so it asks the port the server binds.
    environ = _image_env()
    assert _settings(argv[1:], environ).port == _settings(command.exec_form(), environ).port


def test_image_environment_is_valid_settings():
    settings = load_settings({}, _image_env())
    assert settings.host == "0.0.0.0"


# -- compose.yaml -----------------------------------------------------------------------------


def _check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return check_schema("vendor.compose-spec", path)


def test_compose_file_matches_the_compose_schema():
    result = _check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_rejects_a_broken_file(tmp_path: Path):
    """The schema check really runs: a misspelt dependency condition fails it."""
    broken = tmp_path / "compose.yaml"
    text = COMPOSE.read_text(encoding="utf-8")
    assert "service_completed_successfully" in text
    broken.write_text(text.replace("service_completed_successfully", "service_finished"))
    assert _check_compose(broken).returncode != 0


def test_mongodb_is_a_single_node_replica_set_initiated_before_the_app():
    services = _compose()["services"]
    mongod = services["mongodb"]["command"]
    replica_set = mongod[mongod.index("--replSet") + 1]
    init = " ".join(services["mongodb-init"]["command"])
    assert "rs.initiate(" in init and f'_id: "{replica_set}"' in init
    assert "isWritablePrimary" in init  # the app starts only once there is a primary
    app = services["app"]
    assert app["depends_on"]["mongodb-init"]["condition"] == "service_completed_successfully"
    assert services["mongodb-init"]["depends_on"]["mongodb"]["condition"] == "service_healthy"
    uri = interpolate(app["environment"]["SCIMKIT_MONGODB_URI"], OPERATOR_ENV)
    assert f"replicaSet={replica_set}" in uri


def test_compose_app_runs_a_cli_command_with_valid_settings():
    app = _compose()["services"]["app"]
    assert app["build"] == "."  # the Dockerfile above, so its ENTRYPOINT applies
    environ = {
        key: interpolate(str(value), OPERATOR_ENV) for key, value in app["environment"].items()
    }
    settings = _settings(app["command"], environ)
    assert settings.uses_mongodb and settings.cursor_secret is not None
    published = app["ports"][0].rsplit(":", 1)[-1]
    assert int(published) == settings.port


def test_compose_refuses_to_start_without_a_cursor_secret():
    """Several workers must share the secret; compose stops with a message if it is unset."""
    environment = _compose()["services"]["app"]["environment"]
    with pytest.raises(KeyError, match="SCIMKIT_CURSOR_SECRET"):
        interpolate(environment["SCIMKIT_CURSOR_SECRET"], {})


# -- systemd ----------------------------------------------------------------------------------


def test_systemd_unit_runs_a_cli_command_as_a_service_user():
    unit = systemd_unit(UNIT)
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == CONSOLE_SCRIPT
    assert _parse(argv[1:]).command == "serve"
    assert service["User"] not in ("root", "0")
    assert service["KillSignal"] == "SIGTERM"  # hypercorn's graceful shutdown
    assert Path(service["EnvironmentFile"]).name == UNIT_ENV.name.removesuffix(".example")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_environment_example_is_valid_settings():
    settings = load_settings({}, env_file(UNIT_ENV))
    assert settings.uses_mongodb and settings.cursor_secret is not None
    assert settings.workers > 1


# -- all of them ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DEPLOYMENT_FILES, ids=lambda path: path.name)
def test_every_variable_the_files_use_is_read_by_the_settings(path: Path):
    used = variables_in(path)
    assert used <= settings_variables(), sorted(used - settings_variables())
