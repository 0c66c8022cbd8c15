"""Heavy work (a scratch rebuild and compare, a replay of every rep) takes a slot: at most
`HEAVY_SLOTS` run at once in a server process, and a request finding none free is answered
429 with Retry-After at once, rather than queueing threads, memory and scratch files behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ledger.messages import Msg

HEAVY_SLOTS = 2
RETRY_AFTER_SECONDS = 10


def heavy_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(HEAVY_SLOTS)


def _heavy_slot(request: Request) -> Iterator[None]:
    slots: threading.BoundedSemaphore = request.app.state.heavy_slots
    if not slots.acquire(blocking=False):
        raise HTTPException(
            429,
            Msg(
                "heavy.busy",
                "{slots} audits or replays are running already: retry in {seconds} seconds",
                slots=HEAVY_SLOTS,
                seconds=RETRY_AFTER_SECONDS,
            ),
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    try:
        yield
    finally:
        slots.release()


HeavySlot = Annotated[None, Depends(_heavy_slot)]
