"""The audit rebuild: project the raw log, up to a knowledge time, into a scratch store from
nothing, and compare it with the live projections. Every difference is reported, not hidden.

Two comparisons: row by row, every projected table (at the head: all rows; at an earlier
knowledge time: the rows of the append-only tables recorded by then — fold-state tables hold
the latest state and only compare at the head); and figure by figure, the KPIs of the company,
every region and every team for the periods asked, and every rep's payout, each read with the
same cut-offs from both stores.
"""

from __future__ import annotations

import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select
from sqlalchemy.engine import make_url

from ledger.config import Settings
from ledger.decoding import micros_to_time
from ledger.reading import BoundedLog
from ledger.store import Ledger
from projections.db import database_url_of, engine_for, projection_url, reading
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
    with scratch_store(ledger, engine, settings) as scratch:
        # `rebuild`, not `catch_up`: the scratch store starts empty, so the read indexes are
        # built once at the end instead of kept up to date row by row.
        rebuild(BoundedLog(ledger, upto), scratch, progress=progress)
        differences = compare_rows(engine, scratch, known_us, at_head)
        differences += compare_figures(engine, scratch, settings, periods or [], micros_to_time(known_us))
    return {
        "ok": not differences,
        "known_at": micros_to_time(known_us),
        "events_replayed": upto,
        "compared": {"tables": len(projected_tables()), "periods": periods or []},
        "differences": differences[:1000],
        "difference_count": len(differences),
    }


@contextmanager
def scratch_store(ledger: Ledger, live: Engine, settings: Settings) -> Iterator[Engine]:
    """An empty store beside the live one, for the audit's rebuild, gone when the block ends
    (also when it fails).

    - Live store on PostgreSQL: a fresh schema of the same database (`SCRATCH_PREFIX` and random
      hex). Its rebuild is the live store's own: where the ledger's tables are named by a schema
      (`?schema=`), the activities and follow-ups fold in SQL in the database
      (`db.same_postgres_database`), and the rows are compared in SQL between the two schemas.
      (A ledger in the default search path is not visible from the scratch schema's: its
      rebuild folds them in Python.) The schema is dropped whole at the end.
    - Live store on SQLite: a SQLite file in a temporary folder; a SQLite ledger is attached to
      it, read-only, so its rebuild folds the activities and follow-ups in SQL as the live
      store's does (`projections.accel.in_store`)."""
    if live.dialect.name == "postgresql":
        with _scratch_schema(live, settings) as scratch:
            yield scratch
        return
    with tempfile.TemporaryDirectory(prefix="perfledger-audit-") as folder:
        scratch_settings = replace(settings, database_url=f"sqlite:///{Path(folder) / 'scratch.db'}")
        scratch = engine_for(
            scratch_settings, reads_ledger=None if ledger.is_postgres else ledger.settings.database_url
        )
        try:
            yield scratch
        finally:
            scratch.dispose()


SCRATCH_PREFIX = "perfledger_audit_"  # never `pg_`: PostgreSQL reserves those schema names


@contextmanager
def _scratch_schema(live: Engine, settings: Settings) -> Iterator[Engine]:
    name = f"{SCRATCH_PREFIX}{secrets.token_hex(6)}"
    url = make_url(database_url_of(live) or settings.database_url).update_query_dict({"schema": name})
    scratch = engine_for(replace(settings, database_url=url.render_as_string(hide_password=False)))
    made = False
    try:
        # made and dropped through the scratch store's own connections: the live store's are
        # only ever read through (they may be read-only)
        _on_its_own(scratch, f"CREATE SCHEMA {_quoted(scratch, name)}")
        made = True
        yield scratch
    finally:
        try:
            # a split rebuild's worker has ended (its block joins it) and the comparison's read
            # transaction with it: no connection holds a lock the DROP would wait for. Only the
            # schema made here: a CREATE that failed may have met another's of the same name.
            if made:
                _on_its_own(scratch, f"DROP SCHEMA {_quoted(scratch, name)} CASCADE")
        finally:
            scratch.dispose()


def _quoted(engine: Engine, name: str) -> str:
    """A schema's name as an identifier in SQL, quoted as the dialect quotes (SQLAlchemy's preparer)."""
    return engine.dialect.identifier_preparer.quote_identifier(name)


def _on_its_own(engine: Engine, statement: str) -> None:
    """One statement committed alone: the scratch schema's CREATE and DROP."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(statement)


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


Differ = Callable[[Table], tuple[list[tuple], list[tuple]]]


@contextmanager
def _row_differences(live: Engine, scratch: Engine, known_us: int, at_head: bool) -> Iterator[Differ]:
    """How to tell a table's differences, in SQL in one read transaction over both stores: on
    PostgreSQL the two schemas of one database; on SQLite the live file with the scratch file
    attached to it."""
    if live.dialect.name == "postgresql":
        with _postgres_differences(live, scratch, known_us, at_head) as differ:
            yield differ
        return
    live_path, scratch_path = _sqlite_file(live), _sqlite_file(scratch)
    assert live_path is not None and scratch_path is not None, "the audit compares SQLite stores in files"
    conn = sqlite3.connect(live_path, isolation_level=None, timeout=30)
    try:
        conn.execute("ATTACH DATABASE ? AS scratch", (scratch_path,))
        conn.execute("BEGIN")
        yield lambda table: (
            conn.execute(*_missing_sql(table, "main", "scratch", "?", "IS NOT", known_us, at_head)).fetchall(),
            conn.execute(*_missing_sql(table, "scratch", "main", "?", "IS NOT", known_us, at_head)).fetchall(),
        )
    finally:
        conn.close()


@contextmanager
def _postgres_differences(live: Engine, scratch: Engine, known_us: int, at_head: bool) -> Iterator[Differ]:
    """`_row_differences` on PostgreSQL: a REPEATABLE READ transaction of the live store's (one
    snapshot of both schemas), each table named by its schema. (With `jit` off, as the folds'
    writes run, the comparison at a million events was no faster: 1.30-1.63 s against
    1.14-1.35 s, alternating runs; left to the server's setting.)"""
    scratch_schema = projection_url(database_url_of(scratch) or "")[1]
    assert scratch_schema is not None, "a PostgreSQL scratch store is a schema of its own"
    with reading(live) as conn:
        live_schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        mine, theirs = _quoted(live, live_schema), _quoted(live, scratch_schema)

        def differ(table: Table) -> tuple[list[tuple], list[tuple]]:
            one = _missing_sql(table, mine, theirs, "%s", "IS DISTINCT FROM", known_us, at_head)
            other = _missing_sql(table, theirs, mine, "%s", "IS DISTINCT FROM", known_us, at_head)
            return (
                [tuple(row) for row in conn.exec_driver_sql(*one)],
                [tuple(row) for row in conn.exec_driver_sql(*other)],
            )

        yield differ


def _sqlite_file(engine: Engine) -> str | None:
    database = engine.url.database
    return database if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:") else None


SHOWN_PER_TABLE = 1000  # differing rows fetched per table and way (50 are reported)


def _missing_sql(
    table: Table, mine: str, other: str, mark: str, differs_by: str, known_us: int, at_head: bool
) -> tuple[str, tuple[int, ...]]:
    """The statement (and its parameters) of the rows of `table` in schema `mine` that schema
    `other` does not hold as they are: `mine`'s table joined to `other`'s on the primary key (a
    walk of both keys in order; `EXCEPT` sorted both whole tables each way, which was slower),
    a row kept when its key is missing there or any column differs (`differs_by`: SQLite's `IS
    NOT`, PostgreSQL's `IS DISTINCT FROM`: NULLs are equal, as in `EXCEPT`). `mark`: the
    driver's parameter mark."""
    keys = [column.name for column in table.primary_key.columns]
    assert keys, f"table {table.name} has no primary key to compare its rows by"
    columns = ", ".join(f'x."{column.name}"' for column in table.columns)
    joined = " AND ".join(f'x."{key}" = y."{key}"' for key in keys)
    differs = " OR ".join(f'x."{column.name}" {differs_by} y."{column.name}"' for column in table.columns)
    params: tuple[int, ...]
    if at_head:
        seen, kept, params = "", "", ()
    else:  # rows recorded by known_at, on both sides: a later row of the other is no match
        seen, kept, params = f" AND y.recorded_us <= {mark}", f" AND x.recorded_us <= {mark}", (known_us, known_us)
    return (
        f'SELECT {columns} FROM {mine}."{table.name}" AS x LEFT JOIN {other}."{table.name}" AS y '
        f"ON {joined}{seen} WHERE ({differs}){kept} LIMIT {SHOWN_PER_TABLE}",
        params,
    )


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
