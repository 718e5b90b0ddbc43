"""The log handler: lines logged while the event loop runs share one write, none is lost."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from reference_app.logs import LoopBatchedHandler


class CountedStream(io.StringIO):
    """A stream that counts the writes it gets, as the system calls they would be."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


@pytest.fixture
def stream() -> CountedStream:
    return CountedStream()


@pytest.fixture
def logger(stream: CountedStream) -> logging.Logger:
    handler = LoopBatchedHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"{__name__}.batched")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]
    return logger


async def test_lines_of_one_turn_of_the_loop_are_written_together(
    logger: logging.Logger, stream: CountedStream
) -> None:
    for n in range(3):
        logger.info("request %d", n)
    assert stream.lines() == []  # kept while this task runs
    await asyncio.sleep(0)  # the loop runs what was ready: the write
    assert stream.lines() == ["INFO request 0", "INFO request 1", "INFO request 2"]
    assert stream.writes == 1
    logger.info("request 3")
    await asyncio.sleep(0)
    assert stream.lines()[-1] == "INFO request 3" and stream.writes == 2


async def test_lines_from_several_tasks_in_one_turn_share_the_write(
    logger: logging.Logger, stream: CountedStream
) -> None:
    async def answer(n: int) -> None:
        logger.info("request %d", n)

    await asyncio.gather(*(answer(n) for n in range(5)))
    await asyncio.sleep(0)
    assert sorted(stream.lines()) == [f"INFO request {n}" for n in range(5)]
    assert stream.writes <= 2  # gather may start them over two turns; never one write each


async def test_a_warning_is_written_at_once_after_the_lines_before_it(
    logger: logging.Logger, stream: CountedStream
) -> None:
    logger.info("first")
    logger.warning("second")
    assert stream.lines() == ["INFO first", "WARNING second"]
    logger.info("third")
    await asyncio.sleep(0)
    assert stream.lines() == ["INFO first", "WARNING second", "INFO third"]


def test_outside_a_loop_every_line_is_written_at_once(
    logger: logging.Logger, stream: CountedStream
) -> None:
    logger.info("from a command")
    assert stream.lines() == ["INFO from a command"]


def test_lines_kept_when_a_loop_ends_are_written_by_the_next_line_or_the_flush(
    logger: logging.Logger, stream: CountedStream
) -> None:
    async def log_and_stop(text: str) -> None:
        logger.info(text)
        asyncio.get_running_loop().stop()  # the loop stops before it runs the write

    for text in ("in a first loop", "in a second loop"):
        loop = asyncio.new_event_loop()
        loop.create_task(log_and_stop(text))
        loop.run_forever()
        loop.close()
    # The first loop closed with its write never run; the second scheduled its own.
    assert stream.lines() == []
    logger.info("outside")
    assert stream.lines() == ["INFO in a first loop", "INFO in a second loop", "INFO outside"]
    loop = asyncio.new_event_loop()
    loop.create_task(log_and_stop("kept at exit"))
    loop.run_forever()
    loop.close()
    logging.getLogger(f"{__name__}.batched").handlers[0].flush()  # as logging.shutdown() does
    assert stream.lines()[-1] == "INFO kept at exit"


async def test_a_stream_that_fails_is_reported_as_logging_reports_it(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("disk full")

    handler = logger.handlers[0]
    assert isinstance(handler, LoopBatchedHandler)
    handler.setStream(Broken())
    monkeypatch.setattr(logging, "raiseExceptions", True)
    logger.info("lost")
    await asyncio.sleep(0)  # the write fails in the loop's callback, which goes on
    assert "disk full" in capsys.readouterr().err
    working = CountedStream()
    handler.setStream(working)  # the handler still works: the lost line is not kept
    logger.info("next")
    await asyncio.sleep(0)
    assert working.lines() == ["INFO next"]
