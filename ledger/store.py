"""The ledger: an eventsourcing Application whose one way in is `record(events, actor)`.

A batch is validated whole (every problem reported with its event index), checked against the
aggregates it touches, and appended in one transaction with its ledger entries (position,
knowledge time, actor, idempotency key, hash-chain link) — or not at all.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import UnionType
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Transcoder
from eventsourcing.utils import resolve_topic
from psycopg.rows import tuple_row
from sqlalchemy.engine import make_url

from ledger.aggregates import Created, Happened, public_type
from ledger.chain import GENESIS, first_broken_link
from ledger.commands import HANDLERS, UnitOfWork, touched_streams
from ledger.config import Settings, settings_from_env
from ledger.errors import ConflictError, InvalidBatch, RuleViolation
from ledger.gc_pause import paused_gc
from ledger.recorder import EntryMeta
from ledger.schemas import Command, Problem, parse_batch
from ledger.transcoder import OrjsonTranscoder, canonical, untag

MAX_BATCH = 10_000


class LedgerApplication(Application):
    name = "perfledger"

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()


def store_environment(database_url: str) -> dict[str, str]:
    """The eventsourcing environment for a SQLAlchemy-style database URL."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError(
                "PERFLEDGER_DATABASE_URL: an in-memory SQLite store cannot be shared; use a file, e.g. sqlite:///perfledger.db"
            )
        return {
            "PERSISTENCE_MODULE": "ledger.recorder:LedgerSQLiteFactory",
            "SQLITE_DBNAME": url.database,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    if url.get_backend_name() == "postgresql":
        return {
            "PERSISTENCE_MODULE": "ledger.recorder:LedgerPostgresFactory",
            "POSTGRES_DBNAME": url.database or "postgres",
            "POSTGRES_HOST": url.host or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            "POSTGRES_SCHEMA": str(url.query.get("schema", "") or ""),
            "POSTGRES_LOCK_TIMEOUT": "30",
            "POSTGRES_POOL_SIZE": "4",
        }
    raise ValueError(
        f"PERFLEDGER_DATABASE_URL: unsupported database {url.get_backend_name()!r}; use sqlite:///FILE or postgresql://USER@HOST/DB"
    )


@dataclass(slots=True)
class LogRecord:
    """One event as the read side sees it: entry metadata plus the decoded fact.

    Read-only by convention, not `frozen`: a frozen dataclass's __init__ measured 6× slower
    (1.26 µs against 0.21 µs), paid once per event on every rebuild, and its `data` dict could
    be mutated anyway. Nothing writes to a record after `to_log_record` made it.
    """

    position: int
    recorded_at: int  # microseconds since the epoch, UTC
    type: str
    rep_id: str | None
    actor: str
    event_id: str | None
    occurred_at: datetime | None  # None only for an entry whose event is missing (`verify` names it)
    data: dict[str, Any]

    @property
    def recorded_at_time(self) -> datetime:
        return micros_to_time(self.recorded_at)


def micros_to_time(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def time_to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a naive time has no place in the ledger: give a zone")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Head:
    position: int
    link: str


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events_checked: int
    head: str
    first_bad_position: int | None
    message: str = ""
    extends_digest: bool | None = None


@dataclass
class Recorded:
    """The answer to a batch: the position of every event, and which were already recorded."""

    positions: list[int]
    duplicates: list[int] = field(default_factory=list)  # indexes answered from an earlier append


class Ledger:
    """The write side and the raw log; projections read the log through `read_log`."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or settings_from_env()
        self.app = LedgerApplication(env=store_environment(self.settings.database_url))
        self.recorder: Any = self.app.recorder
        self._known_reps: set[str] = set()
        self.is_postgres = make_url(self.settings.database_url).get_backend_name() == "postgresql"

    def close(self) -> None:
        self.app.close()

    # ------------------------------------------------------------ writing

    def record(self, envelopes: Sequence[object], actor: str, *, system: bool = False) -> Recorded:
        """Validate and append a batch atomically; raise InvalidBatch or ConflictError otherwise."""
        if not envelopes:
            raise InvalidBatch([Problem(0, "events", "a batch needs at least one event")])
        if len(envelopes) > MAX_BATCH:
            raise InvalidBatch(
                [Problem(MAX_BATCH, "events", f"a batch holds at most {MAX_BATCH} events; split the file")]
            )
        commands, problems = parse_batch(list(envelopes), currency=self.settings.currency, system=system)
        if problems:
            raise InvalidBatch(problems)
        hashes = [content_hash(c) for c in commands]
        known, fresh, self_duplicates = self._split_known(commands, hashes)
        if not fresh:
            return Recorded([known[c.index] for c in commands], sorted(known))
        uow = self._handle(fresh)
        metas = [
            EntryMeta(c.type, rep_id, c.event_id, hashes[c.index])
            for c, rep_id in zip(fresh, uow.rep_of_event, strict=True)
        ]
        try:
            # The event store directly, with the facts in command order (Application.save would
            # order them by aggregate); nothing here is snapshotted or notified in-process.
            positions = self.app.events.put(uow.events, entries=metas, actor=actor)
        except IntegrityError as error:
            # A racing writer appended to one of these streams, or used one of these event_ids.
            known_now, _, _ = self._split_known(commands, hashes)
            if known_now and len(known_now) == len(commands):
                return Recorded([known_now[c.index] for c in commands], sorted(known_now))
            raise ConflictError(
                "another writer changed the same deal, rep or stream at the same time; "
                "nothing was recorded: reload and retry (an event_id makes the retry safe)"
            ) from error
        self._known_reps.update(rep.rep_id for rep in uow.aggregates.values() if type(rep).__name__ == "Rep")
        by_index = dict(known)
        by_index.update({c.index: r.notification.id for c, r in zip(fresh, positions, strict=True)})
        by_index.update({i: by_index[first] for i, first in self_duplicates.items()})
        return Recorded([by_index[c.index] for c in commands], sorted([*known, *self_duplicates]))

    def check(self, envelopes: Sequence[object], *, system: bool = False) -> list[Problem]:
        """A dry run of `record`: every problem the batch would be refused for; nothing is written.

        The answer holds for the log as it is now; a writer in between can still change it.
        """
        commands, problems = parse_batch(list(envelopes), currency=self.settings.currency, system=system)
        if problems:
            return problems
        hashes = [content_hash(c) for c in commands]
        try:
            _, fresh, _ = self._split_known(commands, hashes)
            self._handle(fresh)
        except ConflictError as conflict:
            return conflict.problems
        except InvalidBatch as invalid:
            return invalid.problems
        return []

    def _split_known(
        self, commands: list[Command], hashes: list[str]
    ) -> tuple[dict[int, int], list[Command], dict[int, int]]:
        """Events whose event_id is already in the log (same content → original position)."""
        ids = [c.event_id for c in commands if c.event_id is not None]
        recorded = self.entries_by_event_id(ids) if ids else {}
        known: dict[int, int] = {}
        fresh: list[Command] = []
        first_in_batch: dict[str, Command] = {}
        self_duplicates: dict[int, int] = {}  # index → index of its first copy in this batch
        conflicts: list[Problem] = []
        for command in commands:
            key = command.event_id
            if key is not None and key in recorded:
                position, stored_hash = recorded[key]
                if stored_hash == hashes[command.index]:
                    known[command.index] = position
                else:
                    conflicts.append(
                        Problem(
                            command.index,
                            "event_id",
                            f"event_id {key!r} was recorded at position {position} with other content",
                        )
                    )
                continue
            if key is not None and key in first_in_batch:
                if hashes[first_in_batch[key].index] != hashes[command.index]:
                    conflicts.append(
                        Problem(
                            command.index,
                            "event_id",
                            f"event_id {key!r} appears twice in this batch with other content",
                        )
                    )
                self_duplicates[command.index] = first_in_batch[key].index
                continue  # the same event twice in one batch is recorded once
            if key is not None:
                first_in_batch[key] = command
            fresh.append(command)
        if conflicts:
            raise ConflictError(
                f"{len(conflicts)} event_id(s) reused with other content; nothing was recorded", conflicts
            )
        return known, fresh, self_duplicates

    def _handle(self, commands: list[Command]) -> UnitOfWork:
        uow = UnitOfWork(self._load_streams, self._known_reps)
        uow.preload(sid for c in commands for sid in touched_streams(c, self._known_reps))
        problems = []
        for command in commands:
            try:
                aggregate, rep_id = HANDLERS[command.type](uow, command)
            except RuleViolation as violation:
                problems.append(Problem(command.index, violation.field, violation.message))
            else:
                uow.take_event(aggregate, rep_id)
            uow.event_ids.append(command.event_id)
        if problems:
            raise InvalidBatch(problems)
        return uow

    def _load_streams(self, ids: list[UUID]) -> dict[UUID, Aggregate]:
        loaded: dict[UUID, Aggregate] = {}
        for sid, stored in self.recorder.select_streams(ids).items():
            aggregate = None
            for event in map(self.app.mapper.to_domain_event, stored):
                aggregate = event.mutate(aggregate)
            loaded[sid] = aggregate
            if type(aggregate).__name__ == "Rep":
                self._known_reps.add(aggregate.rep_id)
        return loaded

    # ------------------------------------------------------------ reading the raw log

    def entries_by_event_id(self, event_ids: list[str]) -> dict[str, tuple[int, str]]:
        rows = self._query(
            f"SELECT event_id, position, content_hash FROM {self.recorder.entries_table} WHERE event_id IN ({{in}})",
            event_ids,
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def read_log(
        self,
        after: int = 0,
        limit: int = 1000,
        *,
        upto: int | None = None,
        types: Sequence[str] | None = None,
        rep_ids: Sequence[str] | None = None,
    ) -> list[LogRecord]:
        """Events with position > after (and <= upto), optionally of some types or reps, in order."""
        return decoded(self.read_stored(after, limit, upto=upto, types=types, rep_ids=rep_ids))

    def read_stored(
        self,
        after: int = 0,
        limit: int = 1000,
        *,
        upto: int | None = None,
        types: Sequence[str] | None = None,
        rep_ids: Sequence[str] | None = None,
        walk: bool = True,
        details: bool = True,
    ) -> list[StoredEvent]:
        """`read_log`'s page as stored, for a reader that decodes it a part at a time (`decoded`):
        a bulk reader keeps only a few thousand decoded events alive at once, which is faster
        (fresh objects are made in memory the last part's have just freed, still in the CPU's cache).

        `walk=False`: filter by scanning positions rather than walking the filter's indexes
        (cheaper when the filter keeps a tenth of the log or more: see `_log_rows`).
        `details=False`: the entry's rep, actor and event id come as None, for a reader that
        never looks at them (a projection's fold reads the event's own data): three strings
        fewer made per event (measured: a million-event page read 0.3 s faster)."""
        return self._log_rows(after, limit, upto, types, rep_ids, walk, details)

    def events_at(self, positions: Sequence[int]) -> list[LogRecord]:
        """The events at the given positions (an explanation's evidence), in position order."""
        wanted = sorted(set(positions))
        found: list[LogRecord] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._query(
                "SELECT l.position, l.recorded_at, l.type, l.rep_id, l.actor, l.event_id, e.topic, e.state "
                f"FROM {self._events_join()} WHERE l.position IN ({{in}}) ORDER BY l.position",
                chunk,
            )
            found.extend(to_log_record(*row) for row in rows)
        return found

    def iter_log(self, after: int = 0, *, upto: int | None = None, page: int = 5000) -> Iterator[LogRecord]:
        while True:
            records = self.read_log(after, page, upto=upto)
            if not records:
                return
            yield from records
            after = records[-1].position

    def head(self) -> Head:
        rows = self._query(
            f"SELECT position, link FROM {self.recorder.entries_table} ORDER BY position DESC LIMIT 1", None
        )
        return Head(rows[0][0], rows[0][1]) if rows else Head(0, GENESIS)

    def position_at(self, known_us: int) -> int:
        """The last position recorded at or before a knowledge time (0 if none): the log as known then."""
        rows = self._query(
            f"SELECT MAX(position) FROM {self.recorder.entries_table} WHERE recorded_at <= {{p}}", None, (known_us,)
        )
        return rows[0][0] or 0

    def knowledge_spans(self, after: int, upto: int, block_bits: int) -> list[tuple[int, int, int]]:
        """The first and last knowledge time of the entries in (after, upto], by block of
        2**block_bits positions: [(block, first recorded_at, last recorded_at)], in block order.

        Positions run without gaps and knowledge time grows with position (the recorder makes
        it strictly increasing), so a block's first and last times are those of its first and
        last position in the stretch: two entries a block, read by position (an aggregate over
        the stretch read every entry of it: ~30 ms for 90,000 positions, on a rebuild's path).
        A block with an end missing (none is: positions run without gaps) is left out; a reader
        of knowledge blocks then reads that block's rows instead (`projections.folds.rollups`).
        """
        if upto <= after:
            return []
        size = 1 << block_bits
        blocks = range((after + 1) >> block_bits, (upto >> block_bits) + 1)
        ends = {b: (max(after + 1, b * size), min(upto, b * size + size - 1)) for b in blocks}
        wanted = sorted({p for pair in ends.values() for p in pair})
        times: dict[int, int] = {}
        for start in range(0, len(wanted), 500):
            times.update(
                self._query(
                    f"SELECT position, recorded_at FROM {self.recorder.entries_table} WHERE position IN ({{in}})",
                    wanted[start : start + 500],
                )
            )
        return [(b, times[first], times[last]) for b, (first, last) in ends.items() if first in times and last in times]

    def stored_events_sql(self, schema: str = "main") -> str | None:
        """A SELECT of the stored events of one type (`:type`) at positions (:after, :upto], as
        rows (position, recorded_at, state), for a statement run in this ledger's own SQLite
        database, or in one that attaches it as `schema`: a projection folding set-wise in SQL
        (`projections.accel.in_store`). None on PostgreSQL. An entry whose event is missing is left
        out (`verify` names it)."""
        if self.is_postgres:
            return None
        return (
            f"SELECT l.position AS position, l.recorded_at AS recorded_at, e.state AS state "
            f"FROM {schema}.{self.recorder.entries_table} l JOIN {schema}.{self.recorder.events_table} e "
            f"ON e.{self.recorder.notification_key} = l.notification_id "
            "WHERE l.type = :type AND l.position > :after AND l.position <= :upto"
        )

    def count_of_type(self, event_type: str, after: int, upto: int) -> int:
        """How many entries of one type the log holds at positions (after, upto]."""
        rows = self._query(
            f"SELECT count(*) FROM {self.recorder.entries_table} "
            "WHERE type = {p} AND position > {p} AND position <= {p}",
            None,
            (event_type, after, upto),
        )
        return rows[0][0]

    def recorded_at_of(self, position: int) -> int | None:
        """Knowledge time (µs) of the entry at `position`: "what the ledger knew then" as a cut-off."""
        rows = self._query(
            f"SELECT recorded_at FROM {self.recorder.entries_table} WHERE position = {{p}}", None, (position,)
        )
        return rows[0][0] if rows else None

    def link_at(self, position: int) -> str | None:
        rows = self._query(f"SELECT link FROM {self.recorder.entries_table} WHERE position = {{p}}", None, (position,))
        return rows[0][0] if rows else None

    def verify(self, digest: str | None = None, *, page: int = 10_000, split: bool | None = None) -> VerifyReport:
        """Recompute the chain from the start; name the first position that does not match.

        With `digest` (a head an auditor wrote down earlier), also check that the log still
        passes through it: the log since then must extend that head, not rewrite it.

        Each link is checked against the link stored before it, so two stretches of the log can
        be checked at once: a log of VERIFY_SPLIT_FROM events or more (or `split=True`) has its
        later stretch checked by a worker process. The report is the same as one pass's: the
        first position that fails, counting what matched before it.
        """
        head = self.head().position
        if split is None:
            split = head >= VERIFY_SPLIT_FROM
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
        stored before it, `previous` being the link at `after`."""
        checked, saw_digest = 0, False
        while upto is None or after < upto:
            with paused_gc():  # a page of rows at once: see ledger.gc_pause
                rows = self._chain_rows(after, page if upto is None else min(page, upto - after))
                if not rows:
                    break
                missing = _first_missing(rows, after + 1)
                checkable = rows if missing is None else rows[: missing - after - 1]
                previous, matched, broken = first_broken_link(previous, checkable)
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

    @staticmethod
    def _bad(checked: int, head: str, position: int, message: str) -> VerifyReport:
        return VerifyReport(False, checked, head, position, message + "; the log was altered after it was written")

    # ------------------------------------------------------------ SQL over the ledger tables

    def _query(self, sql: str, in_values: list[Any] | None, params: tuple = ()) -> list[tuple]:
        mark = "%s" if self.is_postgres else "?"
        values = list(params)
        if in_values is not None:
            sql = sql.replace("{in}", ",".join([mark] * len(in_values)))
            values.extend(in_values)
        sql = sql.replace("{p}", mark)
        return self._execute(sql, values)

    def _execute(self, sql: str, values: list[Any]) -> list[tuple]:
        if self.is_postgres:
            with self.recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
                curs.execute(sql, values)
                return curs.fetchall() if curs.description else []
        with self.recorder.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None  # plain tuples from the driver (this cursor only), not sqlite3.Row
            c.execute(sql, values)
            return c.fetchall()

    def _events_join(self) -> str:
        return (
            f"{self.recorder.entries_table} l LEFT JOIN {self.recorder.events_table} e "
            f"ON e.{self.recorder.notification_key} = l.notification_id"
        )

    def _log_rows(
        self,
        after: int,
        limit: int,
        upto: int | None,
        types: Sequence[str] | None = None,
        rep_ids: Sequence[str] | None = None,
        walk: bool = True,
        details: bool = True,
    ) -> list[tuple]:
        """A page of the log, filtered by type and rep.

        A filter walks its column's (column, position) index once per value, in position order,
        each walk stopping at `limit`; the walks' positions are merged, and only the page's events
        are then read: the page costs the page. (Written as `column IN (…) ORDER BY position`,
        SQLite sorted every matching event of the log for each page: reading a common type from
        the start of a million-event log page by page took minutes.) A filter of more values
        than `_MAX_WALKS`, or `walk=False`, scans by position instead: each walk may read up to
        `limit` entries that the merge then drops, so for values that fill a good part of the
        log, skipping the others costs less (measured: a third of a million-event log read in
        0.98 s scanning, 1.40 s walking 27 types).
        """
        if (types is not None and not types) or (rep_ids is not None and not rep_ids):
            return []
        where, params = ["l.position > {p}"], [after]
        if upto is not None:
            where.append("l.position <= {p}")
            params.append(upto)
        walked: tuple[str, Sequence[str]] | None = None
        for column, values in (("l.type", types), ("l.rep_id", rep_ids)):
            if values is None:
                continue
            if walk and walked is None and len(values) <= _MAX_WALKS:
                walked = (column, values)
                continue
            # not this column's index: on SQLite a unary + keeps the planner off it
            where.append(f"{'' if self.is_postgres else '+'}{column} IN ({','.join(['{p}'] * len(values))})")
            params.extend(values)
        who = "l.rep_id, l.actor, l.event_id" if details else "NULL, NULL, NULL"
        columns = f"SELECT l.position, l.recorded_at, l.type, {who}, e.topic, e.state FROM {self._events_join()}"
        condition = " AND ".join(where)
        if walked is None:
            return self._query(
                f"{columns} WHERE {condition} ORDER BY l.position LIMIT {int(limit)}", None, tuple(params)
            )
        column, values = walked
        walks = [
            f"SELECT position FROM (SELECT l.position FROM {self.recorder.entries_table} l WHERE {column} = {{p}} "
            f"AND {condition} ORDER BY l.position LIMIT {int(limit)}) AS walk{i}"
            for i in range(len(values))
        ]
        page = " UNION ALL ".join(walks) + f" ORDER BY 1 LIMIT {int(limit)}"
        return self._query(
            f"{columns} WHERE l.position IN ({page}) ORDER BY l.position",
            None,
            tuple(v for value in values for v in (value, *params)),
        )

    def _chain_rows(self, after: int, limit: int) -> list[tuple]:
        return self._query(
            "SELECT l.position, l.recorded_at, l.type, l.rep_id, l.actor, l.event_id, l.content_hash, l.link, "
            "e.topic, e.originator_id, e.originator_version, e.state "
            f"FROM {self._events_join()} WHERE l.position > {{p}} ORDER BY l.position LIMIT {int(limit)}",
            None,
            (after,),
        )

    def _count_events(self) -> int:
        """Stored events, chained or not. Every entry names a distinct event (notification_id is
        unique) and verify has found each one's event, so any count above the entries checked
        is events stored behind the ledger's back, with no entry and no link."""
        return self._query(f"SELECT COUNT(*) FROM {self.recorder.events_table}", None)[0][0]


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
    ledger = Ledger(Settings(database_url=database_url))
    try:
        previous = ledger.link_at(after) or GENESIS  # a missing entry there is the first stretch's finding
        return ledger._check_stretch(previous, after, None, page, digest)
    finally:
        ledger.close()


class BoundedLog:
    """A ledger's log seen only up to a position: what a store would have held back then (the
    audit's scratch rebuild, a rebuild's worker process, the benchmark's prefix)."""

    def __init__(self, ledger: Ledger, upto: int):
        self.ledger, self.upto = ledger, upto

    @property
    def settings(self) -> Settings:
        return self.ledger.settings

    def read_log(self, after: int = 0, limit: int = 1000, **filters: Any) -> list[LogRecord]:
        return decoded(self.read_stored(after, limit, **filters))

    def read_stored(self, after: int = 0, limit: int = 1000, **filters: Any) -> list[StoredEvent]:
        upto = min(self.upto, filters.pop("upto", None) or self.upto)
        return self.ledger.read_stored(after, limit, upto=upto, **filters)

    def knowledge_spans(self, after: int, upto: int, block_bits: int) -> list[tuple[int, int, int]]:
        return self.ledger.knowledge_spans(after, min(upto, self.upto), block_bits)

    def stored_events_sql(self, schema: str = "main") -> str | None:
        return self.ledger.stored_events_sql(schema)  # its readers ask for stretches up to `head()` only

    def count_of_type(self, event_type: str, after: int, upto: int) -> int:
        return self.ledger.count_of_type(event_type, after, min(upto, self.upto))

    def head(self) -> Head:
        return Head(self.upto, self.ledger.link_at(self.upto) or "")


def content_hash(command: Command) -> str:
    """What makes two envelopes 'the same event' for idempotency: type, business time, data."""
    body = canonical({"type": command.type, "occurred_at": command.occurred_at.isoformat(), "data": command.data})
    return hashlib.sha256(body).hexdigest()


@lru_cache(maxsize=256)
def _event_class(topic: str) -> type:
    return resolve_topic(topic)


@dataclass(frozen=True)
class _Reading:
    """How to read a topic's stored events: its class, current class_version and public type
    name, and whether its fields can hold tagged values (a Decimal, date, datetime or UUID)."""

    cls: type
    version: int
    public: str
    tagged: bool


_READINGS: dict[str, _Reading] = {}


def _reading_of(topic: str) -> _Reading:
    reading = _READINGS.get(topic)
    if reading is None:
        cls = _event_class(topic)
        reading = _READINGS[topic] = _Reading(
            cls, getattr(cls, "class_version", 1), public_type(cls), not _plain_fields(cls)
        )
    return reading


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
_BASE_FIELDS = frozenset(
    name for base in (Created, Happened) for name in get_type_hints(base)
)  # the library's and occurred_at


def _plain_fields(cls: type) -> bool:
    """Are all of the event's own fields plain JSON values (str, int, float, bool, None, or a
    union of them)? Then its stored form holds no tag but the library's two times. Unsure
    (no annotations to read): False, and its events are walked for tags."""
    try:
        hints = get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: walk its events
        return False
    own = [hint for name, hint in hints.items() if name not in _BASE_FIELDS and get_origin(hint) is not ClassVar]
    return bool(own) and all(_plain(hint) for hint in own)


def _plain(hint: Any) -> bool:
    if get_origin(hint) in (Union, UnionType):
        return all(_plain(arg) for arg in get_args(hint))
    return hint in _PLAIN_TYPES


_NOT_DATA = ("originator_topic", "timestamp", "occurred_at", "class_version")
_DROPPED = ("originator_topic", "timestamp", "class_version")  # _NOT_DATA but occurred_at


# An event as `read_stored` gives it: position, recorded_at, type, rep_id, actor, event_id, topic
# and the stored bytes (topic and bytes None for an entry whose event is missing: see `verify`).
StoredEvent = tuple[int, int, str, "str | None", str, "str | None", "str | None", "bytes | None"]


def decoded(stored: Sequence[StoredEvent]) -> list[LogRecord]:
    """`read_stored`'s events as LogRecords (an entry whose event is missing: `occurred_at` None,
    `data` empty)."""
    return [to_log_record(*row) if row[7] is not None else LogRecord(*row[:6], None, {}) for row in stored]


def to_log_record(
    position: int,
    recorded_at: int,
    type_: str,
    rep_id: str | None,
    actor: str,
    event_id: str | None,
    topic: str,
    state: bytes,
) -> LogRecord:
    """Decode a stored event for the read side, upcasting old versions as the mapper would."""
    reading = _READINGS.get(topic) or _reading_of(topic)
    values = orjson.loads(state)
    version = values.get("class_version", 1)
    if version < reading.version:  # an old version: decoded whole, then upcast as the mapper would
        values = untag(values)
        while version < reading.version:
            getattr(reading.cls, f"upcast_v{version}_v{version + 1}")(values)
            version += 1
        occurred_at = values["occurred_at"]
        data = {k: v for k, v in values.items() if k not in _NOT_DATA}
        return LogRecord(position, recorded_at, type_ or reading.public, rep_id, actor, event_id, occurred_at, data)
    # The current version (nearly every event): drop what the record does not keep (the
    # library's timestamp, the topic), decode occurred_at, and walk the rest for tagged values
    # only when the class's fields can hold them and the bytes hold more tags than those two
    # times (an activity's fields are all plain: it is never walked).
    for key in _DROPPED:
        values.pop(key, None)
    occurred_at = _decode_time(values.pop("occurred_at")[_DATA])
    if reading.tagged and state.count(_TAG) > 2:
        untag(values)
    return LogRecord(position, recorded_at, type_ or reading.public, rep_id, actor, event_id, occurred_at, values)


_MAX_WALKS = 50  # index walks merged by `_log_rows`; SQLite allows 500 terms in a compound SELECT
_TAG = b'"_type_"'
_DATA = "_data_"
_decode_time = datetime.fromisoformat
