"""Company rollups: fact sums by (hour of business time, block of log positions).

A company KPI over a quarter would otherwise add up every activity and deal fact of the quarter.
The sales and activity folds also add each fact into the row of its business hour and of the
block of positions (4096 positions) of the event that wrote it. A read with cut-offs
(window [lo, hi), known_at K) then splits into three exact parts:

- whole hours inside the window, blocks wholly known at K: the rollup rows;
- the partial hours at the window's edges (a period starting at a non-whole-hour offset, or
  as_of in the middle of an hour): the fact rows themselves, any block, recorded <= K;
- whole hours, the one block K falls into (partly known): its fact rows recorded <= K.
Blocks after that one hold only events recorded after K. Every fact row lands in exactly one
part, so the sum is the same as adding up the fact rows; `knowledge_blocks` (first and last
knowledge time of each block, kept by the `log` projection) says which block is which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import Connection, Table, bindparam, func, select

from ledger.decoding import LogRecord
from ledger.schemas import DATA_MODELS
from projections.projection import Fold, Handler, Projection
from projections.tables import knowledge_blocks
from projections.view import BatchView

HOUR_US = 3_600_000_000
BLOCK_BITS = 12  # 4096 positions a block


def block_of(position: int) -> int:
    return position >> BLOCK_BITS


def hour_of(micros: int) -> int:
    return micros - micros % HOUR_US


class Rollup:
    """A batch's additions to one rollup table, written as increments (col = col + delta)."""

    def __init__(self, view: BatchView, table: Table):
        self.view = view
        self.table = table
        self.width = len(table.columns)
        # each summed column's place in a row (hour_us and block come first)
        self.index = {c.name: i for i, c in enumerate(table.columns) if c.name not in ("hour_us", "block")}
        self.rows: dict[tuple[int, int], list[int]] = {}

    def add(self, occurred_us: int, position: int, column: str, amount: int) -> None:
        key = (occurred_us - occurred_us % HOUR_US, position >> BLOCK_BITS)  # (hour_of, block_of), inlined: hot
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = [*key, *[0] * (self.width - 2)]
        row[self.index[column]] += amount

    def flush(self) -> None:
        for key, row in sorted(self.rows.items()):
            self.view.increment(self.table, key, tuple(row))


@dataclass(frozen=True)
class Split:
    """How a read at known_at = K meets the blocks: blocks below `known_below` are wholly known;
    the positions in [partial_lo, partial_hi) are known only up to K."""

    known_below: int
    partial_lo: int = 0
    partial_hi: int = 0


_LAST_KNOWN = (
    select(
        knowledge_blocks.c.block,
        knowledge_blocks.c.last_recorded_us,
        select(func.max(knowledge_blocks.c.block)).scalar_subquery().label("last_block"),
    )
    .where(knowledge_blocks.c.first_recorded_us <= bindparam("k"))
    .order_by(knowledge_blocks.c.block.desc())
    .limit(1)
)
BEYOND = 2**62


def knowledge_split(conn: Connection, known_us: int) -> Split:
    """Which blocks a read at K knows wholly, and which positions it must read row by row.

    Past the last block the `log` projection has seen, positions are read row by row: they are
    normally absent, but a projection added later may have folded them before this one has.
    """
    row = conn.execute(_LAST_KNOWN, {"k": known_us}).first()
    if row is None:
        return Split(0, 0, BEYOND)
    if row.last_recorded_us > known_us:
        return Split(row.block, row.block << BLOCK_BITS, (row.block + 1) << BLOCK_BITS)
    if row.block == row.last_block:
        return Split(row.block + 1, (row.block + 1) << BLOCK_BITS, BEYOND)
    return Split(row.block + 1)


@dataclass(frozen=True)
class Window:
    """[lo, hi) cut into whole hours [hours_lo, hours_hi) and the edges around them."""

    lo: int
    hi: int
    hours_lo: int
    hours_hi: int

    @classmethod
    def of(cls, lo: int, hi: int) -> Window:
        first = hour_of(lo + HOUR_US - 1)
        last = hour_of(hi)
        if first >= last:  # no whole hour inside: all edge
            return cls(lo, hi, hi, hi)
        return cls(lo, hi, first, last)

    def edges(self) -> list[tuple[int, int]]:
        return [(a, b) for a, b in ((self.lo, self.hours_lo), (self.hours_hi, self.hi)) if a < b]


# ---------------------------------------------------------------- the knowledge of blocks


class BlocksFold(Fold):
    """The first and last knowledge time of each block a batch reaches."""

    def __init__(self, conn: Connection, view: BatchView):
        super().__init__(conn, view)
        self.spans: dict[int, dict[str, int]] = {}

    def add(self, block: int, first: int, last: int) -> None:
        """Positions of `block` known from `first` to `last`. Knowledge time grows with position:
        the batch's first time in a block stays, a later position moves its last."""
        span = self.spans.get(block)
        if span is None:
            span = self.spans[block] = {"block": block, "first_recorded_us": first}
        span["last_recorded_us"] = last

    def finish(self) -> None:
        for block, span in self.spans.items():
            # a block continued from an earlier batch keeps its first time and moves its last
            self.view.upsert(knowledge_blocks, block, span, keep=("first_recorded_us",))


def position_known(fold: BlocksFold, r: LogRecord) -> None:
    fold.add(block_of(r.position), r.recorded_at, r.recorded_at)


class LogProjection(Projection):
    """Every position of the log: the knowledge time spanned by each block (`knowledge_blocks`).

    Knowledge time belongs to every position, and every position holds one event, of a type the
    write side accepts (`DATA_MODELS`: it refuses any other). So the projection handles every
    event type, and reads only the record's position and knowledge time (its ledger entry's).
    `projections.accel.knowledge` reads the same times from the ledger's entries instead, two a
    block, with no event read or decoded."""

    name = "log"
    tables = (knowledge_blocks,)
    handlers: ClassVar[dict[str, Handler]] = dict.fromkeys(DATA_MODELS, position_known)
    fold = BlocksFold
