"""Log output: ``text`` or ``json`` lines on stderr, each carrying the request id it belongs to.

A record may carry structured ``fields`` (``logger.info("request", extra={"fields": {...}})``):
the text format appends them as ``key=value``, the JSON format as keys of the object. The id
of the request being served is kept in a context variable, so every line logged while serving
it (a traceback from scimkit.web included) carries the same ``request_id``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = [
    "REQUEST_ID",
    "JsonFormatter",
    "RequestIdFilter",
    "TextFormatter",
    "install_log_handler",
]

REQUEST_ID: ContextVar[str | None] = ContextVar("scimkit_request_id", default=None)
"""The id of the request this task is serving (set by the access-log middleware)."""

_TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
# Values that need no quoting in a key=value line.
_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@+")


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` from the serving request (``None`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


class TextFormatter(logging.Formatter):
    """The human format, with a record's fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        pairs = [f"{key}={_text_value(value)}" for key, value in _fields(record).items()]
        request_id = getattr(record, "request_id", None)
        if request_id is not None and "request_id" not in _fields(record):
            pairs.insert(0, f"request_id={_text_value(request_id)}")
        return " ".join([line, *pairs]) if pairs else line


def _text_value(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    if text and all(char in _BARE for char in text):
        return text
    # Quoted and escaped, so a value cannot forge another field or line.
    return orjson.dumps(text).decode()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, message, request id, fields."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def install_log_handler(level: str, log_format: str) -> None:
    """One stderr handler on the root logger, for the app, scimkit and hypercorn.

    Does nothing when the root logger already has a handler (a test runner's, or a second
    call in the same process).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
