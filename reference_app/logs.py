"""Log output: ``text`` or ``json`` lines on stderr, each carrying the request id it belongs to.

A record may carry structured ``fields`` (``logger.info("request", extra={"fields": {...}})``):
the text format appends them as ``key=value``, the JSON format as keys of the object. The id
of the request being served is kept in a context variable, so every line logged while serving
it (a traceback from scimkit.web included) carries the same ``request_id``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, NamedTuple, TextIO

import orjson

__all__ = [
    "REQUEST_ID",
    "JsonFormatter",
    "LineValues",
    "LoopBatchedHandler",
    "RequestIdFilter",
    "TextFormatter",
    "install_log_handler",
    "own_handler",
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


class LineValues(NamedTuple):
    """What a line says besides its time: a record's, or the same values without a record."""

    levelname: str
    name: str
    process: int | None
    message: str
    fields: Mapping[str, Any]
    request_id: str | None

    @classmethod
    def of(cls, record: logging.LogRecord, message: str | None = None) -> LineValues:
        """A record's values; its message as ``getMessage`` makes it, unless already made."""
        return cls(
            record.levelname,
            record.name,
            record.process,
            record.getMessage() if message is None else message,
            _fields(record),
            getattr(record, "request_id", None),
        )


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

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)  # tracebacks: logging's own way
        # logging.Formatter.format for the fixed _TEXT_FORMAT, without its %-formatting over
        # the record's __dict__ and its look at the format for a time on every line. Making
        # the text was half of an access line's cost in the app (17 of 35 µs); this took 4 µs
        # off it (benchmarks/README.md, session 30).
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        return self.formatMessage(record)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        # logging's format() has made record.message just before calling this.
        return _text_line(record.asctime, LineValues.of(record, record.message))

    def line(self, created: float, values: LineValues) -> str:
        """The line of a record of ``values`` made at ``created``."""
        return _text_line(f"{self._stamp(created)},{_milliseconds(created):03d}", values)


def _text_line(asctime: str, values: LineValues) -> str:
    line = f"{asctime} {values.process} {values.levelname} {values.name}: {values.message}"
    fields = values.fields
    pairs = [f"{key}={_text_value(value)}" for key, value in fields.items()]
    if values.request_id is not None and "request_id" not in fields:
        pairs.insert(0, f"request_id={_text_value(values.request_id)}")
    return " ".join([line, *pairs]) if pairs else line


def _milliseconds(created: float) -> int:
    """The milliseconds of a time, as a LogRecord gives them (``msecs``, truncated)."""
    return int((created - int(created)) * 1000)


def _text_value(value: Any) -> str:
    if value is None:
        return "-"
    kind = type(value)
    if kind is int or kind is float:  # digits, '.', '-', '+', 'e', inf, nan: never quoted
        return str(value)
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
        entry = _json_entry(
            f"{self._stamp(record.created)}.{int(record.msecs):03d}Z", LineValues.of(record)
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()

    def line(self, created: float, values: LineValues) -> str:
        """The line of a record of ``values`` made at ``created``."""
        stamp = f"{self._stamp(created)}.{_milliseconds(created):03d}Z"
        return orjson.dumps(_json_entry(stamp, values), default=str).decode()


def _json_entry(stamp: str, values: LineValues) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": stamp,
        "level": values.levelname.lower(),
        "logger": values.name,
        "process": values.process,
        "message": values.message,
    }
    if values.request_id is not None:
        entry["request_id"] = values.request_id
    entry.update(values.fields)
    return entry


class LoopBatchedHandler(logging.StreamHandler[TextIO]):
    """A stream handler that writes ``info`` lines once the event loop has run what was ready.

    Why: a server logs a line per request, and writing each line on its own cost a system call
    per request (measured in ``benchmarks/README.md``, session 30: 4 µs into a file, ~20 µs
    into a pipe such as journald's or a container runtime's). Lines logged while the loop runs
    are kept until the callbacks that were ready have run, then written together: requests
    answered in the same turn of the loop share one write, and no line waits for a timer or
    for later requests. A ``warning`` or worse is written at once, after the lines before it;
    so is any line logged outside a running loop (another thread, a command) and every line
    still kept when the handler is flushed or closed (``logging.shutdown`` at exit).
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._kept: list[str] = []
        # The loop a write is scheduled on, if any: a loop closed before running it leaves
        # it here, and the next line logged in another loop schedules its own.
        self._scheduled: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._keep(line, record, at_once=record.levelno >= logging.WARNING)

    def keep_info(
        self, name: str, message: str, fields: Mapping[str, Any], request_id: str | None
    ) -> bool:
        """Keep the ``info`` line of logger ``name`` its formatter would make of a record.

        For :func:`own_handler`'s callers: the line, made without a record, is the one
        ``emit`` would keep. False when the formatter is not one of this module's.
        """
        formatter = self.formatter
        if type(formatter) is not TextFormatter and type(formatter) is not JsonFormatter:
            return False
        values = LineValues("INFO", name, os.getpid(), message, fields, request_id)
        line = formatter.line(time.time(), values) + self.terminator
        self.acquire()
        try:
            self._keep(line, None, at_once=False)
        finally:
            self.release()
        return True

    def _keep(self, line: str, record: logging.LogRecord | None, *, at_once: bool) -> None:
        """Keep ``line``; write it and those before it now if ``at_once`` or outside a loop."""
        self._kept.append(line)
        if at_once or not self._later():
            self._write(record)

    def flush(self) -> None:
        self._write(None)

    def _later(self) -> bool:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if self._scheduled is not loop:
            self._scheduled = loop
            loop.call_soon(self.flush)
        return True

    def _write(self, record: logging.LogRecord | None) -> None:
        self.acquire()
        try:
            self._scheduled = None
            kept, self._kept = self._kept, []
            if kept:
                self.stream.write("".join(kept))
            self.stream.flush()
        except Exception:
            # logging's own way: a message on stderr when logging.raiseExceptions is set.
            self.handleError(record or _UNWRITTEN)
        finally:
            self.release()


def own_handler(logger: logging.Logger) -> LoopBatchedHandler | None:
    """The app's handler when it alone gets ``logger``'s records, and nothing alters them.

    That is: the root logger's only handler is a :class:`LoopBatchedHandler` (as
    :func:`install_log_handler` puts it there) taking ``info``, with no filter but
    :class:`RequestIdFilter`, and no logger from ``logger`` up has a filter or a handler of
    its own or stops propagation. A line of such a logger may then be made straight into the
    handler (:meth:`LoopBatchedHandler.keep_info`) instead of through a LogRecord and
    logging's dispatch: the same text at half the cost (the access line, 54 → 26 µs per
    request in Entra's cycle on uvicorn; benchmarks/README.md, session 30). Anything else (a
    test runner's capture, an embedding application's handlers, a filter added at run time)
    gets None, and records.
    """
    current: logging.Logger | None = logger
    root = logging.getLogger()
    while current is not None and current is not root:
        if current.filters or current.handlers or not current.propagate:
            return None
        current = current.parent
    if current is None or root.filters or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    if type(handler) is not LoopBatchedHandler or handler.level > logging.INFO:
        return None
    if any(type(f) is not RequestIdFilter for f in handler.filters):
        return None
    return handler


# What handleError is given when kept lines could not be written by a flush of no record.
_UNWRITTEN = logging.makeLogRecord({"msg": "log lines kept for a batched write"})


def install_log_handler(level: str, log_format: str) -> None:
    """One stderr handler on the root logger, for the app, scimkit and hypercorn.

    Does nothing when the root logger already has a handler (a test runner's, or a second
    call in the same process).
    """
    handler = LoopBatchedHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
