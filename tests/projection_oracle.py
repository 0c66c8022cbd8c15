"""A naive reference for the KPIs: the definitions of projections/queries/kpis.py applied directly to a
list of envelopes (the events the ledger knows, in log order), with no tables and no deltas.

It replays the story to each deal's final state (amount after its last correction, credit after
its last split, its refunds), each customer's earliest win and each rep's memberships, then
evaluates each figure straight from its definition. Slow and obvious on purpose: the property
tests check the projected figures against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median
from zoneinfo import ZoneInfo

from ledger.periods import parse_period
from projections.units import PPB, allocate, shares_in_ppb


@dataclass
class Deal:
    rep_id: str
    customer_id: str
    lead_id: str | None
    opened: datetime
    outcome: str | None = None
    closed: datetime | None = None
    won_at_index: int = 0
    cents: int = 0
    credit: list = field(default_factory=list)
    refunds: list = field(default_factory=list)  # (when, cents)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


class Story:
    def __init__(self, envelopes: list[dict]):
        self.deals: dict[str, Deal] = {}
        self.moves: list[tuple[datetime, int, str, str | None, str | None]] = []
        self.leads: list[tuple[str, str, datetime]] = []
        self.activities: list[tuple[str, str, bool, datetime]] = []
        self.followups: dict[str, list] = {}  # id -> [rep, scheduled, due, completed]
        for index, envelope in enumerate(envelopes):
            self._apply(index, envelope["type"], _t(envelope["occurred_at"]), envelope["data"])

    def _apply(self, index: int, kind: str, when: datetime, d: dict) -> None:
        if kind in ("RepOnboarded", "RepTransferred"):
            self.moves.append((when, index, d["rep_id"], d.get("team_id"), d.get("region")))
        elif kind == "LeadCreated":
            self.leads.append((d["lead_id"], d["rep_id"], when))
        elif kind == "ActivityLogged":
            self.activities.append((d["rep_id"], d["kind"], bool(d.get("replied")), when))
        elif kind == "FollowUpScheduled":
            self.followups[d["followup_id"]] = [d["rep_id"], when, _t(d["due_at"]), None]
        elif kind == "FollowUpCompleted":
            self.followups[d["followup_id"]][3] = when
        elif kind == "DealOpened":
            self.deals[d["deal_id"]] = Deal(
                d["rep_id"], d["customer_id"], d.get("lead_id"), when, credit=[(d["rep_id"], PPB)]
            )
        elif kind in ("DealWon", "DealLost"):
            deal = self.deals[d["deal_id"]]
            deal.outcome, deal.closed, deal.won_at_index = ("won" if kind == "DealWon" else "lost"), when, index
            deal.cents = _cents(d["amount"]) if kind == "DealWon" else 0
        elif kind == "DealAmountCorrected":
            self.deals[d["deal_id"]].cents = _cents(d["amount"])
        elif kind == "DealRefunded":
            self.deals[d["deal_id"]].refunds.append((when, _cents(d["amount"])))
        elif kind == "DealCreditSplit":
            splits = [{"rep_id": s["rep_id"], "share": Decimal(s["share"])} for s in d["splits"]]
            self.deals[d["deal_id"]].credit = shares_in_ppb(splits)

    def place(self, rep_id: str, when: datetime) -> tuple[str | None, str | None]:
        """(team, region) of a rep at a business time: every move up to then applied in order;
        a time before their first move gets the place they first had."""
        rows = sorted((m for m in self.moves if m[2] == rep_id), key=lambda m: (m[0], m[1]))
        team = region = None
        for moment, _, _, team_id, region_name in rows:
            if moment > when and moment != rows[0][0]:
                break
            team, region = team_id or team, region_name or region
        return team, region


def figures(envelopes: list[dict], tz_name: str, scope: str, period: str, as_of: datetime | None = None) -> dict:
    story = Story(envelopes)
    tz = ZoneInfo(tz_name)
    p = parse_period(period)
    start, end = p.start(tz), p.end(tz)
    as_of = as_of or end - timedelta(microseconds=1)
    previous = p.previous()
    p_start, p_end = previous.start(tz), previous.end(tz)

    def ours(rep_id: str, when: datetime) -> bool:
        if scope == "company":
            return True
        kind, _, value = scope.partition(":")
        if kind == "rep":
            return rep_id == value
        team, region = story.place(rep_id, when)
        return (team if kind == "team" else region) == value

    def inside(when: datetime, lo: datetime, hi: datetime, until: datetime) -> bool:
        return lo <= when < hi and when <= until

    def revenue(lo, hi, until) -> int:
        total = 0
        for deal in story.deals.values():
            if deal.outcome == "won" and inside(deal.closed, lo, hi, until):
                parts = allocate(deal.cents, deal.credit)
                total += sum(parts[r] for r, _ in deal.credit if ours(r, deal.closed))
            for when, cents in deal.refunds:
                if inside(when, lo, hi, until):
                    parts = allocate(cents, deal.credit)
                    total -= sum(parts[r] for r, _ in deal.credit if ours(r, when))
        return total

    def share(deal: Deal) -> int:
        return sum(ppb for r, ppb in deal.credit if ours(r, deal.closed))

    closed_here = [d for d in story.deals.values() if d.outcome and inside(d.closed, start, end, as_of)]
    won = [d for d in closed_here if d.outcome == "won"]
    # counts are whole: a deal counts once where any rep it credits is in the scope
    won_count = sum(1 for d in won if share(d) > 0)
    lost_count = sum(1 for d in closed_here if d.outcome == "lost" and share(d) > 0)
    won_cents = sum(sum(allocate(d.cents, d.credit)[r] for r, _ in d.credit if ours(r, d.closed)) for d in won)
    firsts: dict[str, Deal] = {}
    for deal in sorted(
        (d for d in story.deals.values() if d.outcome == "won"), key=lambda d: (d.closed, d.won_at_index)
    ):
        firsts.setdefault(deal.customer_id, deal)
    new_count = sum(1 for d in firsts.values() if inside(d.closed, start, end, as_of) and share(d) > 0)
    leads = [
        (lead_id, rep, when)
        for lead_id, rep, when in story.leads
        if inside(when, start, end, as_of) and ours(rep, when)
    ]
    converted = [
        lead_id
        for lead_id, _, _ in leads
        if any(d.lead_id == lead_id and d.outcome == "won" and d.closed <= as_of for d in story.deals.values())
    ]
    acts = [
        (kind, replied)
        for rep, kind, replied, when in story.activities
        if inside(when, start, end, as_of) and ours(rep, when)
    ]
    emails = [replied for kind, replied in acts if kind == "email"]
    due = [f for f in story.followups.values() if start <= f[2] < end and f[1] <= as_of and ours(f[0], f[2])]
    done = [f for f in due if f[3] is not None and f[3] <= as_of]
    cycles = [Decimal((d.closed - d.opened) // timedelta(microseconds=1)) / 86_400_000_000 for d in won if share(d) > 0]
    now, before = revenue(start, end, as_of), revenue(p_start, p_end, min(as_of, p_end - timedelta(microseconds=1)))
    return {
        "revenue": Decimal(now) / 100,
        "growth_rate": _ratio(now - before, before),
        "orders": Decimal(won_count),
        "avg_order_value": None
        if won_count <= 0
        else (Decimal(won_cents) / won_count / 100).quantize(Decimal("0.01"), ROUND_HALF_UP),
        "win_rate": _ratio(won_count, won_count + lost_count),
        "new_customers": Decimal(new_count),
        "conversion_rate": _ratio(len(converted), len(leads)),
        "activities": {
            kind: sum(1 for k, _ in acts if k == kind)
            for kind in ("call", "visit", "email", "meeting", "demo", "other")
        },
        "email_reply_rate": _ratio(sum(emails), len(emails)),
        "followups": {
            "due": len(due),
            "done": len(done),
            "overdue": sum(1 for f in due if f not in done and f[2] < as_of),
        },
        "sales_cycle_days": {
            "mean": _days(sum(cycles) / len(cycles)) if cycles else None,
            "median": _days(median(cycles)) if cycles else None,
        },
    }


def _ratio(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _days(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def comparable(kpis: dict) -> dict:
    """The projected KPIs in the oracle's shape (counts as Decimals)."""
    return {
        "revenue": kpis["revenue"],
        "growth_rate": kpis["growth_rate"],
        "orders": Decimal(kpis["orders"]),
        "avg_order_value": kpis["avg_order_value"],
        "win_rate": kpis["win_rate"],
        "new_customers": Decimal(kpis["new_customers"]),
        "conversion_rate": kpis["conversion_rate"],
        "activities": kpis["activities"],
        "email_reply_rate": kpis["email_reply_rate"],
        "followups": kpis["followups"],
        "sales_cycle_days": kpis["sales_cycle_days"],
    }
