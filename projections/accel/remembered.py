"""Fold state carried from batch to batch of one catch-up: the sales and trust folds' memory.

On the plain path each batch's fold reads the state it needs from its tables, as the batch
before wrote it. A catch-up's folds may instead carry that state in memory (the `memory`
`Accelerator.begin` is given), so a batch reads back from its tables only what the catch-up has
not seen, or has forgotten. What a fold carries must be exactly what its tables hold once its
batch is written; a failed batch empties the memory (the runner's `forget`).

Carried state also lets batches be held unwritten (`holding`): a fold that reads nothing from
its tables that an unwritten batch changed may fold the next batch before this one is written.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from itertools import islice
from typing import Any

from sqlalchemy import Connection

from projections.accel.base import HOLD_AT_MOST, Accelerator
from projections.folds.sales import Cache, SalesFold
from projections.folds.trust import TrustFold
from projections.projection import Fold, Projection
from projections.view import BatchView

# States of each kind (deals, customers, leads) a sales catch-up remembers between batches: a
# rebuild then reads back from its tables only what it forgot, and its memory stays bounded.
REMEMBERED = 20_000


class RememberedDisputes(Accelerator):
    """The trust fold remembers every dispute a catch-up saw opened (disputes are few: a handful
    per rep and period at most), so it reads from its table only disputes opened before the
    catch-up began, which no unwritten batch changed: its batches may be held."""

    def begin(self, projection: Projection, conn: Connection, view: BatchView, memory: dict[str, Any]) -> Fold:
        fold = projection.begin(conn, view)
        assert isinstance(fold, TrustFold)
        fold.opened = memory.setdefault("opened", fold.opened)
        return fold

    def holdable(self, fold: Fold) -> bool:
        return True


class RememberedSales(Accelerator):
    """The sales fold carries its deals, customers and leads from batch to batch
    (`RememberingSalesFold`); from the start of the log (a rebuild) its batches may be held."""

    def begin(self, projection: Projection, conn: Connection, view: BatchView, memory: dict[str, Any]) -> Fold:
        return RememberingSalesFold(conn, view, memory)

    def holdable(self, fold: Fold) -> bool:
        return isinstance(fold, RememberingSalesFold) and fold.awaiting is not None


class RememberingSalesFold(SalesFold):
    """The sales fold, with the states of earlier batches of its catch-up kept in `memory`.

    A catch-up that began at the start of the log (a rebuild) has seen every deal: it also keeps
    the deals opened with a lead not yet created (`awaiting`, by lead), so a lead created late
    finds its deals there, with no query. Such a catch-up reads from its tables only states it
    forgot, and it never forgets one that the last HOLD_AT_MOST batches changed (`pinned`): its
    batches may be held. States beyond REMEMBERED of a kind are forgotten, oldest first.
    """

    def __init__(self, conn: Connection, view: BatchView, memory: dict[str, Any]):
        super().__init__(conn, view)
        for cache in self.caches:
            cache.items = memory.setdefault(cache.table.name, {})
        self.awaiting: dict[str, set[str]] | None = memory.setdefault("awaiting", {} if view.expected == 0 else None)
        self.pinned: deque[tuple[set[str], ...]] = memory.setdefault("pinned", deque(maxlen=HOLD_AT_MOST))

    @property
    def caches(self) -> tuple[Cache, Cache, Cache]:
        return self.deals, self.customers, self.leads

    def _load_deals_of_leads(self, lead_ids: set[str]) -> None:
        if self.awaiting is None:
            super()._load_deals_of_leads(lead_ids)
            return
        wanted = sorted(lead_ids)  # every deal opened with them is known: no query
        for lead_id in wanted:
            self.deals_of_lead.setdefault(lead_id, set())
        waiting = {lead_id: self.awaiting.pop(lead_id) for lead_id in wanted if lead_id in self.awaiting}
        self.deals.load(deal_id for deal_ids in waiting.values() for deal_id in deal_ids)
        for lead_id, deal_ids in waiting.items():
            self.deals_of_lead[lead_id] |= deal_ids

    def finish(self) -> None:
        if self.awaiting is not None:
            self._await_leads(self.awaiting)
        super().finish()
        if self.awaiting is not None:
            self.pinned.append(tuple(cache.changed for cache in self.caches))
        for i, cache in enumerate(self.caches):
            forget_oldest(cache, REMEMBERED, [changed[i] for changed in self.pinned])

    def _await_leads(self, awaiting: dict[str, set[str]]) -> None:
        """The deals this batch opened with a lead still not created wait for it in `awaiting`
        (the only deals of a lead not created that `deals_of_lead` can hold: a lead's earlier
        deals are loaded into it only when the lead is created)."""
        for lead_id, deal_ids in self.deals_of_lead.items():
            if self.leads.peek(lead_id) is None:
                awaiting.setdefault(lead_id, set()).update(deal_ids)


def forget_oldest(cache: Cache, keep: int, pinned: Iterable[set[str]] = ()) -> None:
    """Bound a cache's memory: drop its earliest-loaded states beyond `keep` (loaded again if
    asked), but none `pinned` (changed by a batch that may not be written yet)."""
    excess = len(cache.items) - keep
    if excess <= 0:
        return
    kept = set().union(*pinned)  # one set, not a look into each batch's per key
    for key in list(islice(cache.items, excess)):
        if key not in kept:
            del cache.items[key]
