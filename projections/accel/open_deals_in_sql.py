"""Reps' open deals read from PostgreSQL a rep a row: when each deal was opened and its expected
amount, gathered into two arrays (`array_agg`) in the store, rather than a row a deal
(`queries.forecast.open_deals`, the plain path).

A company's off-track list at ten million events read 37k open deals: made rows, tuples and
lists, ~55 ms of Python in a read Python bounds. Two arrays a rep are 5,000 rows, loaded by
psycopg's C code, and the deals' sums are taken over plain ints (docs/performance.md, seventh run).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, func, select, union_all

from projections.forecasting import OpenDeals
from projections.tables import deals


def open_deals_in_sql(
    conn: Connection, open_at: Sequence[ColumnElement[bool]], rep_ids: list[str] | None
) -> dict[str, OpenDeals]:
    """rep → its `OpenDeals` among the deals matching one of `open_at` (disjoint conditions, each
    an index range of its own: one OR would scan every deal), of the reps `rep_ids` (None: of
    every rep)."""
    d = deals.c
    picked = [select(d.rep_id, d.opened_us, d.expected_cents).where(one) for one in open_at]
    if rep_ids is not None:
        picked = [rows.where(d.rep_id.in_(rep_ids)) for rows in picked]
    o = union_all(*picked).subquery("opened").c
    gathered = select(o.rep_id, func.array_agg(o.opened_us), func.array_agg(o.expected_cents)).group_by(o.rep_id)
    return {rep_id: OpenDeals(opened, amounts) for rep_id, opened, amounts in conn.execute(gathered)}
