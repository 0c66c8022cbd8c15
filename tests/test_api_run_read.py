"""Where a handler's read runs (api/deps.py `run_read`): a small SQLite read in the event loop,
anything else in the thread pool, with the same answer either way."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from api.deps import run_read
from projections.db import engine_for


def in_a_loop_of_its_own(make: Callable[[], Awaitable[Any]]) -> tuple[int, Any]:
    """(the loop's thread, the coroutine's result), run in a fresh thread with its own event loop:
    the suite may already run a loop in this thread (asyncio.run refuses to start a second)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["thread"] = threading.get_ident()
        try:
            outcome["value"] = asyncio.run(make())
        except BaseException as error:  # noqa: BLE001 (any outcome is handed to the test's thread below)
            outcome["error"] = error

    runner = threading.Thread(target=run)
    runner.start()
    runner.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["thread"], outcome["value"]


@pytest.mark.parametrize(("small", "in_loop"), [(True, True), (False, False)])
def test_small_sqlite_reads_run_in_the_event_loop(settings, small, in_loop):
    engine = engine_for(settings)
    try:
        loop_thread, (answer, thread) = in_a_loop_of_its_own(
            lambda: run_read(engine, small, lambda: ("figures", threading.get_ident()))
        )
        assert answer == "figures"
        local = engine.dialect.name == "sqlite"
        assert (thread == loop_thread) == (in_loop and local)  # PostgreSQL reads always go to the pool
    finally:
        engine.dispose()


def test_an_error_in_a_read_reaches_the_handler_either_way(settings):
    engine = engine_for(settings)

    def failing() -> None:
        raise LookupError("no such figure")

    try:
        for small in (True, False):
            with pytest.raises(LookupError, match="no such figure"):
                in_a_loop_of_its_own(lambda small=small: run_read(engine, small, failing))
    finally:
        engine.dispose()
