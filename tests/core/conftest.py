from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
def load_sample():
    """Load an RFC example payload by file name (named after its RFC section)."""

    def load(name: str) -> Any:
        return json.loads((SAMPLES / name).read_text(encoding="utf-8"))

    return load
