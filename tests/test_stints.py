"""A rep's stints (membership.py): walked from its membership rows, each change of team or region
starting a new stint, a row naming neither carrying the last ones named; a rep with one row
(hired once, never moved, as most are) read at once, as the walk would read it."""

from __future__ import annotations

from typing import NamedTuple

from hypothesis import given
from hypothesis import strategies as st

from projections.queries.membership import EARLIEST, LATEST, Stint, _stints_of_rep, _stints_of_rows


class Row(NamedTuple):  # a memberships row, as `stints` selects it
    rep_id: str
    occurred_us: int
    team_id: str | None
    region: str | None
    recorded_us: int = 0


def test_a_rep_hired_once_has_one_stint_from_the_first_instant_to_the_last():
    assert _stints_of_rows([Row("R-1", 100, "T-1", "East")]) == [Stint("R-1", EARLIEST, LATEST, "T-1", "East")]


def test_a_move_starts_a_stint_and_a_row_naming_no_region_keeps_the_last_one():
    rows = [Row("R-1", 100, "T-1", "East"), Row("R-1", 500, "T-2", None), Row("R-2", 300, "T-3", "West")]
    assert _stints_of_rows(rows) == [
        Stint("R-1", EARLIEST, 500, "T-1", "East"),
        Stint("R-1", 500, LATEST, "T-2", "East"),
        Stint("R-2", EARLIEST, LATEST, "T-3", "West"),
    ]


rows_of_a_rep = st.lists(
    st.tuples(
        st.integers(0, 50), st.sampled_from([None, "", "T-1", "T-2"]), st.sampled_from([None, "", "East", "West"])
    ),
    min_size=1,
    max_size=4,
)


@given(st.lists(rows_of_a_rep, min_size=1, max_size=5))
def test_every_reps_stints_are_its_own_rows_walked(reps):
    rows = [
        Row(f"R-{i}", occurred, team, region)
        for i, found in enumerate(reps)
        for occurred, team, region in sorted(found, key=lambda row: row[0])
    ]
    walked = [stint for i in range(len(reps)) for stint in _stints_of_rep([r for r in rows if r.rep_id == f"R-{i}"])]
    assert _stints_of_rows(rows) == walked
