"""Verifying the hash chain: every link recomputed from the one before it, stretches checked in
parallel by worker processes on a long log, a head an auditor wrote down checked to still be on
the chain. `Verifying` is the verifying half of `Ledger` (`ledger.store`)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass
from itertools import chain
from typing import Any

from psycopg import pq
from psycopg.rows import tuple_row
from psycopg.types.string import ByteaBinaryLoader

from ledger.chain import GENESIS, first_broken_link, first_broken_pair
from ledger.config import Settings
from ledger.gc_pause import paused_gc
from ledger.reading import LogReading
from ledger.resealing import Resealed, run_digest


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events_checked: int
    head: str
    first_bad_position: int | None
    message: str = ""
    extends_digest: bool | None = None


class Verifying(LogReading):
    """Recomputes the chain of the log it reads."""

    def verify(self, digest: str | None = None, *, page: int = 10_000, split: bool | None = None) -> VerifyReport:
        """Recompute the chain from the start; name the first position that does not match.

        With `digest` (a head an auditor wrote down earlier), also check that the log still
        passes through it: the log since then must extend that head, not rewrite it.

        Each link is checked against the link stored before it, so two stretches of the log can
        be checked at once: a log of VERIFY_SPLIT_FROM events or more (VERIFY_SPLIT_FROM_POSTGRES
        on PostgreSQL; or `split=True`) has its later stretch checked by a worker process. The
        report is the same as one pass's: the first position that fails, counting what matched
        before it.
        """
        head = self.head().position
        if split is None:
            split = head >= (VERIFY_SPLIT_FROM_POSTGRES if self.is_postgres else VERIFY_SPLIT_FROM)
        if split and head > 1:
            middle = head * 11 // 20  # a little more here, while the worker starts
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as worker:
                later = worker.submit(_check_in_worker, self.settings.database_url, middle, page, digest)
                first = self._check_stretch(GENESIS, 0, middle, page, digest)
                try:
                    second = later.result()
                except BrokenProcessPool:  # no worker could start here (no importable __main__): go on alone
                    second = self._check_stretch(self.link_at(middle) or GENESIS, middle, None, page, digest)
            stretches = [first, second]
        else:
            stretches = [self._check_stretch(GENESIS, 0, None, page, digest)]
        checked = 0
        for stretch in stretches:
            checked += stretch.checked
            if stretch.bad is not None:
                return self._bad(checked, stretch.link, stretch.bad, stretch.problem)
        previous = stretches[-1].link
        stray = self._count_events() - checked
        if stray:
            return self._bad(checked, previous, checked + 1, f"{stray} stored event(s) have no ledger entry")
        unattested = self._unattested_run()
        if unattested is not None:
            return self._bad(checked, previous, unattested[0], unattested[1])
        if digest is not None and digest != GENESIS and not any(s.saw_digest for s in stretches):
            return VerifyReport(
                False,
                checked,
                previous,
                None,
                "the log does not pass through the given digest: "
                "it was rewritten, or the digest is not from this ledger",
                False,
            )
        return VerifyReport(True, checked, previous, None, "", None if digest is None else True)

    def _check_stretch(self, previous: str, after: int, upto: int | None, page: int, digest: str | None) -> Stretch:
        """Positions after `after` (to `upto`, or to the end), each link recomputed from the one
        stored before it, `previous` being the link at `after`. On PostgreSQL, the entries and the
        events are read as two ranges while they line up (`_check_ranges`); the join reads on from
        wherever they do not, and on SQLite throughout."""
        resealed = self.resealed_hashes()
        if not (self.is_postgres and CHUNKED_ROWS):
            return self._check_joined(previous, after, upto, page, digest, resealed)
        ranged, finished = self._check_ranges(previous, after, upto, page, digest, resealed)
        if finished:
            return ranged
        joined = self._check_joined(ranged.link, after + ranged.checked, upto, page, digest, resealed)
        return Stretch(
            joined.link,
            ranged.checked + joined.checked,
            joined.bad,
            joined.problem,
            ranged.saw_digest or joined.saw_digest,
        )

    def _check_ranges(
        self, previous: str, after: int, upto: int | None, page: int, digest: str | None, resealed: dict[int, str]
    ) -> tuple[Stretch, bool]:
        """`_check_stretch` on PostgreSQL as two range reads, streamed in binary on two connections
        and zipped by notification id: the entries by position, the events by notification id.

        The joined read fetched each event through the index (a lookup per entry, its bytes as
        hex text), a page at a time while this process waited: at a million events verify ran at
        0.35 × a raw sha256 of the same bytes (docs/performance.md). Streamed, the server reads
        ahead while the links are hashed here. The ranges line up while entries take their
        events in notification-id order, as the recorder writes them. Where they stop lining up
        (an event stored behind the ledger's back is skipped; an entry or an event missing, ids
        out of order) the joined read is told to go on from there: (stretch so far, False)."""
        rec = self.recorder
        bounded = "" if upto is None else " AND position <= %s"
        last_id = None if upto is None else self._notification_id_at(upto)
        with rec.datastore.get_connection() as one, rec.datastore.get_connection() as other:
            entries_sql = (
                f"SELECT {_ENTRY_FIELDS} FROM {rec.entries_table} WHERE position > %s{bounded} ORDER BY position"
            )
            with closing(_streamed(one, entries_sql, (after,) if upto is None else (after, upto), page)) as entries:
                first = next(entries, None)  # started first: the events' read then sees every entry's event
                if first is None:
                    return Stretch(previous, 0, None, "", False), False  # nothing to line up: the join says why
                events_sql = (
                    f"SELECT notification_id, topic, originator_id, originator_version, state FROM {rec.events_table} "
                    f"WHERE notification_id >= %s{'' if last_id is None else ' AND notification_id <= %s'} "
                    "ORDER BY notification_id"
                )
                params = (first[8],) if last_id is None else (first[8], last_id)
                with closing(_streamed(other, events_sql, params, page)) as events, paused_gc():
                    return _walk_pairs(previous, events, chain((first,), entries), after + 1, resealed, digest)

    def _check_joined(
        self, previous: str, after: int, upto: int | None, page: int, digest: str | None, resealed: dict[int, str]
    ) -> Stretch:
        """`_check_stretch` through the join of entries and events, page by page."""
        checked, saw_digest = 0, False
        while upto is None or after < upto:
            with paused_gc():  # a page of rows at once: see ledger.gc_pause
                rows = self._chain_rows(after, page if upto is None else min(page, upto - after))
                if not rows:
                    break
                missing = _first_missing(rows, after + 1)
                checkable = rows if missing is None else rows[: missing - after - 1]
                previous, matched, broken = first_broken_link(previous, checkable, resealed)
                checked += matched
                if broken is not None:
                    return Stretch(
                        previous, checked, broken, f"position {broken} does not match its chain link", saw_digest
                    )
                if missing is not None:
                    return Stretch(
                        previous, checked, missing, f"position {missing} is missing from the log", saw_digest
                    )
                saw_digest = saw_digest or (digest is not None and any(row[7] == digest for row in rows))
                after = rows[-1][0]
        if upto is not None and after < upto:  # the stretch ends before its last position
            return Stretch(previous, checked, after + 1, f"position {after + 1} is missing from the log", saw_digest)
        return Stretch(previous, checked, None, "", saw_digest)

    def _notification_id_at(self, position: int) -> int | None:
        rows = self._query(
            f"SELECT notification_id FROM {self.recorder.entries_table} WHERE position = {{p}}", None, (position,)
        )
        return rows[0][0] if rows else None

    @staticmethod
    def _bad(checked: int, head: str, position: int, message: str) -> VerifyReport:
        return VerifyReport(False, checked, head, position, message + "; the log was altered after it was written")

    def _chain_rows(self, after: int, limit: int) -> list[tuple]:
        return self._query(
            "SELECT l.position, l.recorded_at, l.type, l.rep_id, l.actor, l.event_id, l.content_hash, l.link, "
            "e.topic, e.originator_id, e.originator_version, e.state "
            f"FROM {self._events_join()} WHERE l.position > {{p}} ORDER BY l.position LIMIT {int(limit)}",
            None,
            (after,),
        )

    def resealed_hashes(self) -> dict[int, str]:
        """Positions resealed in place → the sha256 of the bytes they hold (`ledger/resealing.py`)."""
        return dict(self._query(f"SELECT position, sealed_sha256 FROM {self.recorder.resealed_table}", None))

    def _unattested_run(self) -> tuple[int, str] | None:
        """A resealing run whose rows do not match the digest of its PersonalDataResealed event
        (its first position and why), or None when every run is attested."""
        rows = self._query(
            f"SELECT run, position, original_sha256, sealed_sha256 FROM {self.recorder.resealed_table}", None
        )
        runs: dict[str, list[Resealed]] = {}
        for run, position, original, sealed in rows:
            runs.setdefault(run, []).append(Resealed(position, original, sealed))
        if not runs:
            return None
        attested = {r.data["run"]: r.data["digest"] for r in self.read_log(0, 10_000, types=["PersonalDataResealed"])}
        for run, resealed in sorted(runs.items()):
            if attested.get(run) != run_digest(resealed):
                first = min(r.position for r in resealed)
                return first, f"the events resealed by run {run} do not match its attestation"
        return None

    def _count_events(self) -> int:
        """Stored events, chained or not. Every entry names a distinct event (notification_id is
        unique) and verify has found each one's event, so any count above the entries checked
        is events stored behind the ledger's back, with no entry and no link."""
        return self._query(f"SELECT COUNT(*) FROM {self.recorder.events_table}", None)[0][0]


def _walk_pairs(
    previous: str,
    events: Iterator[tuple],
    entries: Iterator[tuple],
    expected: int,
    resealed: dict[int, str],
    digest: str | None,
) -> tuple[Stretch, bool]:
    """Zip the two reads (`first_broken_pair`) past events stored behind the ledger's back (no
    entry names them: `verify` counts them at the end). (stretch, True) when done or broken;
    (stretch so far, False) where only the join can tell what is wrong."""
    link, checked, saw = previous, 0, False
    events_read, entries_read = events, entries
    while True:
        walk = first_broken_pair(link, events, entries, expected, resealed, digest)
        link, checked, saw = walk.link, checked + walk.checked, saw or walk.saw_digest
        expected += walk.checked
        if walk.broken is not None:
            problem = f"position {walk.broken} does not match its chain link"
            return Stretch(link, checked, walk.broken, problem, saw), True
        entry, event = walk.entry, walk.event
        if entry is None:  # one read ran out: the events (no entry taken), or the entries (done)
            entry, event = next(entries, None), None
            if entry is None:
                return Stretch(link, checked, None, "", saw), True
        if event is None or entry[0] != expected or event[0] > entry[8]:
            return Stretch(link, checked, None, "", saw), False  # a gap, an event missing or out of order
        for event in events:  # events with no entry, before this entry's
            if event[0] >= entry[8]:
                break
        else:
            return Stretch(link, checked, None, "", saw), False  # this entry's event is missing
        # Both rows taken back in front of their reads (of the reads themselves, not of the last
        # chains: every row those held is taken, and chains of chains would nest once per stray).
        events, entries = chain((event,), events_read), chain((entry,), entries_read)


def _streamed(conn: Any, sql: str, params: tuple, page: int) -> Generator[tuple, None, None]:
    """A query's rows in binary, fetched from the server in chunks while they are used (libpq's
    chunked rows): a bytea as its bytes (not hex text to decode), a uuid as its 16 bytes (by the
    driver's C loader for bytea: a UUID object made per event, or a loader of our own called
    per event, cost as much as hashing it)."""
    cursor = conn.cursor(row_factory=tuple_row, binary=True)
    cursor.adapters.register_loader("uuid", ByteaBinaryLoader)
    return cursor.stream(sql, params, binary=True, size=min(page, STREAM_CHUNK))


_ENTRY_FIELDS = "position, recorded_at, type, rep_id, actor, event_id, content_hash, link, notification_id"
STREAM_CHUNK = 2_000  # rows a chunk: a few hundred kB, the server reading ahead meanwhile
CHUNKED_ROWS = pq.version() >= 170_000  # libpq 17 streams rows in chunks; row by row would be slower than the join


def _first_missing(rows: list[tuple], expected: int) -> int | None:
    """The first position absent from a page that should run gap-free from `expected`: no entry,
    or an entry whose event is gone (the join found no topic). None when the page is whole."""
    if rows[0][0] == expected and rows[-1][0] == expected + len(rows) - 1 and all(row[8] is not None for row in rows):
        return None  # positions are unique and ordered, so first and last pin every one between
    for offset, row in enumerate(rows):
        if row[0] != expected + offset:
            return expected + offset
        if row[8] is None:
            return row[0]
    return None


VERIFY_SPLIT_FROM = 200_000  # events: below this, a worker process costs more to start than it saves
# On PostgreSQL the range reads check ~2.5 × faster than the join did, and the server's own
# process reads ahead on the second core: below a million events the worker's start (a fresh
# interpreter importing the ledger, its own pool) costs more than its half saves.
VERIFY_SPLIT_FROM_POSTGRES = 1_000_000


@dataclass(frozen=True)
class Stretch:
    """What checking a stretch of the chain found: the last link that matched, how many matched,
    the first position that did not (None: all did) and why, and whether a given digest was seen."""

    link: str
    checked: int
    bad: int | None
    problem: str
    saw_digest: bool


def _check_in_worker(database_url: str, after: int, page: int, digest: str | None) -> Stretch:
    """The later stretch of a split `verify`, in a worker process: from `after` to the end."""
    from ledger.store import Ledger  # the whole ledger, opened in the worker process

    ledger = Ledger(Settings(database_url=database_url))
    try:
        previous = ledger.link_at(after) or GENESIS  # a missing entry there is the first stretch's finding
        return ledger._check_stretch(previous, after, None, page, digest)
    finally:
        ledger.close()
