"""The hash chain: each entry's link is sha256 of the previous link and the entry's bytes.

Changing one byte of one stored event, deleting a row or swapping two rows changes every link
from that position on, so `verify` names the first position that no longer matches. A head
digest written down by an auditor (or sealed into `PeriodClosed`) can later be checked: the log
since then must extend it, not rewrite it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

import orjson

GENESIS = "0" * 64


def link_of(
    previous: str, entry_head: tuple, topic: str, originator_hex: str, originator_version: int, state: bytes
) -> str:
    # A JSON array is unambiguous: no choice of field values can shift bytes between fields.
    # (orjson writes a tuple as the same array; one sha256 over the joined bytes is the same
    # digest as three updates, with two method calls fewer per event.)
    header = _dumps((*entry_head, topic, originator_hex, originator_version))
    return _sha256(b"".join((previous.encode(), header, state))).hexdigest()


_dumps = orjson.dumps
_sha256 = hashlib.sha256


def uuid_hex(originator_id: object) -> str:
    """The 32 lowercase hex digits of a stream id, as the chain hashes them.

    `UUID(str(x)).hex` is the definition. A 32-character string (the form SQLite stores) is
    taken as it is, unparsed: written by the recorder from `UUID.hex`, it is that form, and a
    stored id altered into anything else no longer hashes to its link, so verify finds it.
    """
    if type(originator_id) is str and len(originator_id) == 32:
        return originator_id
    return originator_id.hex if isinstance(originator_id, UUID) else UUID(str(originator_id)).hex


def first_broken_link(
    previous: str, rows: Iterable[tuple], resealed: dict[int, str] | None = None
) -> tuple[str, int, int | None]:
    """Check stored links against their entries: each recomputed from the link stored before it.

    `rows`: (position, recorded_at, type, rep_id, actor, event_id, content_hash, link, topic,
    originator_id, originator_version, state) in position order, gap-free, every event present
    (the caller checks that). Returns the last good link, the number of rows that matched, and
    the position of the first that did not (None if all did). `link_of`, inlined: this is the
    loop `verify` spends its time in.

    `resealed`: positions whose bytes were resealed in place (`ledger/resealing.py`) → the sha256
    their bytes must have now; their stored link is taken as it is, and the next one chains on it.
    """
    checked = 0
    for (
        position,
        recorded_at,
        type_,
        rep_id,
        actor,
        event_id,
        chash,
        link,
        topic,
        originator_id,
        version,
        state,
    ) in rows:
        if resealed and position in resealed:
            if _sha256(state).hexdigest() != resealed[position]:
                return previous, checked, position
            previous = link
            checked += 1
            continue
        if type(originator_id) is not str or len(originator_id) != 32:
            originator_id = uuid_hex(originator_id)
        header = _dumps((position, recorded_at, type_, rep_id, actor, event_id, chash, topic, originator_id, version))
        if _sha256(b"".join((previous.encode(), header, state))).hexdigest() != link:
            return previous, checked, position
        previous = link
        checked += 1
    return previous, checked, None


@dataclass(frozen=True)
class PairedWalk:
    """How far `first_broken_pair` got: the last good link, the rows that matched, the position
    whose link did not match (None: none), the entry and the event at which the two reads stopped
    lining up (both None: a read ran out), and whether a given digest was among the links."""

    link: str
    checked: int
    broken: int | None
    entry: tuple | None
    event: tuple | None
    saw_digest: bool


def first_broken_pair(
    previous: str,
    events: Iterable[tuple],
    entries: Iterable[tuple],
    expected: int,
    resealed: dict[int, str],
    digest: str | None,
) -> PairedWalk:
    """`first_broken_link` over two reads zipped, rather than one joined (`verify` on PostgreSQL).

    `entries`: (position, recorded_at, type, rep_id, actor, event_id, content_hash, link,
    notification_id) by position from `expected`; `events`: (notification_id, topic,
    originator_id as its 16 bytes, originator_version, state) by notification_id. Walks while
    both line up (the same notification id, positions gap-free) and every link matches; where
    they stop lining up, the caller decides why (an event stored behind the ledger's back, one
    missing, an entry missing). `events` comes first in the zip: when it runs out, no entry has
    been taken (the caller reads on from `entries` to tell whether one was left without event).
    """
    checked, saw = 0, False
    for event, entry in zip(events, entries):  # noqa: B905 (stops at the shorter read: the caller looks on)
        position, recorded_at, type_, rep_id, actor, event_id, chash, link, nid = entry
        notification_id, topic, originator_id, version, state = event
        if nid != notification_id or position != expected:
            return PairedWalk(previous, checked, None, entry, event, saw)
        if resealed and position in resealed:
            if _sha256(state).hexdigest() != resealed[position]:
                return PairedWalk(previous, checked, position, None, None, saw)
        else:
            header = _dumps(
                (position, recorded_at, type_, rep_id, actor, event_id, chash, topic, originator_id.hex(), version)
            )
            if _sha256(b"".join((previous.encode(), header, state))).hexdigest() != link:
                return PairedWalk(previous, checked, position, None, None, saw)
        saw = saw or link == digest
        previous = link
        checked += 1
        expected += 1
    return PairedWalk(previous, checked, None, None, None, saw)
