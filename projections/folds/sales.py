"""Deals, customers and leads, folded into signed facts (`deal_facts`, `lead_conversions`).

Every sales figure of a window is the SUM of the fact rows in it. Each event writes the
*change* it makes, computed from the state left by the events before it in the log, so the rows
recorded up to K add up to exactly what a store holding only the events recorded up to K would
give (knowledge time is a prefix of the log). Business time is the row's `occurred_us`:

- DealWon: +amount, +1 order (as shares) and the sales cycle (won − opened), at the win's time.
- DealAmountCorrected: +(new − old amount) at the *win's* time: a correction restates the won
  amount in the deal's own period (bad data fixed). It is not a business event of its own, so
  `as_of` is tested on the win; only `known_at` decides whether the correction is seen.
- DealRefunded: +refund (subtracted from revenue) at the refund's own time: a clawback in the
  period it occurs.
- DealLost: +1 lost (as shares) at its time.
- DealCreditSplit: moves every figure of the deal (win, corrections, refunds, loss, first-win
  credit) from the old credit to the new one, at each figure's own business time. A split
  recorded after the win moves credit from then on, by knowledge time; a split recorded
  before the win is simply the credit the win is booked with.
- New customers: a customer's first win (earliest win time, then position, among the wins
  known) carries +1 new customer, credited by the deal's shares. When an earlier win of that
  customer becomes known later (a backdated win), the old first win gets −1 at its own time
  ("unfirst") and the new one +1: for any window and any as_of the rows net to one customer,
  counted where its first win falls.
- Conversions: a lead converts when a deal opened with its lead_id is won. The lead's earliest
  win gives +1 in `lead_conversions` (with −1/+1 when an earlier one becomes known), credited
  to the lead's rep at the lead's creation time, carrying the win's time for `as_of`.

Shares are parts per billion and money cents, divided by the largest remainder (`units.py`),
so a deal's parts always sum to the deal. The state these deltas need (a deal's amount, credit
and refunds; a customer's first win; a lead's conversion) is kept in `deals`, `customers` and
`leads`, written in the same transaction as the facts, so catch-up after a restart is exact.
Each batch reads the state it needs from those tables (`SalesFold.prefetch`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Select, Table, bindparam, select

from ledger.decoding import LogRecord
from projections.folds.rep_rollups import RepRollup
from projections.folds.rollups import Rollup
from projections.projection import Fold, Handler, Projection, registrar
from projections.tables import (
    NETTING_KINDS,
    customers,
    deal_facts,
    deals,
    lead_conversions,
    leads,
    rep_deal_spans,
    sales_hours,
)
from projections.units import PPB, allocate, cents, occurred_us, shares_in_ppb
from projections.view import BatchView

HANDLERS: dict[str, Handler] = {}
on = registrar(HANDLERS)
Credit = list[tuple[str, int]]  # [(rep_id, ppb)]
_CHUNK = 2000  # keys per IN (…) list: well below SQLite's and PostgreSQL's parameter limits


# ---------------------------------------------------------------- fold state


@dataclass(slots=True)
class Deal:
    deal_id: str
    rep_id: str
    customer_id: str
    lead_id: str | None
    opened_us: int
    opened_position: int
    expected_cents: int | None = None
    outcome: str | None = None
    closed_us: int | None = None
    closed_position: int | None = None
    won_cents: int | None = None
    correction_position: int | None = None
    refunds: list[list[int]] = field(default_factory=list)  # [occurred_us, cents, position]
    shares: Credit | None = None
    split_position: int | None = None
    is_first: bool = False
    opened_recorded_us: int = 0
    closed_recorded_us: int | None = None
    netted: bool = False  # a split or an unfirst netted its facts: each of them is flagged so

    def credit(self) -> Credit:
        return self.shares or [(self.rep_id, PPB)]

    def closing(self) -> tuple[int, int]:
        """When the deal closed (microseconds) and the position of its closing: asked of a closed deal."""
        assert self.closed_us is not None and self.closed_position is not None
        return self.closed_us, self.closed_position

    def booked_cents(self) -> int:
        """The amount booked by the win: asked of a won deal."""
        assert self.won_cents is not None
        return self.won_cents

    def win_sources(self) -> tuple[int, ...]:
        """The events behind the deal's booked amount: its win and its latest correction."""
        return tuple(p for p in (self.closed_position, self.correction_position) if p is not None)

    def as_row(self) -> tuple:
        """The `deals` row: the fields in order (the table's columns), refunds and shares as JSON."""
        return (
            self.deal_id,
            self.rep_id,
            self.customer_id,
            self.lead_id,
            self.opened_us,
            self.opened_position,
            self.expected_cents,
            self.outcome,
            self.closed_us,
            self.closed_position,
            self.won_cents,
            self.correction_position,
            orjson.dumps(self.refunds).decode(),
            None if self.shares is None else orjson.dumps(self.shares).decode(),
            self.split_position,
            self.is_first,
            self.opened_recorded_us,
            self.closed_recorded_us,
            self.netted,
        )

    @classmethod
    def from_row(cls, row: Any) -> Deal:
        deal = cls(*row)  # the table's columns are the fields, in order; refunds and shares as JSON
        refunds: str = row.refunds
        shares: str | None = row.shares
        deal.refunds = orjson.loads(refunds)
        deal.shares = None if shares is None else [tuple(pair) for pair in orjson.loads(shares)]
        deal.is_first, deal.netted = bool(deal.is_first), bool(deal.netted)
        return deal


@dataclass(slots=True)
class Customer:
    customer_id: str
    first_deal_id: str
    first_won_us: int
    first_position: int

    def as_row(self) -> tuple:
        return (self.customer_id, self.first_deal_id, self.first_won_us, self.first_position)

    @classmethod
    def from_row(cls, row: Any) -> Customer:
        return cls(*row)


@dataclass(slots=True)
class Lead:
    lead_id: str
    rep_id: str
    customer_id: str | None
    source: str | None
    created_us: int
    recorded_us: int
    position: int
    converted_deal_id: str | None = None
    converted_won_us: int | None = None
    converted_position: int | None = None

    def as_row(self) -> tuple:
        return (
            self.lead_id,
            self.rep_id,
            self.customer_id,
            self.source,
            self.created_us,
            self.recorded_us,
            self.position,
            self.converted_deal_id,
            self.converted_won_us,
            self.converted_position,
        )

    def conversion(self) -> tuple[int, int] | None:
        """When the win that converts the lead closed, and its position; None before one."""
        if self.converted_won_us is None or self.converted_position is None:
            return None
        return self.converted_won_us, self.converted_position

    @classmethod
    def from_row(cls, row: Any) -> Lead:
        return cls(*row)


_WHERE_IN: dict[tuple[str, str], Select] = {}


def rows_where_in(conn: Connection, table: Table, column: str, values: list[str]) -> Sequence[Any]:
    """The rows of `table` whose `column` is one of `values`. The statement is built once per
    table and column (the fold asks this several times a batch, and part: building it cost more
    than running it)."""
    statement = _WHERE_IN.get((table.name, column))
    if statement is None:
        statement = _WHERE_IN[(table.name, column)] = select(table).where(
            table.c[column].in_(bindparam("values", expanding=True))
        )
    return conn.execute(statement, {"values": values}).all()


class Cache:
    """Fold state of one kind for one batch: loaded in bulk, changed in memory, upserted at the end.

    `items`: key → state, None for a key known to have none.
    """

    def __init__(self, conn: Connection, table: Table, from_row: Callable[[Any], Any]):
        self.conn = conn
        self.table = table
        self.key = next(iter(table.primary_key.columns))
        self.from_row = from_row
        self.items: dict[str, Any] = {}
        self.changed: set[str] = set()

    def load(self, keys: Iterable[str | None]) -> None:
        missing = sorted({k for k in keys if k is not None and k not in self.items})
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            self.items.update(dict.fromkeys(chunk))
            for row in rows_where_in(self.conn, self.table, self.key.name, chunk):
                state = self.from_row(row)
                self.items[row[0]] = state  # the key is each table's first column

    def get(self, key: str) -> Any:
        """The state of `key` (None if it has none), marked as changed: handlers get to change it."""
        state = self.peek(key)
        if state is not None:
            self.changed.add(key)
        return state

    def peek(self, key: str) -> Any:
        if key not in self.items:
            self.load([key])
        return self.items[key]

    def put(self, key: str, state: Any) -> None:
        self.items[key] = state
        self.changed.add(key)

    def flush(self, view: BatchView) -> None:
        for key in sorted(self.changed):
            view.upsert(self.table, key, self.items[key].as_row())


class SalesFold(Fold):
    def __init__(self, conn: Connection, view: BatchView):
        super().__init__(conn, view)
        self.deals = Cache(conn, deals, Deal.from_row)
        self.customers = Cache(conn, customers, Customer.from_row)
        self.leads = Cache(conn, leads, Lead.from_row)
        self.deals_of_lead: dict[str, set[str]] = {}  # lead_id: the deals opened with it, as far as loaded
        self.hours = Rollup(view, sales_hours)
        self.reps = RepRollup(view, rep_deal_spans)
        self._seq_position, self._seq = 0, 0

    # ------------------------------------------------------------ loading

    def prefetch(self, records: list[LogRecord]) -> None:
        """Bulk-load what the batch will ask for. A deal opened (a lead created) in this batch
        has no stored state yet: each is opened (created) once, before any other event of it."""
        deal_ids, new_deals, lead_ids, new_leads, customer_ids = set(), set(), set(), set(), set()
        for r in records:
            d = r.data
            if r.type == "LeadCreated":
                new_leads.add(d["lead_id"])
                continue
            if r.type == "DealOpened":
                new_deals.add(d["deal_id"])
                customer_ids.add(d["customer_id"])
                lead_ids.add(d.get("lead_id"))
            elif d["deal_id"] not in new_deals:
                deal_ids.add(d["deal_id"])
        self.deals.load(deal_ids)
        self._load_deals_of_leads(new_leads)
        # Only what this part names: the caches hold states loaded before it too.
        deal_ids |= {deal_id for lead_id in new_leads for deal_id in self.deals_of_lead[lead_id]}
        known = [deal for deal in map(self.deals.items.get, deal_ids) if deal is not None]
        self.leads.load((lead_ids | {deal.lead_id for deal in known}) - new_leads)
        customer_ids |= {deal.customer_id for deal in known}
        self.customers.load(customer_ids)
        self.deals.load(c.first_deal_id for c in map(self.customers.items.get, customer_ids) if c is not None)

    def _load_deals_of_leads(self, lead_ids: set[str]) -> None:
        """Deals already opened with a lead that this batch creates (a lead recorded late)."""
        wanted = sorted(lead_ids)
        for lead_id in wanted:
            self.deals_of_lead.setdefault(lead_id, set())
        for start in range(0, len(wanted), _CHUNK):
            for row in rows_where_in(self.conn, deals, "lead_id", wanted[start : start + _CHUNK]):
                deal = self.deals.items.get(row.deal_id) or Deal.from_row(row)
                self.deals.items[deal.deal_id] = deal
                self.deals_of_lead[row.lead_id].add(deal.deal_id)

    def deals_with_lead(self, lead_id: str) -> list[str]:
        if lead_id not in self.deals_of_lead:
            self._load_deals_of_leads({lead_id})
        return sorted(self.deals_of_lead[lead_id])

    def finish(self) -> None:
        for cache in (self.deals, self.customers, self.leads):
            cache.flush(self.view)
        self.hours.flush()
        self.reps.flush()

    # ------------------------------------------------------------ writing facts

    def _next_seq(self, position: int) -> int:
        if position != self._seq_position:
            self._seq_position, self._seq = position, 0
        else:
            self._seq += 1
        return self._seq

    def fact(
        self,
        r: LogRecord,
        deal: Deal,
        rep_id: str,
        kind: str,
        occurred_us: int,
        sources: Iterable[int],
        *,
        won_cents: int = 0,
        refund_cents: int = 0,
        won_ppb: int = 0,
        lost_ppb: int = 0,
        new_customer_ppb: int = 0,
        deal_count: int = 0,
    ) -> None:
        cycle_us = deal.closing()[0] - deal.opened_us if won_ppb else None
        if kind in NETTING_KINDS and not deal.netted:  # its first: the facts before it are flagged too
            deal.netted = True
            self.view.update(deal_facts, "deal_id", {"deal_id": deal.deal_id, "netted": True})
        self.view.insert(
            deal_facts,
            (  # the table's columns, in order
                r.position,
                self._next_seq(r.position),
                rep_id,
                deal.deal_id,
                kind,
                occurred_us,
                r.recorded_at,
                won_cents,
                refund_cents,
                won_ppb,
                lost_ppb,
                new_customer_ppb,
                cycle_us,
                deal_count,
                _sources(sources, r.position),
                deal.netted,
            ),
        )
        for column, amount in (
            ("won_cents", won_cents),
            ("refund_cents", refund_cents),
            ("won_ppb", won_ppb),
            ("lost_ppb", lost_ppb),
            ("new_customer_ppb", new_customer_ppb),
        ):
            if amount:
                self.hours.add(occurred_us, r.position, column, amount)
        counted_cycle = cycle_us if deal_count == 1 and cycle_us is not None else None
        self.reps.add(
            rep_id,
            occurred_us,
            (  # rep_deal_spans' sums, in order
                won_cents,
                refund_cents,
                1 if won_ppb > 0 else 0,
                1 if lost_ppb > 0 else 0,
                1 if new_customer_ppb > 0 else 0,
                counted_cycle or 0,
                0 if counted_cycle is None else 1,
            ),
        )

    def conversion(self, r: LogRecord, lead: Lead, won_us: int, delta: int, sources: Iterable[int]) -> None:
        self.view.insert(
            lead_conversions,
            (  # the table's columns, in order
                r.position,
                self._next_seq(r.position),
                lead.lead_id,
                lead.rep_id,
                lead.created_us,
                won_us,
                r.recorded_at,
                delta,
                _sources(sources, r.position),
            ),
        )

    # ------------------------------------------------------------ first wins and conversions

    def claim_first_win(self, deal: Deal, r: LogRecord) -> bool:
        """Is this win the customer's first as now known? If it displaces an earlier-recorded
        first win (it happened before it), take the new-customer credit off that one."""
        customer = self.customers.get(deal.customer_id)
        if customer is not None and (customer.first_won_us, customer.first_position) <= deal.closing():
            return False
        if customer is not None:
            displaced = self.deals.get(customer.first_deal_id)
            displaced.is_first = False
            for rep_id, ppb in displaced.credit():
                self.fact(
                    r,
                    displaced,
                    rep_id,
                    "unfirst",
                    displaced.closing()[0],
                    (displaced.closing()[1],),
                    new_customer_ppb=-ppb,
                )
        self.customers.put(deal.customer_id, Customer(deal.customer_id, deal.deal_id, *deal.closing()))
        deal.is_first = True
        return True

    def convert(self, lead: Lead, deal: Deal, r: LogRecord) -> None:
        """Count the lead as converted by this won deal, unless an earlier win already does."""
        win = won_us, won_position = deal.closing()
        converted = lead.conversion()
        if converted is not None and converted <= win:
            return
        if converted is not None:
            self.conversion(r, lead, converted[0], -1, (lead.position, converted[1]))
        self.conversion(r, lead, won_us, +1, (lead.position, won_position))
        lead.converted_deal_id, lead.converted_won_us, lead.converted_position = deal.deal_id, *win

    def move_credit(self, r: LogRecord, deal: Deal, before: Credit, after: Credit) -> None:
        """A split: every figure of the deal moves from the old credit to the new, at its own time."""
        reps = _reps_of(before, after)
        if deal.outcome == "won":
            won = _moved(deal.booked_cents(), before, after)
            orders = _moved(PPB, before, after)
            for rep_id in reps:
                first = orders[rep_id] if deal.is_first else 0
                if won[rep_id] or orders[rep_id]:
                    self.fact(
                        r,
                        deal,
                        rep_id,
                        "split",
                        deal.closing()[0],
                        deal.win_sources(),
                        won_cents=won[rep_id],
                        won_ppb=orders[rep_id],
                        new_customer_ppb=first,
                    )
            for refund_us, refund, position in deal.refunds:
                moved = _moved(refund, before, after)
                for rep_id in reps:
                    if moved[rep_id]:
                        self.fact(r, deal, rep_id, "split", refund_us, (position,), refund_cents=moved[rep_id])
        elif deal.outcome == "lost":
            lost = _moved(PPB, before, after)
            for rep_id in reps:
                if lost[rep_id]:
                    closed_us, closed_position = deal.closing()
                    self.fact(r, deal, rep_id, "split", closed_us, (closed_position,), lost_ppb=lost[rep_id])


def _sources(positions: Iterable[int], own: int) -> str:
    return " ".join(map(str, sorted({*positions, own})))


def _reps_of(before: Credit, after: Credit) -> list[str]:
    """The reps of both credits, in a fixed order (old ones first), so rows are deterministic."""
    reps = [rep_id for rep_id, _ in before]
    return reps + [rep_id for rep_id, _ in after if rep_id not in reps]


def _moved(total: int, before: Credit, after: Credit) -> dict[str, int]:
    old, new = allocate(total, before), allocate(total, after)
    return {rep_id: new.get(rep_id, 0) - old.get(rep_id, 0) for rep_id in _reps_of(before, after)}


# ---------------------------------------------------------------- handlers


@on("DealOpened")
def deal_opened(fold: SalesFold, r: LogRecord) -> None:
    d = r.data
    deal = Deal(
        d["deal_id"],
        d["rep_id"],
        d["customer_id"],
        d.get("lead_id"),
        occurred_us(r),
        r.position,
        cents(d.get("expected_amount")),
        opened_recorded_us=r.recorded_at,
    )
    fold.deals.put(deal.deal_id, deal)
    if deal.lead_id is not None:
        fold.deals_of_lead.setdefault(deal.lead_id, set()).add(deal.deal_id)


@on("DealWon")
def deal_won(fold: SalesFold, r: LogRecord) -> None:
    deal = fold.deals.get(r.data["deal_id"])
    deal.outcome, deal.closed_us, deal.closed_position = "won", occurred_us(r), r.position
    deal.closed_recorded_us = r.recorded_at
    deal.won_cents = cents(r.data["amount"])
    first = fold.claim_first_win(deal, r)
    credit = deal.credit()
    amounts = allocate(deal.won_cents, credit)
    for i, (rep_id, ppb) in enumerate(credit):
        fold.fact(
            r,
            deal,
            rep_id,
            "won",
            deal.closed_us,
            (),
            won_cents=amounts[rep_id],
            won_ppb=ppb,
            new_customer_ppb=ppb if first else 0,
            deal_count=1 if i == 0 else 0,
        )
    if deal.lead_id is not None:
        lead = fold.leads.get(deal.lead_id)
        if lead is not None:
            fold.convert(lead, deal, r)


@on("DealLost")
def deal_lost(fold: SalesFold, r: LogRecord) -> None:
    deal = fold.deals.get(r.data["deal_id"])
    deal.outcome, deal.closed_us, deal.closed_position = "lost", occurred_us(r), r.position
    deal.closed_recorded_us = r.recorded_at
    for rep_id, ppb in deal.credit():
        fold.fact(r, deal, rep_id, "lost", deal.closed_us, (), lost_ppb=ppb)


@on("DealAmountCorrected")
def deal_amount_corrected(fold: SalesFold, r: LogRecord) -> None:
    deal = fold.deals.get(r.data["deal_id"])
    credit = deal.credit()
    before, after = allocate(deal.booked_cents(), credit), allocate(cents(r.data["amount"]), credit)
    for rep_id, _ in credit:
        if after[rep_id] != before[rep_id]:
            fold.fact(
                r,
                deal,
                rep_id,
                "corrected",
                deal.closing()[0],
                deal.win_sources(),
                won_cents=after[rep_id] - before[rep_id],
            )
    deal.won_cents, deal.correction_position = cents(r.data["amount"]), r.position


@on("DealRefunded")
def deal_refunded(fold: SalesFold, r: LogRecord) -> None:
    deal = fold.deals.get(r.data["deal_id"])
    refund_us, refund = occurred_us(r), cents(r.data["amount"])
    parts = allocate(refund, deal.credit())
    for rep_id, _ in deal.credit():
        fold.fact(r, deal, rep_id, "refunded", refund_us, deal.win_sources(), refund_cents=parts[rep_id])
    deal.refunds.append([refund_us, refund, r.position])


@on("DealCreditSplit")
def deal_credit_split(fold: SalesFold, r: LogRecord) -> None:
    deal = fold.deals.get(r.data["deal_id"])
    before, after = deal.credit(), shares_in_ppb(r.data["splits"])
    fold.move_credit(r, deal, before, after)
    deal.shares, deal.split_position = after, r.position


@on("LeadCreated")
def lead_created(fold: SalesFold, r: LogRecord) -> None:
    d = r.data
    lead = Lead(
        d["lead_id"],
        d["rep_id"],
        d.get("customer_id"),
        d.get("source"),
        occurred_us(r),
        r.recorded_at,
        r.position,
    )
    fold.leads.put(lead.lead_id, lead)
    fold.hours.add(lead.created_us, r.position, "leads", 1)
    for deal_id in fold.deals_with_lead(lead.lead_id):  # won before the lead was recorded
        deal = fold.deals.peek(deal_id)
        if deal.outcome == "won":
            fold.convert(lead, deal, r)


class SalesProjection(Projection):
    name = "sales"
    tables = (deals, customers, leads, deal_facts, lead_conversions, sales_hours, rep_deal_spans)
    handlers = HANDLERS
    fold = SalesFold
