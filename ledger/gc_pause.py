"""Pausing Python's cyclic garbage collector over bulk work (a batch of the log, a table scan).

A batch is tens of thousands of fresh dicts, tuples and records, all alive until it is done:
each burst of allocations set off collections that walked them again and again (decoding took
nearly twice as long with the collector on: docs/performance.md). Nothing a
batch builds is cyclic, so reference counting frees it all when the batch is dropped, and the
collector runs as usual between batches.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside the block. Only a caller that found the collector on turns
    it back on, so nested or overlapping callers (threads) never leave it off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
