"""Envelope builders for tests: short, explicit, and valid unless a test says otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Generated logs (demo.generator) run up to this moment: a department's year up to the end of
# November 2026, every fact of it in the past of any clock these tests run under (a fact from the
# future is refused).
GENERATED_UNTIL = datetime(2026, 11, 30, 12, tzinfo=UTC)


def ev(type_: str, when: str, event_id: str | None = None, **data: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = {"type": type_, "occurred_at": when, "data": data}
    if event_id is not None:
        envelope["event_id"] = event_id
    return envelope


def onboard(
    rep_id: str, team_id: str = "T-1", region: str = "East", when: str = "2026-01-01T09:00:00+00:00", **more: Any
):
    more.setdefault("name", f"Rep {rep_id}")
    return ev("RepOnboarded", when, rep_id=rep_id, team_id=team_id, region=region, **more)


def open_deal(
    deal_id: str, rep_id: str, customer_id: str = "C-1", when: str = "2026-01-10T09:00:00+00:00", **more: Any
):
    return ev("DealOpened", when, deal_id=deal_id, rep_id=rep_id, customer_id=customer_id, **more)


def win(deal_id: str, amount: str, when: str = "2026-02-10T09:00:00+00:00"):
    return ev("DealWon", when, deal_id=deal_id, amount=amount)


def lose(deal_id: str, when: str = "2026-02-10T09:00:00+00:00"):
    return ev("DealLost", when, deal_id=deal_id, reason="budget")


def refund(deal_id: str, amount: str, when: str = "2026-03-10T09:00:00+00:00"):
    return ev("DealRefunded", when, deal_id=deal_id, amount=amount, reason="returned")


def correct(deal_id: str, amount: str, when: str = "2026-03-01T09:00:00+00:00"):
    return ev("DealAmountCorrected", when, deal_id=deal_id, amount=amount, reason="typo in CRM")


def split(deal_id: str, shares: dict[str, str], when: str = "2026-02-11T09:00:00+00:00"):
    return ev("DealCreditSplit", when, deal_id=deal_id, splits=[{"rep_id": r, "share": s} for r, s in shares.items()])
