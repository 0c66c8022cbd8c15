"""The audit rebuild: project the raw log, up to a knowledge time, into a scratch store from
nothing, and compare it with the live projections. Every difference is reported, not hidden.

Two comparisons: row by row, every projected table (at the head: all rows; at an earlier
knowledge time: the rows of the append-only tables recorded by then — fold-state tables hold
the latest state and only compare at the head); and figure by figure, the KPIs of the company,
every region and every team for the periods asked, and every rep's payout, each read with the
same cut-offs from both stores.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select

from ledger.config import Settings
from ledger.gc_pause import paused_gc
from ledger.store import BoundedLog, Ledger, micros_to_time

from projections.cutoffs import aware_micros, now_micros
from projections.db import engine_for, reading
from projections.kpis import kpis
from projections.payouts import period_payouts
from projections.runner import catch_up, projected_tables, rebuild
from projections.tables import memberships


def audit(ledger: Ledger, engine: Engine, settings: Settings, known_at: datetime | None = None,
          periods: list[str] | None = None, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    catch_up(ledger, engine)
    known_us = now_micros() if known_at is None else aware_micros(known_at, "known_at")
    upto = ledger.position_at(known_us)
    at_head = upto == ledger.head().position
    with tempfile.TemporaryDirectory(prefix="perfledger-audit-") as folder:
        scratch_settings = Settings(database_url=f"sqlite:///{Path(folder) / 'scratch.db'}",
                                    tz_name=settings.tz_name, currency=settings.currency)
        scratch = engine_for(scratch_settings)
        try:
            # `rebuild`, not `catch_up`: the scratch store starts empty, so the read indexes are
            # built once at the end instead of kept up to date row by row.
            rebuild(BoundedLog(ledger, upto), scratch, progress=progress)
            differences = compare_rows(engine, scratch, known_us, at_head)
            differences += compare_figures(engine, scratch, settings, periods or [], micros_to_time(known_us))
        finally:
            scratch.dispose()
    return {"ok": not differences, "known_at": micros_to_time(known_us), "events_replayed": upto,
            "compared": {"tables": len(projected_tables()), "periods": periods or []},
            "differences": differences[:1000], "difference_count": len(differences)}


def compare_rows(live: Engine, scratch: Engine, known_us: int, at_head: bool) -> list[dict[str, Any]]:
    differences = []
    for table in projected_tables():
        if not at_head and "recorded_us" not in table.c:
            continue
        mine, theirs = _rows(live, table, known_us, at_head), _rows(scratch, table, known_us, at_head)
        for row in sorted(mine - theirs, key=repr)[:50]:
            differences.append({"table": table.name, "row": list(row), "problem": "in the live projection, not in the rebuild"})
        for row in sorted(theirs - mine, key=repr)[:50]:
            differences.append({"table": table.name, "row": list(row), "problem": "in the rebuild, not in the live projection"})
    return differences


def _rows(engine: Engine, table: Table, known_us: int, at_head: bool) -> set[tuple]:
    query = select(table)
    if not at_head:
        query = query.where(table.c.recorded_us <= known_us)
    with reading(engine) as conn, paused_gc():  # a table's rows at once: see ledger.gc_pause
        return {tuple(row) for row in conn.execute(query)}


def compare_figures(live: Engine, scratch: Engine, settings: Settings, periods: list[str],
                    known_at: datetime) -> list[dict[str, Any]]:
    differences = []
    for period in periods:
        for scope in _scopes(scratch):
            mine, theirs = kpis(live, settings, scope, period, known_at=known_at), kpis(scratch, settings, scope, period, known_at=known_at)
            differences += [{"period": period, "scope": scope, "figure": name, "live": mine[name], "rebuild": theirs[name]}
                            for name in mine if mine[name] != theirs.get(name)]
        mine_payouts = {p.rep_id: p for p in period_payouts(live, settings, period, known_at=known_at)}
        for rebuilt in period_payouts(scratch, settings, period, known_at=known_at):
            original = mine_payouts.get(rebuilt.rep_id)
            if original is None or original.digest != rebuilt.digest:
                differences.append({"period": period, "scope": f"rep:{rebuilt.rep_id}", "figure": "payout",
                                    "live": None if original is None else original.total, "rebuild": rebuilt.total})
    return differences


def _scopes(engine: Engine) -> list[str]:
    m = memberships.c
    with reading(engine) as conn:
        teams = sorted({t for t in conn.execute(select(m.team_id).distinct()).scalars() if t})
        regions = sorted({r for r in conn.execute(select(m.region).distinct()).scalars() if r})
    return ["company", *[f"region:{r}" for r in regions], *[f"team:{t}" for t in teams]]
