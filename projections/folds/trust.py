"""Rep-facing trust: plan acknowledgements and the timeline of every dispute.

Each dispute event is one row (opened, commented, resolved) with its payload, so a dispute's
timeline is one indexed query, and a resolution's position says where in the log its
corrections were recorded (the events just before it, in the same atomic batch).
"""

from __future__ import annotations

import orjson
from sqlalchemy import BigInteger, Column, Connection, Index, Integer, String, Table, Text

from ledger.decoding import LogRecord
from projections.erasing import erase_payloads, erased_categories
from projections.projection import Fold, Handler, Projection, registrar
from projections.tables import Id, _position_key, _times, metadata
from projections.units import occurred_us
from projections.view import BatchView

plan_acknowledgements = Table(
    "plan_acknowledgements",
    metadata,
    _position_key(),
    Column("rep_id", Id, nullable=False),
    Column("plan_id", Id, nullable=False),
    Column("version", Integer, nullable=False),
    *_times(),
    Index("plan_acknowledgements_rep", "rep_id", "plan_id", "version"),
)

dispute_events = Table(
    "dispute_events",
    metadata,
    _position_key(),
    Column("dispute_id", Id, nullable=False),
    Column("rep_id", Id, nullable=False),
    Column("period", String(8), nullable=False),
    Column("kind", String(16), nullable=False),  # opened | commented | resolved
    Column("outcome", String(16)),  # resolved: accepted | rejected
    Column("first_correction", BigInteger),  # resolved: position of its first correcting event
    Column("payload", Text, nullable=False),  # the event's data as JSON
    *_times(),
    Index("dispute_events_dispute", "dispute_id", "position"),
    Index("dispute_events_rep", "rep_id", "period"),
)

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)


class TrustFold(Fold):
    """Knows each dispute's rep and period (from its opening, in this batch or before)."""

    def __init__(self, conn: Connection, view: BatchView):
        super().__init__(conn, view)
        self.opened: dict[str, tuple[str, str]] = {}  # dispute_id: (rep_id, period)

    def prefetch(self, records: list[LogRecord]) -> None:
        wanted = {
            r.data["dispute_id"]
            for r in records
            if r.type != "DisputeOpened" and "dispute_id" in r.data and r.data["dispute_id"] not in self.opened
        }
        if wanted:
            d = dispute_events.c
            rows = self.conn.execute(
                dispute_events.select()
                .with_only_columns(d.dispute_id, d.rep_id, d.period)
                .where(d.dispute_id.in_(sorted(wanted)), d.kind == "opened")
            ).all()
            self.opened.update({row.dispute_id: (row.rep_id, row.period) for row in rows})


def _stamp(r: LogRecord) -> dict:
    return {"position": r.position, "occurred_us": occurred_us(r), "recorded_us": r.recorded_at}


def _payload(r: LogRecord) -> str:
    return orjson.dumps(r.data, default=str).decode()


@on("PlanAcknowledged")
def plan_acknowledged(fold: Fold, r: LogRecord) -> None:
    d = r.data
    fold.view.insert(
        plan_acknowledgements, {**_stamp(r), "rep_id": d["rep_id"], "plan_id": d["plan_id"], "version": d["version"]}
    )


@on("DisputeOpened")
def dispute_opened(fold: TrustFold, r: LogRecord) -> None:
    d = r.data
    fold.opened[d["dispute_id"]] = (d["rep_id"], d["period"])
    fold.view.insert(
        dispute_events,
        {
            **_stamp(r),
            "dispute_id": d["dispute_id"],
            "rep_id": d["rep_id"],
            "period": d["period"],
            "kind": "opened",
            "outcome": None,
            "first_correction": None,
            "payload": _payload(r),
        },
    )


@on("DisputeCommented")
def dispute_commented(fold: TrustFold, r: LogRecord) -> None:
    rep_id, period = fold.opened[r.data["dispute_id"]]
    fold.view.insert(
        dispute_events,
        {
            **_stamp(r),
            "dispute_id": r.data["dispute_id"],
            "rep_id": rep_id,
            "period": period,
            "kind": "commented",
            "outcome": None,
            "first_correction": None,
            "payload": _payload(r),
        },
    )


@on("DisputeResolved")
def dispute_resolved(fold: TrustFold, r: LogRecord) -> None:
    d = r.data
    rep_id, period = fold.opened[d["dispute_id"]]
    corrections = len(d.get("corrections") or ())
    fold.view.insert(
        dispute_events,
        {
            **_stamp(r),
            "dispute_id": d["dispute_id"],
            "rep_id": rep_id,
            "period": period,
            "kind": "resolved",
            "outcome": d["outcome"],
            "first_correction": r.position - corrections if corrections else None,
            "payload": _payload(r),
        },
    )


_TYPES_BY_KIND = {"opened": "DisputeOpened", "commented": "DisputeCommented", "resolved": "DisputeResolved"}


@on("PersonalDataErased")
def personal_data_erased(fold: TrustFold, r: LogRecord) -> None:
    rep_id, categories = r.data["rep_id"], erased_categories(r.data)
    fold.view.run(lambda conn: erase_payloads(conn, dispute_events, rep_id, _TYPES_BY_KIND, categories))


class TrustProjection(Projection):
    name = "trust"
    tables = (plan_acknowledgements, dispute_events)
    handlers = HANDLERS
    fold = TrustFold
