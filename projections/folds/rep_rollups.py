"""Rep rollups: each rep's fact sums by aligned span of business days.

A list of every rep (the company's off-track list) reads, for each of thousands of reps, its
deal facts of the quarter and of the year before as_of and its activities of the quarter: at
ten million events a year, most of those tables. So the sales and activity folds also add each
fact into its rep's row of every span that holds its business day: spans of 4, 16, 64 and 256
days, each aligned on a multiple of its length counted from 1970-01-01 (UTC). A window [lo, hi)
is then read as

- its whole aligned 4-day spans, covered by a few longer ones (`cover`: at most three of a
  length at each end), from the rollup rows: about ten rows a rep for a quarter or a year;
- the rest at its edges, less than 4 days at each (a period starts at midnight in the company's
  time zone, as_of falls inside a day), from the fact rows themselves (`Days.edges`).

No span of one day: it would be a row for nearly every rep and day (1.4M rows a year of 5,050
reps' activities, three quarters of the rollup), each written by a rebuild at ~10 µs on
PostgreSQL, for the sake of reading 3 days fewer of facts at each edge.

The rows carry no knowledge time: a read uses them only when it knows every fact the table
holds (its known_at is at or after the last fact's knowledge time, which grows with position);
any other read sums the fact rows. Every fact lands in exactly one row of each length, so the
two sums are equal (`tests/test_rep_rollups.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table

from projections.units import DAY_US
from projections.view import BatchView

SPANS = (256, 64, 16, 4)  # days, the longest first
SHORTEST = SPANS[-1]
KEY = ("span", "day", "rep_id")


class RepRollup:
    """A batch's additions to a rep rollup table, written as increments (col = col + delta)."""

    def __init__(self, view: BatchView, table: Table):
        self.view = view
        self.table = table
        self.rows: dict[tuple[int, int, str], list[int | str]] = {}

    def add(self, rep_id: str, occurred_us: int, amounts: Sequence[int]) -> None:
        """Add `amounts` (the table's summed columns, in order) into the rep's row of every span
        that holds the business day of `occurred_us`."""
        day = occurred_us // DAY_US
        rows = self.rows
        for span in SPANS:
            key = (span, day - day % span, rep_id)
            row = rows.get(key)
            if row is None:
                row = rows[key] = [*key, *amounts]
            else:
                for i, amount in enumerate(amounts, len(KEY)):
                    row[i] += amount  # type: ignore[operator]

    def flush(self) -> None:
        for key, row in sorted(self.rows.items()):
            self.view.increment(self.table, key, tuple(row))


def cover(first: int, end: int) -> list[tuple[int, int, int]]:
    """Days [first, end), both multiples of the shortest span, as aligned spans, the fewest a
    left-to-right walk finds: runs of (span, first day, end day), each run one length's
    consecutive spans."""
    runs: list[tuple[int, int, int]] = []
    day = first
    while day < end:
        span = next(s for s in SPANS if day % s == 0 and day + s <= end)
        if runs and runs[-1][0] == span and runs[-1][2] == day:
            runs[-1] = (span, runs[-1][1], day + span)
        else:
            runs.append((span, day, day + span))
        day += span
    return runs


@dataclass(frozen=True)
class Days:
    """The window [lo, hi) of business time (microseconds) as the whole shortest spans [first,
    end) inside it (in days) and what is left at its edges."""

    lo: int
    hi: int
    first: int
    end: int

    @classmethod
    def of(cls, lo: int, hi: int) -> Days:
        unit = SHORTEST * DAY_US
        first, end = -(-lo // unit) * SHORTEST, hi // unit * SHORTEST
        if first >= end:  # no whole span inside: all edge
            return cls(lo, hi, 0, 0)
        return cls(lo, hi, first, end)

    def spans(self) -> list[tuple[int, int, int]]:
        return cover(self.first, self.end)

    def edges(self) -> list[tuple[int, int]]:
        """The [lo, hi) ranges of business time outside the whole spans."""
        if self.first >= self.end:
            return [(self.lo, self.hi)] if self.lo < self.hi else []
        around = ((self.lo, self.first * DAY_US), (self.end * DAY_US, self.hi))
        return [(a, b) for a, b in around if a < b]
