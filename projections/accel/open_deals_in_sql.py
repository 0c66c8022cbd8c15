"""Reps' open deals read from PostgreSQL a rep a row: when each deal was opened and its expected
amount, gathered into two arrays (`array_agg`) in the store, rather than a row a deal
(`queries.forecast.open_deals`, the plain path).

A company's off-track list at ten million events read 37k open deals: made rows, tuples and
lists, ~55 ms of Python in a read Python bounds. Two arrays a rep are 5,000 rows, loaded by
psycopg's C code, and the deals' sums are taken over plain ints (docs/performance.md, seventh run).

The deals still open are gathered on their own, from the `deals_open` index alone, in the order
of its reps (no hash of 5,000 groups spilled to disk): 28 → 9 ms at ten million events; those
won or lost after as_of, or known so only after known_at (few: none for a read of now), by a
second read (docs/performance.md, ninth run).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, Select, func, select, union_all
from sqlalchemy.types import NullType

from projections.forecasting import NO_OPEN_DEALS, OpenDeals
from projections.tables import deals


def open_deals_in_sql(
    conn: Connection, open_at: Sequence[ColumnElement[bool]], rep_ids: list[str] | None
) -> dict[str, OpenDeals]:
    """rep → its `OpenDeals` among the deals matching one of `open_at` (disjoint conditions, each
    an index range of its own: one OR would scan every deal; the first, the deals still open), of
    the reps `rep_ids` (None: of every rep)."""
    still_open, *closed_since = open_at
    found = {
        rep_id: OpenDeals(opened, amounts) for rep_id, opened, amounts in conn.execute(gathered([still_open], rep_ids))
    }
    for rep_id, opened, amounts in conn.execute(gathered(closed_since, rep_ids)):
        mine = found.get(rep_id, NO_OPEN_DEALS)
        found[rep_id] = OpenDeals([*mine.opened_us, *opened], [*mine.expected_cents, *amounts])
    return found


def gathered(conditions: Sequence[ColumnElement[bool]], rep_ids: list[str] | None) -> Select:
    """(rep_id, [opened_us], [expected_cents]) of the deals matching one of `conditions`."""
    d = deals.c
    picked = [select(d.rep_id, d.opened_us, d.expected_cents).where(one) for one in conditions]
    if rep_ids is not None:
        picked = [rows.where(d.rep_id.in_(rep_ids)) for rows in picked]
    o = (picked[0] if len(picked) == 1 else union_all(*picked)).subquery("opened").c
    # typed as nothing: psycopg's lists of ints are what is wanted, and SQLAlchemy's ARRAY would
    # walk every element of them again (17 → 12 ms of CPU over a company's 37k open deals)
    arrays = [func.array_agg(column, type_=NullType()) for column in (o.opened_us, o.expected_cents)]
    return select(o.rep_id, *arrays).group_by(o.rep_id)
