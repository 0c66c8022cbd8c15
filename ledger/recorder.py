"""The event store's recorders, extended with the ledger's own entry for every stored event.

The library's native recorders (`eventsourcing.sqlite`, `eventsourcing.postgres`) store the
events; in the *same transaction* these subclasses write one `ledger_entries` row per event:
the gap-free `position`, `recorded_at` (knowledge time, strictly increasing with position), the
acting user, the client's `event_id` (unique: idempotency) and the hash-chain `link`.

Positions are assigned here, under the store's write lock, rather than taken from the library's
notification ids: PostgreSQL's sequence skips a number whenever a transaction rolls back (a
conflict, a crash), and the ledger promises auditors a log without holes. The library is answered
with its own notification ids (so its notification log agrees with what its insert returned);
the positions reach the ledger through the insert's `receipt`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed

from ledger.chain import GENESIS, link_of, uuid_hex
from ledger.resealing import RESEALED_TABLE, resealed_ddl

ENTRIES_TABLE = "ledger_entries"
ENTRY_COLUMNS = "position, notification_id, recorded_at, type, rep_id, actor, event_id, content_hash, link"


class EntryMeta(NamedTuple):
    """What the write side knows about an event beyond its stored state (a named tuple, as
    `Entry`: a frozen dataclass set each field through object.__setattr__, per event)."""

    type: str
    rep_id: str | None
    event_id: str | None
    content_hash: str


class Entry(NamedTuple):
    """A ledger entry as written: one per stored event, in the table's column order. A named
    tuple rather than an object: the driver takes it as the row it is (COPY, executemany), with
    no row built from it, and a tuple is made faster than an object (a thousand a batch)."""

    position: int
    notification_id: int
    recorded_at: int  # microseconds since the epoch, UTC
    type: str
    rep_id: str | None
    actor: str
    event_id: str | None
    content_hash: str
    link: str


def _entries_ddl(position_type: str, table: str = ENTRIES_TABLE) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ("
        f"position {position_type} PRIMARY KEY, "
        "notification_id BIGINT NOT NULL UNIQUE, "
        "recorded_at BIGINT NOT NULL, "
        "type TEXT NOT NULL, "
        "rep_id TEXT, "
        "actor TEXT NOT NULL, "
        "event_id TEXT UNIQUE, "
        "content_hash TEXT NOT NULL, "
        "link TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {ENTRIES_TABLE}_type ON {table} (type, position)",
        f"CREATE INDEX IF NOT EXISTS {ENTRIES_TABLE}_rep ON {table} (rep_id, position)",
    ]


def _now_micros() -> int:
    return time.time_ns() // 1000


def build_entries(
    notification_ids: Sequence[int],
    stored_events: Sequence[StoredEvent],
    metas: Sequence[EntryMeta],
    actor: str,
    last: tuple[int, int, str] | None,
    now_us: int | None = None,
) -> list[Entry]:
    """Number, time-stamp and chain a batch after the last entry (position, recorded_at, link);
    `now_us` is the ledger's clock (its settings'), the system's when not given."""
    position, recorded_at, link = last if last else (0, 0, GENESIS)
    now = _now_micros() if now_us is None else now_us
    entries = []
    for notification_id, stored, meta in zip(notification_ids, stored_events, metas, strict=True):
        position += 1
        recorded_at = max(now, recorded_at + 1)  # strictly increasing, even if the clock steps back
        entry_head = (position, recorded_at, meta.type, meta.rep_id, actor, meta.event_id, meta.content_hash)
        link = link_of(
            link, entry_head, stored.topic, _hex(stored.originator_id), stored.originator_version, stored.state
        )
        entries.append(
            Entry(
                position,
                notification_id,
                recorded_at,
                meta.type,
                meta.rep_id,
                actor,
                meta.event_id,
                meta.content_hash,
                link,
            )
        )
    return entries


_hex = uuid_hex


def _hand_positions(receipt: list[int] | None, built: list[Entry]) -> None:
    """The ledger's positions go back through `receipt`; the library gets its notification ids
    (so its notification log and what its insert answered agree)."""
    if receipt is not None:
        receipt.extend(e.position for e in built)


# ---------------------------------------------------------------- SQLite


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    entries_table = ENTRIES_TABLE
    resealed_table = RESEALED_TABLE
    notification_key = "rowid"

    @property
    def events_table(self) -> str:
        return self.events_table_name

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *_entries_ddl("INTEGER"), resealed_ddl(RESEALED_TABLE)]

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        entries: Sequence[EntryMeta] | None = None,
        actor: str = "system",
        receipt: list[int] | None = None,
        now_us: int | None = None,
        **_: Any,
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        # One executemany, then the rowids: we hold the write lock, and SQLite hands out
        # max(rowid)+1 for each row, so the batch's rowids are the last n.
        c.executemany(
            self.insert_events_statement,
            [(_hex(s.originator_id), s.originator_version, s.topic, s.state) for s in stored_events],
        )
        c.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
        last_rowid = c.fetchone()[0]
        notification_ids = list(range(last_rowid - len(stored_events) + 1, last_rowid + 1))
        c.execute(f"SELECT position, recorded_at, link FROM {ENTRIES_TABLE} ORDER BY position DESC LIMIT 1")
        row = c.fetchone()
        metas = entries or [EntryMeta("?", None, None, "") for _ in stored_events]
        built = build_entries(notification_ids, stored_events, metas, actor, tuple(row) if row else None, now_us)
        c.executemany(f"INSERT INTO {ENTRIES_TABLE} VALUES (?,?,?,?,?,?,?,?,?)", built)
        _hand_positions(receipt, built)
        return notification_ids

    def select_streams(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Every event of the given streams, in one query per 500 ids (a batch preload)."""
        found: dict[UUID, list[StoredEvent]] = {}
        ids = [i.hex for i in originator_ids]
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                c.execute(
                    f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name} "
                    f"WHERE originator_id IN ({','.join('?' * len(chunk))}) ORDER BY originator_id, originator_version",
                    chunk,
                )
                for row in c.fetchall():
                    oid = UUID(row[0])
                    found.setdefault(oid, []).append(StoredEvent(oid, row[1], row[2], row[3]))
        return found


class DurableSQLitePool(SQLiteConnectionPool):
    """Every connection says how durable a commit is, rather than trusting the build's default.

    WAL journal (set by the library) + synchronous=FULL: a commit is fsynced to the WAL before
    it is acknowledged, so an acknowledged batch survives a process crash and a power loss.
    """

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        raw: sqlite3.Connection = connection._sqlite_conn
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("PRAGMA foreign_keys=ON")
        return connection


class LedgerSQLiteFactory(SQLiteFactory):
    application_recorder_class = ChainedSQLiteRecorder

    def __init__(self, env: Any):
        super().__init__(env)
        previous = self.datastore.pool
        self.datastore.pool = DurableSQLitePool(db_name=previous.db_name, lock_timeout=previous.lock_timeout)
        previous.close()


# ---------------------------------------------------------------- PostgreSQL


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    notification_key = "notification_id"

    def __init__(self, datastore: Any, **kwargs: Any):
        if datastore.enable_db_functions:
            # The library's DB-function insert never calls the hook that writes the entries.
            raise ValueError(
                "POSTGRES_ENABLE_DB_FUNCTIONS is set: the ledger writes an entry with every event, "
                "which the library's database-function insert skips; unset it"
            )
        super().__init__(datastore, **kwargs)
        schema = self.datastore.schema
        prefix = f'"{schema}".' if schema else ""
        self.entries_table = prefix + ENTRIES_TABLE
        self.resealed_table = prefix + RESEALED_TABLE
        self.events_table = prefix + self.events_table_name
        self.sql_create_statements.extend(Composed([SQL(ddl)]) for ddl in _entries_ddl("BIGINT", self.entries_table))
        self.sql_create_statements.append(Composed([SQL(resealed_ddl(self.resealed_table))]))

    def create_table(self) -> None:
        """Serialise schema creation: processes starting together would otherwise race on the
        catalogue ('tuple concurrently updated')."""
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(727274)")
            try:
                super().create_table()
            finally:
                conn.execute("SELECT pg_advisory_unlock(727274)")

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **_: Any) -> None:
        """The library's steps (the table locked EXCLUSIVE, its channel notified), then the rows
        by COPY rather than its INSERT … SELECT FROM unnest(…) of a composite array: a batch of
        1,000 events in about half the time (docs/performance.md, PostgreSQL)."""
        self._lock_table(curs)
        self._notify_channel(curs)
        if not stored_events:
            return
        columns = "originator_id, originator_version, topic, state"
        with curs.copy(f"COPY {self.events_table} ({columns}) FROM STDIN") as copy:
            for s in stored_events:
                copy.write_row((s.originator_id, s.originator_version, s.topic, s.state))

    def _fetch_ids_after_insert_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        *,
        entries: Sequence[EntryMeta] | None = None,
        actor: str = "system",
        receipt: list[int] | None = None,
        now_us: int | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        # The events table is locked (EXCLUSIVE) for this transaction: no other transaction has
        # inserted since the lock, so the batch's notification ids (given in row order by the
        # table's sequence) are the last n, and the last entry is final.
        curs.row_factory = tuple_row  # a thousand ids as plain rows, not a dict made for each
        curs.execute(
            f"SELECT notification_id FROM {self.events_table} ORDER BY notification_id DESC LIMIT %s",
            (len(stored_events),),
        )
        notification_ids = [notification_id for (notification_id,) in reversed(curs.fetchall())]
        if len(notification_ids) != len(stored_events):
            raise ProgrammingError(f"got {len(notification_ids)} notification ids, expected {len(stored_events)}")
        curs.execute(f"SELECT position, recorded_at, link FROM {self.entries_table} ORDER BY position DESC LIMIT 1")
        row = curs.fetchone()
        metas = entries or [EntryMeta("?", None, None, "") for _ in stored_events]
        last = (row[0], row[1], row[2]) if row else None
        built = build_entries(notification_ids, stored_events, metas, actor, last, now_us)
        with curs.copy(f"COPY {self.entries_table} ({ENTRY_COLUMNS}) FROM STDIN") as copy:
            for entry in built:
                copy.write_row(entry)
        _hand_positions(receipt, built)
        return notification_ids

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The events and their entries in one transaction, committed together or not at all.

        The library's own version catches an exception raised inside its transaction (to keep
        psycopg's pipeline quiet) and raises it again only after the transaction has committed:
        a failure while building the entries would leave events without entries. Here nothing
        is caught inside: any exception rolls the whole batch back."""
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            self._insert_stored_events(curs, stored_events, **kwargs)  # locks the table, then inserts
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def select_streams(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        found: dict[UUID, list[StoredEvent]] = {}
        if not originator_ids:
            return found
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(
                f"SELECT originator_id, originator_version, topic, state FROM {self.events_table} "
                "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version",
                (list(originator_ids),),
                prepare=False,  # planned for its ids each time: a generic plan went parallel (docs/performance.md)
            )
            for oid, version, topic, state in curs.fetchall():
                found.setdefault(oid, []).append(StoredEvent(oid, version, topic, bytes(state)))
        return found


class LedgerPostgresFactory(PostgresFactory):
    application_recorder_class = ChainedPostgresRecorder
