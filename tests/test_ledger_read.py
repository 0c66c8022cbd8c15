"""Reading the log a page at a time, filtered by type and by rep: every page is the next run of
matching events in position order, whatever the filter, the page size or the store."""

from __future__ import annotations

import orjson
import pytest
from builders import GENERATED_UNTIL

from demo.generator import generate
from ledger.decoding import _reading_of, decoded
from ledger.reading import _MAX_WALKS
from ledger.transcoder import untag


@pytest.fixture
def busy(ledger):
    envelopes = list(generate(1500, seed=11, now=GENERATED_UNTIL))
    for start in range(0, len(envelopes), 250):
        ledger.record(envelopes[start : start + 250], "seed")
    return ledger


def paged(ledger, limit, walk=True, **filters):
    """Every event the filters let through, read `limit` at a time from the start."""
    found, after = [], 0
    while page := decoded(ledger.read_stored(after, limit, walk=walk, **filters)):
        assert len(page) <= limit
        found += page
        after = page[-1].position
    return [(r.position, r.type, r.rep_id) for r in found]


def test_filtered_pages_are_the_matching_events_in_order(busy):
    everything = [(r.position, r.type, r.rep_id) for r in busy.read_log(0, 10_000)]
    types = sorted({t for _, t, _ in everything})
    reps = sorted({rep for _, _, rep in everything if rep})
    common = max(types, key=lambda t: sum(1 for _, kind, _ in everything if kind == t))
    cases = [
        {"types": [common]},
        {"types": types[:3]},
        {"types": [common, "PeriodClosed"]},  # one type that never occurs
        {"rep_ids": reps[:2]},
        {"types": types[:4], "rep_ids": reps[:5]},
        {"rep_ids": reps[: _MAX_WALKS + 1]},  # more reps than index walks: a scan by position
        {"types": types, "rep_ids": reps[:1]},
    ]
    for filters in cases:
        wanted = [
            row
            for row in everything
            if ("types" not in filters or row[1] in filters["types"])
            and ("rep_ids" not in filters or row[2] in filters["rep_ids"])
        ]
        assert wanted, filters  # each case reads something
        for limit in (7, 100, 5000):
            for walk in (True, False):  # index walks merged, or a scan by position
                assert paged(busy, limit, walk, **filters) == wanted, (filters, limit, walk)


def test_a_filtered_page_stops_at_upto(busy):
    head = busy.head().position
    upto = head // 2
    page = busy.read_log(0, 10_000, upto=upto, types=["ActivityLogged"])
    assert page and page[-1].position <= upto
    assert [r.position for r in page] == [
        r.position for r in busy.read_log(0, 10_000, types=["ActivityLogged"]) if r.position <= upto
    ]


def test_a_page_read_without_details_is_the_same_page_without_the_entry_s_rep_actor_and_event_id(busy):
    full = busy.read_stored(0, 10_000, types=["ActivityLogged", "DealWon"])
    bare = busy.read_stored(0, 10_000, types=["ActivityLogged", "DealWon"], details=False)
    assert any(row[3] for row in full) and any(row[4] for row in full)  # the details are there to leave out
    assert bare == [(*row[:3], None, None, None, *row[6:]) for row in full]


def test_every_event_reads_the_same_whether_or_not_its_fields_are_walked_for_tags(busy):
    # Events whose fields are all plain values (an activity) skip the walk for tagged values; the
    # rest (a won deal's Decimal amount) are walked. Either way the record holds what a full
    # decode of the stored bytes holds.
    stored = busy.read_stored(0, 10_000)
    readings = {row[6]: _reading_of(row[6]) for row in stored}
    assert {r.public for r in readings.values() if not r.tagged} >= {"ActivityLogged", "LeadCreated"}
    assert {r.public for r in readings.values() if r.tagged} >= {"DealWon", "TargetSet"}
    for row, record in zip(stored, decoded(stored), strict=True):
        values = untag(orjson.loads(row[7]))
        assert record.occurred_at == values.pop("occurred_at"), row
        # A class version is the stored event's, not its data (TargetSet is at version 2).
        meta = ("originator_topic", "timestamp", "class_version")
        assert record.data == {k: v for k, v in values.items() if k not in meta}, row


def test_knowledge_spans_are_the_first_and_last_knowledge_time_of_each_block_of_a_stretch(busy):
    entries = [(r.position, r.recorded_at) for r in busy.read_log(0, 10_000)]
    head = entries[-1][0]
    for after, upto, bits in (
        (0, head, 4),
        (0, head, 12),
        (5, 6, 4),
        (15, 16, 4),
        (16, 47, 4),
        (100, 99, 4),
        (head - 3, head, 2),
        (37, 1000, 5),
    ):
        expected: dict[int, list[int]] = {}
        for position, recorded_at in entries:
            if after < position <= upto:
                span = expected.setdefault(position >> bits, [recorded_at, recorded_at])
                span[1] = recorded_at
        assert busy.knowledge_spans(after, upto, bits) == [(b, *span) for b, span in sorted(expected.items())], (
            after,
            upto,
        )
