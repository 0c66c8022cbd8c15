"""Which accelerators apply to which projection, and the switch that turns them all off.

PERFLEDGER_ACCEL=0 (environment; default on) runs the plain path: every projection folded by
its handlers, batch by batch, each batch written before the next is read, and a rebuild a reset
and a catch-up in one process (`projections.runner`). The accelerators must write exactly the
rows the plain path writes; the equivalence tests run both ways.

To change a fold without studying its accelerator: change the handlers, run the tests; if the
accelerator no longer writes the same rows, take its projection out of ACCELERATORS (it then
runs plain, the others still accelerated) until its twin is brought in line.
"""

from __future__ import annotations

import os

from sqlalchemy import Engine

from projections.accel.activity_in_store import InStoreActivities
from projections.accel.base import Accelerator, EventsAlone
from projections.accel.bulk import PostgresBulk
from projections.accel.followups_in_store import StagedFollowUps
from projections.accel.knowledge import KnowledgeFromEntries
from projections.accel.remembered import RememberedDisputes, RememberedSales
from projections.projection import Projection

SWITCH = "PERFLEDGER_ACCEL"

ACCELERATORS: dict[str, Accelerator] = {
    "org": EventsAlone(),
    "targets": EventsAlone(),
    "sales": RememberedSales(),
    "activity": InStoreActivities(),
    "followups": StagedFollowUps(),
    "people": EventsAlone(),
    "incentives": EventsAlone(),
    "trust": RememberedDisputes(),
    "log": KnowledgeFromEntries(),
}
PLAIN = Accelerator()


def enabled() -> bool:
    """Are the accelerators on (PERFLEDGER_ACCEL is not 0)? Read at each call: the switch holds
    for a whole process (a rebuild's worker process inherits it), and a test may flip it."""
    return os.environ.get(SWITCH, "1").strip() != "0"


def of(projection: Projection) -> Accelerator:
    """The projection's accelerators: none (PLAIN) when switched off or not declared."""
    return ACCELERATORS.get(projection.name, PLAIN) if enabled() else PLAIN


_BULK = PostgresBulk()


def bulk(engine: Engine) -> PostgresBulk | None:
    """How a batch's rows are written in bulk into `engine`'s store (`accel.bulk`): on
    PostgreSQL, with the accelerators on; elsewhere none (SQLite's executemany runs in process,
    with no round trip or statement a row to save)."""
    return _BULK if enabled() and engine.dialect.name == "postgresql" else None
