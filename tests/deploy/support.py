"""Readers for the deployment files, just enough of each format to check what they run."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

__all__ = [
    "ROOT",
    "Instruction",
    "RecordingEnviron",
    "check_schema",
    "dockerfile_stages",
    "env_file",
    "interpolate",
    "load_yaml",
    "settings_variables",
    "systemd_unit",
    "tool",
    "variables_in",
]

ROOT = Path(__file__).resolve().parents[2]
_VARIABLE = re.compile(r"\bSCIMKIT_[A-Z0-9_]+\b")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def tool(name: str) -> str:
    """A linter the ``dev`` extra installs next to this interpreter."""
    path = Path(sys.executable).with_name(name)
    assert path.exists(), f"{name} is missing: install the dev extra (pip install -e '.[dev]')"
    return str(path)


def check_schema(builtin: str, path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against one of its vendored schemas: nothing is fetched."""
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", builtin, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The arguments as a JSON array (exec form), or split like a shell would."""
        text = self.arguments.strip()
        if text.startswith("["):
            value = json.loads(text)
            assert isinstance(value, list)
            return [str(item) for item in value]
        return shlex.split(text)


def dockerfile_stages(path: Path) -> list[list[Instruction]]:
    """The Dockerfile's instructions, one list per build stage (continuations joined)."""
    stages: list[list[Instruction]] = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, f"{path.name}: {keyword} before FROM"
        stages[-1].append(instruction)
    return stages


def _logical_lines(text: str) -> Iterator[str]:
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        yield pending + stripped
        pending = ""
    if pending:
        yield pending


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """Compose's ``${NAME…}`` interpolation; a required variable missing is an error."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        present = environ.get(name)
        if present is not None and (present or op not in (":-", ":?")):
            return present
        if op in ("-", ":-"):
            return arg or ""
        if op in ("?", ":?"):
            raise KeyError(f"{name}: {arg}")
        return ""

    return _INTERPOLATION.sub(substitute, value)


def systemd_unit(path: Path) -> configparser.RawConfigParser:
    # systemd allows a key more than once; here every key the unit uses appears once.
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (systemd EnvironmentFile / docker --env-file syntax, unquoted)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        values[key.strip()] = value.strip()
    return values


def variables_in(path: Path) -> set[str]:
    """Every ``SCIMKIT_*`` name a file mentions."""
    return set(_VARIABLE.findall(path.read_text(encoding="utf-8")))


class RecordingEnviron(Mapping[str, str]):
    """An empty environment that records every name looked up in it."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def settings_variables() -> set[str]:
    """The environment variables the reference app's settings read."""
    from reference_app.settings import load_settings

    environ = RecordingEnviron()
    load_settings({}, environ)
    return environ.asked
