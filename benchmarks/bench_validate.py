"""Validate + serialize Entra's create body: scimkit against scim2-models (target: ≥ 5x faster).

scimkit: ``validate_resource`` + ``project`` + ``orjson.dumps``; scim2-models:
``User[EnterpriseUser].model_validate`` + ``model_dump_json``, in the same run, and a check that
both put out the same information. ``python -m benchmarks.micro validate``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson

from benchmarks._entra import sample_user, user_create_body
from benchmarks._report import optional_module
from benchmarks._service import resource_types
from benchmarks._timing import time_call, us
from scimkit import ENTRA, Operation, project, validate_resource

__all__ = ["run"]

ID = "2819c223f7f6453a919d413861904646"
LOCATION = f"http://127.0.0.1:8000/scim/v2/bench/Users/{ID}"


def run() -> dict[str, Any]:
    users, _ = resource_types()
    now = datetime.now(UTC).replace(microsecond=0)
    body = user_create_body(sample_user(), fcc=False)
    body_fcc = user_create_body(sample_user(), fcc=True)

    def scimkit_once(data: dict[str, Any] = body) -> bytes:
        resource = validate_resource(data, users, Operation.CREATE, tolerance=ENTRA)
        resource["id"] = ID
        resource["meta"] = {
            "resourceType": "User",
            "created": now,
            "lastModified": now,
            "version": 'W/"1"',
        }
        out = project(resource, users)
        out["meta"] = {**out["meta"], "location": LOCATION}
        return orjson.dumps(out, option=orjson.OPT_UTC_Z)

    row: dict[str, Any] = {
        "scimkit_us": us(time_call(scimkit_once)),
        "scimkit_with_fcc_us": us(time_call(lambda: scimkit_once(body_fcc))),
        "scimkit_validate_only_us": us(
            time_call(lambda: validate_resource(body, users, Operation.CREATE, tolerance=ENTRA))
        ),
    }
    models = optional_module("scim2_models")
    if models is None:
        row["scim2_models"] = "not installed (pip install scim2-models)"
        return row
    model = models.User[models.EnterpriseUser]
    request_ctx = models.Context.RESOURCE_CREATION_REQUEST
    response_ctx = models.Context.RESOURCE_CREATION_RESPONSE

    def scim2_once() -> str:
        user = model.model_validate(body, scim_ctx=request_ctx)
        user.id = ID
        user.meta = models.Meta(
            resource_type="User",
            created=now,
            last_modified=now,
            version='W/"1"',
            location=LOCATION,
        )
        dumped: str = user.model_dump_json(scim_ctx=response_ctx)
        return dumped

    # Same information out of both (scim2-models orders keys its own way).
    ours = orjson.loads(scimkit_once())
    theirs = orjson.loads(scim2_once())
    row["same_output"] = ours == theirs
    if not row["same_output"]:
        row["output_difference"] = sorted(
            k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)
        )
    row["scim2_models_us"] = us(time_call(scim2_once))
    row["scim2_models_version"] = getattr(models, "__version__", None) or _version("scim2-models")
    row["speedup"] = round(row["scim2_models_us"] / row["scimkit_us"], 2)
    row["target_speedup"] = 5.0
    row["meets_target"] = row["speedup"] >= 5.0
    return row


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
