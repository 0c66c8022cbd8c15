"""The knowledge blocks read from the ledger's entries: the `log` projection's accelerator.

The plain `log` projection handles every event of the log for one fact each: its position's
knowledge time (`folds.rollups.LogProjection`). Those times are the ledger entries' own, and
they grow with position, so a block's first and last times in a stretch are those of its first
and last position there: two entries a block (`Ledger.knowledge_spans`), with no event read or
decoded. The runner then reads no event for this projection at all, and a split rebuild's
processes read only the events of their own projections.
"""

from __future__ import annotations

from sqlalchemy import Engine

from projections.accel.base import EventsAlone, LogReader
from projections.folds import rollups
from projections.folds.rollups import BlocksFold
from projections.projection import Fold


class KnowledgeFromEntries(EventsAlone):
    """Each batch's stretch of positions folded from the ledger's entries."""

    def reads_stretches(self, log: LogReader, engine: Engine) -> bool:
        return True

    def feed_stretch(self, fold: Fold, log: LogReader, after: int, upto: int) -> None:
        assert isinstance(fold, BlocksFold)
        for block, first, last in log.knowledge_spans(after, upto, rollups.BLOCK_BITS):
            fold.add(block, first, last)
