"""The audit rebuild: project the raw log, up to a knowledge time, into a scratch store from
nothing, and compare it with the live projections. Every difference is reported, not hidden.

Two comparisons: row by row, every projected table (at the head: all rows; at an earlier
knowledge time: the rows of the append-only tables recorded by then — fold-state tables hold
the latest state and only compare at the head); and figure by figure, the KPIs of the company,
every region and every team for the periods asked, and every rep's payout, each read with the
same cut-offs from both stores.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select

from ledger.config import Settings
from ledger.decoding import micros_to_time
from ledger.gc_pause import paused_gc
from ledger.reading import BoundedLog
from ledger.store import Ledger
from projections.db import engine_for, reading
from projections.payouts.assembly import period_payouts
from projections.queries.cutoffs import known_micros
from projections.queries.kpis import kpis
from projections.runner import catch_up, projected_tables, rebuild
from projections.tables import memberships


def audit(
    ledger: Ledger,
    engine: Engine,
    settings: Settings,
    known_at: datetime | None = None,
    periods: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    catch_up(ledger, engine)
    known_us = known_micros(settings, known_at)
    upto = ledger.position_at(known_us)
    at_head = upto == ledger.head().position
    with tempfile.TemporaryDirectory(prefix="perfledger-audit-") as folder:
        scratch_settings = replace(settings, database_url=f"sqlite:///{Path(folder) / 'scratch.db'}")
        # A SQLite ledger is attached to the scratch store, read-only: its rebuild replays the
        # activities and follow-ups in SQL as the live store's does (`projections.accel.in_store`).
        scratch = engine_for(
            scratch_settings, reads_ledger=None if ledger.is_postgres else ledger.settings.database_url
        )
        try:
            # `rebuild`, not `catch_up`: the scratch store starts empty, so the read indexes are
            # built once at the end instead of kept up to date row by row.
            rebuild(BoundedLog(ledger, upto), scratch, progress=progress)
            differences = compare_rows(engine, scratch, known_us, at_head)
            differences += compare_figures(engine, scratch, settings, periods or [], micros_to_time(known_us))
        finally:
            scratch.dispose()
    return {
        "ok": not differences,
        "known_at": micros_to_time(known_us),
        "events_replayed": upto,
        "compared": {"tables": len(projected_tables()), "periods": periods or []},
        "differences": differences[:1000],
        "difference_count": len(differences),
    }


def compare_rows(live: Engine, scratch: Engine, known_us: int, at_head: bool) -> list[dict[str, Any]]:
    """Every projected row that one store holds and the other does not (50 each way per table)."""
    differences = []
    with _row_differences(live, scratch, known_us, at_head) as differ:
        for table in projected_tables():
            if not at_head and "recorded_us" not in table.c:
                continue
            only_live, only_scratch = differ(table)
            for row in sorted(only_live, key=repr)[:50]:
                differences.append(
                    {"table": table.name, "row": list(row), "problem": "in the live projection, not in the rebuild"}
                )
            for row in sorted(only_scratch, key=repr)[:50]:
                differences.append(
                    {"table": table.name, "row": list(row), "problem": "in the rebuild, not in the live projection"}
                )
    return differences


Differ = Callable[[Table], tuple[Iterable[tuple], Iterable[tuple]]]


@contextmanager
def _row_differences(live: Engine, scratch: Engine, known_us: int, at_head: bool) -> Iterator[Differ]:
    """How to tell a table's differences: in SQL when both stores are SQLite files (the scratch one
    attached to the live one, `EXCEPT` both ways, in one read transaction over both), else row sets
    in Python (a PostgreSQL store beside its SQLite scratch copy)."""
    live_path, scratch_path = _sqlite_file(live), _sqlite_file(scratch)
    if live_path is None or scratch_path is None:
        yield lambda table: _python_differences(live, scratch, table, known_us, at_head)
        return
    conn = sqlite3.connect(live_path, isolation_level=None, timeout=30)
    try:
        conn.execute("ATTACH DATABASE ? AS scratch", (scratch_path,))
        conn.execute("BEGIN")
        yield lambda table: _sql_differences(conn, table, known_us, at_head)
    finally:
        conn.close()


def _sqlite_file(engine: Engine) -> str | None:
    database = engine.url.database
    return database if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:") else None


SHOWN_PER_TABLE = 1000  # differing rows fetched per table and way (50 are reported)


def _sql_differences(
    conn: sqlite3.Connection, table: Table, known_us: int, at_head: bool
) -> tuple[list[tuple], list[tuple]]:
    """The rows of one store that the other does not hold as they are: each store's table joined
    to the other's on the primary key (a walk of both keys in order; `EXCEPT` sorted both whole
    tables each way, which was slower), a row kept when its key is missing there or any column
    differs (`IS NOT`: NULLs are equal, as in `EXCEPT`)."""
    keys = [column.name for column in table.primary_key.columns]
    assert keys, f"table {table.name} has no primary key to compare its rows by"

    def missing_from(mine: str, other: str) -> list[tuple]:
        columns = ", ".join(f'x."{column.name}"' for column in table.columns)
        joined = " AND ".join(f'x."{key}" = y."{key}"' for key in keys)
        differs = " OR ".join(f'x."{column.name}" IS NOT y."{column.name}"' for column in table.columns)
        params: tuple[int, ...]
        if at_head:
            seen, kept, params = "", "", ()
        else:  # rows recorded by known_at, on both sides: a later row of the other is no match
            seen, kept, params = " AND y.recorded_us <= ?", " AND x.recorded_us <= ?", (known_us, known_us)
        return conn.execute(
            f'SELECT {columns} FROM {mine}."{table.name}" AS x LEFT JOIN {other}."{table.name}" AS y '
            f"ON {joined}{seen} WHERE ({differs}){kept} LIMIT {SHOWN_PER_TABLE}",
            params,
        ).fetchall()

    return missing_from("main", "scratch"), missing_from("scratch", "main")


def _python_differences(
    live: Engine, scratch: Engine, table: Table, known_us: int, at_head: bool
) -> tuple[set[tuple], set[tuple]]:
    mine, theirs = _rows(live, table, known_us, at_head), _rows(scratch, table, known_us, at_head)
    return mine - theirs, theirs - mine


def _rows(engine: Engine, table: Table, known_us: int, at_head: bool) -> set[tuple]:
    query = select(table)
    if not at_head:
        query = query.where(table.c.recorded_us <= known_us)
    with reading(engine) as conn, paused_gc():  # a table's rows at once: see ledger.gc_pause
        return {tuple(row) for row in conn.execute(query)}


def compare_figures(
    live: Engine, scratch: Engine, settings: Settings, periods: list[str], known_at: datetime
) -> list[dict[str, Any]]:
    differences = []
    for period in periods:
        for scope in _scopes(scratch):
            mine, theirs = (
                kpis(live, settings, scope, period, known_at=known_at),
                kpis(scratch, settings, scope, period, known_at=known_at),
            )
            differences += [
                {"period": period, "scope": scope, "figure": name, "live": mine[name], "rebuild": theirs[name]}
                for name in mine
                if mine[name] != theirs.get(name)
            ]
        mine_payouts = {p.rep_id: p for p in period_payouts(live, settings, period, known_at=known_at)}
        for rebuilt in period_payouts(scratch, settings, period, known_at=known_at):
            original = mine_payouts.get(rebuilt.rep_id)
            if original is None or original.digest != rebuilt.digest:
                differences.append(
                    {
                        "period": period,
                        "scope": f"rep:{rebuilt.rep_id}",
                        "figure": "payout",
                        "live": None if original is None else original.total,
                        "rebuild": rebuilt.total,
                    }
                )
    return differences


def _scopes(engine: Engine) -> list[str]:
    m = memberships.c
    with reading(engine) as conn:
        teams = sorted({t for t in conn.execute(select(m.team_id).distinct()).scalars() if t})
        regions = sorted({r for r in conn.execute(select(m.region).distinct()).scalars() if r})
    return ["company", *[f"region:{r}" for r in regions], *[f"team:{t}" for t in teams]]
