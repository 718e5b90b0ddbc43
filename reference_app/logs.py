"""Log output: ``text`` or ``json`` lines on stderr, each carrying the request id it belongs to.

A record may carry structured ``fields`` (``logger.info("request", extra={"fields": {...}})``):
the text format appends them as ``key=value``, the JSON format as keys of the object. The id
of the request being served is kept in a context variable, so every line logged while serving
it (a traceback from scimkit.web included) carries the same ``request_id``.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
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
# Values that need no quoting in a key=value line. A pattern, not a set tested per character:
# the test ran a generator step per character, a third of an access line's cost (55 steps for
# a user's path).
_BARE = re.compile(r"[A-Za-z0-9\-_./:@+]+")


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` from the serving request (``None`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


class _SecondStamp:
    """A timestamp's text up to the second, made once per second instead of once per line.

    A server writes an access line per request, hundreds in a second that share it; making it
    (``localtime`` and ``strftime``, or a ``datetime`` and ``isoformat``) was a tenth of a line.
    """

    def __init__(self, make: Callable[[int], str]) -> None:
        self._make = make
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, created: float) -> str:
        second = int(created)
        last = self._last  # one read: another thread may replace it meanwhile
        if last[0] != second:
            last = self._last = (second, self._make(second))
        return last[1]


class TextFormatter(logging.Formatter):
    """The human format, with a record's fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)
        self._stamp = _SecondStamp(
            lambda second: time.strftime(self.default_time_format, self.converter(second))
        )

    def formatTime(  # noqa: N802 (logging's name)
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        # logging's own default, "YYYY-MM-DD HH:MM:SS,mmm", with the seconds' text kept.
        return f"{self._stamp(record.created)},{int(record.msecs):03d}"

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
    if _BARE.fullmatch(text):
        return text
    # Quoted and escaped, so a value cannot forge another field or line.
    return orjson.dumps(text).decode()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, message, request id, fields."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _SecondStamp(
            lambda second: datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        )

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": f"{self._stamp(record.created)}.{int(record.msecs):03d}Z",
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
