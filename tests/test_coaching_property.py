"""Properties of the coaching record over random stories (hypothesis, SQLite).

A story is a run of coaching commands for two reps, one a day: plans set, reviewed (met, missed,
extended), trainings assigned and completed, many of them refused by the ledger (an unknown plan,
a second final review, a completion of an unknown or completed training). What the ledger took:

1. however the log is cut into projection batches, with stops in between, the people tables end
   up as one rebuild from position 0 makes them (accelerators on, and off: the plain path);
2. the coaching read agrees with a naive model of the accepted commands, replayed in order: a
   plan is open until met or missed, a training pending until completed.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from builders import ev, onboard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from projection_fixtures import FixedClock, accelerators, close_store, open_store, table_contents

from ledger.errors import InvalidBatch
from projections.queries.coaching import rep_coaching
from projections.runner import catch_up, rebuild

REPS = ("R-1", "R-2")
START = datetime.fromisoformat("2026-03-01T09:00:00+00:00")

commands = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(REPS), st.sampled_from(("IP-1", "IP-2")), st.integers(0, 20)),
    st.tuples(
        st.just("review"),
        st.sampled_from(REPS),
        st.sampled_from(("IP-1", "IP-2")),
        st.sampled_from(("met", "missed", "extended")),
    ),
    st.tuples(st.just("assign"), st.sampled_from(REPS), st.sampled_from(("TR-1", "TR-2")), st.integers(0, 20)),
    st.tuples(st.just("complete"), st.sampled_from(REPS), st.sampled_from(("TR-1", "TR-2")), st.just(0)),
)


def envelope(command: tuple, day: int) -> dict:
    kind, rep, item, extra = command
    when = START + timedelta(days=day)
    if kind == "set":
        return ev(
            "ImprovementPlanSet",
            when.isoformat(),
            improvement_plan_id=item,
            rep_id=rep,
            goals=["g"],
            trainings=[],
            review_by=(when + timedelta(days=extra)).isoformat(),
        )
    if kind == "review":
        more = {"next_review_by": (when + timedelta(days=7)).isoformat()} if extra == "extended" else {}
        return ev(
            "ImprovementPlanReviewed",
            when.isoformat(),
            improvement_plan_id=item,
            rep_id=rep,
            reviewer_id="manager:T-1",
            outcome=extra,
            **more,
        )
    if kind == "assign":
        return ev(
            "TrainingAssigned",
            when.isoformat(),
            training_id=item,
            rep_id=rep,
            training="course",
            gap="discovery",
            due_by=(when + timedelta(days=extra)).isoformat(),
            assigned_by="manager:T-1",
        )
    return ev("TrainingCompleted", when.isoformat(), rep_id=rep, training_id=item)


def model(accepted: list[tuple]) -> dict[str, tuple[dict[str, str], set[str]]]:
    """Each rep's plan statuses and pending trainings after the accepted commands, in order."""
    state: dict[str, tuple[dict[str, str], set[str]]] = {rep: ({}, set()) for rep in REPS}
    for kind, rep, item, extra in accepted:
        plans, pending = state[rep]
        if kind == "set":
            plans[item] = "open"
        elif kind == "review" and extra != "extended":
            plans[item] = extra
        elif kind == "assign":
            pending.add(item)
        elif kind == "complete":
            pending.discard(item)
    return state


@pytest.mark.parametrize("accelerated", [True, False], ids=["accelerated", "plain"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    story=st.lists(commands, min_size=1, max_size=30),
    batch_size=st.integers(1, 6),
    stops=st.lists(st.integers(1, 3), min_size=1, max_size=4),
)
def test_incremental_coaching_equals_a_rebuild_and_the_naive_model(accelerated, story, batch_size, stops):
    with tempfile.TemporaryDirectory() as folder, accelerators(accelerated):
        clock = FixedClock("2026-12-01T00:00:00+00:00")
        store = open_store(f"sqlite:///{Path(folder) / 'l.db'}", "UTC", clock)
        try:
            store.record(*(onboard(rep, "T-1", when="2026-01-01T09:00:00+00:00") for rep in REPS))
            accepted = []
            for day, command in enumerate(story):
                try:
                    store.record(envelope(command, day))
                except InvalidBatch:
                    continue
                accepted.append(command)
                if day % 3 == 0:
                    for stop in stops:
                        with contextlib.suppress(_Stop):
                            catch_up(store.ledger, store.engine, batch_size=batch_size, progress=_stop_after(stop))
            catch_up(store.ledger, store.engine, batch_size=batch_size)
            incremental = table_contents(store.engine)
            clock.set("2026-12-02T00:00:00+00:00")  # now: after every recording (each a µs after the last)
            for rep, (plans, pending) in model(accepted).items():
                read = rep_coaching(store.engine, store.settings, rep)
                statuses = {p["improvement_plan_id"]: p["status"] for p in read["open_plans"] + read["closed_plans"]}
                assert statuses == plans
                assert {t["training_id"] for t in read["trainings_pending"]} == pending
            rebuild(store.ledger, store.engine)
            assert table_contents(store.engine) == incremental
        finally:
            close_store(store)


class _Stop(Exception):
    pass


def _stop_after(batches: int):
    seen = []

    def progress(position: int, head: int) -> None:
        seen.append(position)
        if len(seen) >= batches:
            raise _Stop

    return progress
