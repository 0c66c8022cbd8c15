"""The ledger: an eventsourcing Application whose one way in is `record(events, actor)`.

A batch is validated whole (every problem reported with its event index), checked against the
aggregates it touches, and appended in one transaction with its ledger entries (position,
knowledge time, actor, idempotency key, hash-chain link) — or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, CanMutateProtocol
from eventsourcing.persistence import IntegrityError, Transcoder
from sqlalchemy.engine import make_url

from ledger.aggregates import Rep
from ledger.bounds import before_start
from ledger.commands import HANDLERS, UnitOfWork, touched_streams
from ledger.config import Settings, settings_from_env
from ledger.decoding import time_to_micros
from ledger.errors import ConflictError, InvalidBatch, RuleViolation
from ledger.future_facts import future_facts
from ledger.idempotency import key_of, scope_of
from ledger.keys import KeyStore, PersonKey, SqlKeyStore, SubjectErased
from ledger.messages import Msg
from ledger.personal import CATEGORY, PERSONAL_FIELDS, blinded, seal_event
from ledger.recorder import EntryMeta
from ledger.schemas import Command, Problem, parse_batch
from ledger.transcoder import OrjsonTranscoder, canonical
from ledger.verifying import Verifying

MAX_BATCH = 10_000


class LedgerApplication(Application):
    name = "perfledger"

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()


# Pinned whatever the environment says: the stored state is the transcoder's JSON, which the
# ledger's chain, SQL folds and personal-data sealing read as it is; a library cipher or
# compressor from CIPHER_KEY / COMPRESSOR_TOPIC would change it under them.
UNTOUCHED_STATE = {"CIPHER_TOPIC": "", "CIPHER_KEY": "", "COMPRESSOR_TOPIC": ""}


def store_environment(database_url: str, pool_size: int = 2) -> dict[str, str]:
    """The eventsourcing environment for a SQLAlchemy-style database URL; on PostgreSQL, a pool
    of `pool_size` connections and as many again under load (`Settings.pg_pool`)."""
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
            **UNTOUCHED_STATE,
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
            # A wait for a pooled connection (and for a new one) is bounded at 5 s, not the
            # library's 30: when the server's connections were all ended at once, replacing them
            # could hold a request for the whole 30 s; past 5 s the request answers 503 with
            # Retry-After and the client's retry finds the pool refilled.
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_size),
            # Each connection checked as it leaves the pool: one the server ended (a restart, a
            # failover, pg_terminate_backend) is replaced, not handed to a write that would fail.
            "POSTGRES_PRE_PING": "y",
            # Pinned: the database-function insert would skip the entries (refused by the recorder too).
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            **UNTOUCHED_STATE,
        }
    raise ValueError(
        f"PERFLEDGER_DATABASE_URL: unsupported database {url.get_backend_name()!r}; use sqlite:///FILE or postgresql://USER@HOST/DB"
    )


@dataclass
class Recorded:
    """The answer to a batch: the position of every event, and which were already recorded."""

    positions: list[int]
    duplicates: list[int] = field(default_factory=list)  # indexes answered from an earlier append


class Ledger(Verifying):
    """The write side and the raw log: records batches (here), reads the log (`LogReading`) and
    verifies its chain (`Verifying`)."""

    # The event types whose personal fields are sealed when recorded (`ledger.personal`).
    sealed_types: frozenset[str] = frozenset(PERSONAL_FIELDS)

    def __init__(self, settings: Settings | None = None, keys: KeyStore | None = None):
        self.settings = settings or settings_from_env()
        self.app = LedgerApplication(env=store_environment(self.settings.database_url, self.settings.pg_pool[1]))
        self.recorder: Any = self.app.recorder
        self._known_reps: set[str] = set()
        self.is_postgres = make_url(self.settings.database_url).get_backend_name() == "postgresql"
        self._keys = keys

    @property
    def keys(self) -> KeyStore:
        """The persons' keys (`ledger/keys.py`): the store's own table unless another was given."""
        if self._keys is None:
            self._keys = SqlKeyStore(self.settings.database_url)
        return self._keys

    def close(self) -> None:
        if isinstance(self._keys, SqlKeyStore):
            self._keys.close()
        self.app.close()

    def record(self, envelopes: Sequence[object], actor: str, *, system: bool = False) -> Recorded:
        """Validate and append a batch atomically; raise InvalidBatch or ConflictError otherwise."""
        if not envelopes:
            raise InvalidBatch([Problem(0, "events", Msg("batch.empty", "a batch needs at least one event"))])
        if len(envelopes) > MAX_BATCH:
            raise InvalidBatch(
                [
                    Problem(
                        MAX_BATCH,
                        "events",
                        Msg("batch.too_large", "a batch holds at most {limit} events; split the file", limit=MAX_BATCH),
                    )
                ]
            )
        commands, problems = self._parse(envelopes, system)
        if problems:
            raise InvalidBatch(problems)
        hashes = [content_hash(c) for c in commands]
        scope = scope_of(actor, system=system)
        known, fresh, self_duplicates = self._split_known(commands, hashes, scope)
        if not fresh:
            return Recorded([known[c.index] for c in commands], sorted(known))
        try:
            uow = self._handle(fresh)
        except InvalidBatch:
            # A twin of this batch (a client's retry of a request it thought lost) may have been
            # recorded since the lookup above: its events now break the rules for this copy
            # (the deal is open already). That is the duplicate it is, not a refusal.
            known_now, _, _ = self._split_known(commands, hashes, scope)
            if len(known_now) == len(commands):
                return Recorded([known_now[c.index] for c in commands], sorted(known_now))
            raise
        events, metas = self._sealed(fresh, uow, hashes, scope)
        try:
            # The event store directly, with the facts in command order (Application.save would
            # order them by aggregate); nothing here is snapshotted or notified in-process.
            receipt: list[int] = []  # the positions, filled in by the recorder
            self.app.events.put(events, entries=metas, actor=actor, receipt=receipt, now_us=self._now_us())
        except IntegrityError as error:
            # A racing writer appended to one of these streams, or used one of these event_ids.
            known_now, _, _ = self._split_known(commands, hashes, scope)
            if known_now and len(known_now) == len(commands):
                return Recorded([known_now[c.index] for c in commands], sorted(known_now))
            raise ConflictError(
                "another writer changed the same deal, rep or stream at the same time; "
                "nothing was recorded: reload and retry (an event_id makes the retry safe)"
            ) from error
        self._known_reps.update(rep.rep_id for rep in uow.aggregates.values() if isinstance(rep, Rep))
        by_index = dict(known)
        by_index.update({c.index: position for c, position in zip(fresh, receipt, strict=True)})
        by_index.update({i: by_index[first] for i, first in self_duplicates.items()})
        return Recorded([by_index[c.index] for c in commands], sorted([*known, *self_duplicates]))

    def check(self, envelopes: Sequence[object], actor: str = "cli:operator", *, system: bool = False) -> list[Problem]:
        """A dry run of `record`: every problem the batch would be refused for; nothing is written.

        The answer holds for the log as it is now; a writer in between can still change it.
        """
        commands, problems = self._parse(envelopes, system)
        if problems:
            return problems
        hashes = [content_hash(c) for c in commands]
        try:
            _, fresh, _ = self._split_known(commands, hashes, scope_of(actor, system=system))
            self._handle(fresh)
        except ConflictError as conflict:
            return conflict.problems
        except InvalidBatch as invalid:
            return invalid.problems
        return []

    def _parse(self, envelopes: Sequence[object], system: bool) -> tuple[list[Command], list[Problem]]:
        """The batch's commands, and every problem of its envelopes taken one by one."""
        commands, problems = parse_batch(list(envelopes), currency=self.settings.currency, system=system)
        problems += future_facts(commands, self.settings.now(), self.settings.future_tolerance)
        problems += before_start(commands, self.settings)
        return commands, sorted(problems, key=lambda problem: problem.index)

    def _now_us(self) -> int:
        """The ledger's clock in microseconds: what the recorder stamps as knowledge time."""
        return time_to_micros(self.settings.now())

    def _split_known(
        self, commands: list[Command], hashes: list[str], scope: str
    ) -> tuple[dict[int, int], list[Command], dict[int, int]]:
        """Events whose event_id is already in the log under this writer's key scope (same content →
        original position); another writer's event_ids are not this writer's business."""
        ids = [c.event_id for c in commands if c.event_id is not None]
        recorded = self.entries_by_event_id(scope, ids) if ids else {}
        known: dict[int, int] = {}
        erased: list[Problem] = []
        fresh: list[Command] = []
        first_in_batch: dict[str, Command] = {}
        self_duplicates: dict[int, int] = {}  # index → index of its first copy in this batch
        conflicts: list[Problem] = []
        for command in commands:
            key = command.event_id
            if key is not None and key in recorded:
                position, stored_hash, rep_id = recorded[key]
                same = self._same_content(command, hashes[command.index], stored_hash, rep_id)
                if same:
                    known[command.index] = position
                elif same is None:
                    erased.append(
                        Problem(
                            command.index,
                            "event_id",
                            Msg(
                                "event_id.erased",
                                "event_id {key!r} was recorded at position {position}, and the personal data "
                                "of {rep_id} has since been erased: a resend can no longer be compared; "
                                "nothing was recorded",
                                key=key,
                                position=position,
                                rep_id=rep_id,
                            ),
                        )
                    )
                else:
                    conflicts.append(
                        Problem(
                            command.index,
                            "event_id",
                            Msg(
                                "event_id.reused",
                                "event_id {key!r} was recorded at position {position} with other content",
                                key=key,
                                position=position,
                            ),
                        )
                    )
                continue
            if key is not None and key in first_in_batch:
                if hashes[first_in_batch[key].index] != hashes[command.index]:
                    conflicts.append(
                        Problem(
                            command.index,
                            "event_id",
                            Msg(
                                "event_id.twice",
                                "event_id {key!r} appears twice in this batch with other content",
                                key=key,
                            ),
                        )
                    )
                self_duplicates[command.index] = first_in_batch[key].index
                continue  # the same event twice in one batch is recorded once
            if key is not None:
                first_in_batch[key] = command
            fresh.append(command)
        conflicts.extend(erased)
        if conflicts:
            raise ConflictError(
                Msg(
                    "event_id.conflicts",
                    "{count} event_id(s) reused with other content; nothing was recorded",
                    count=len(conflicts),
                ),
                conflicts,
            )
        return known, fresh, self_duplicates

    def _same_content(self, command: Command, plain_hash: str, stored_hash: str, rep_id: str | None) -> bool | None:
        """Is a resent event the one stored? Its hash matches either in clear (an event with no
        personal field, or one stored before they were sealed) or blinded under the person's key.
        None: it cannot be told, the person's key is gone."""
        if stored_hash == plain_hash:
            return True
        if command.type not in self.sealed_types or rep_id is None:
            return False
        try:
            key = self.keys.key_for(rep_id, CATEGORY[command.type])
        except SubjectErased:
            return None
        return stored_hash == _blinded_hash(command, key)

    def _sealed(
        self, fresh: list[Command], uow: UnitOfWork, hashes: list[str], scope: str
    ) -> tuple[list[Any], list[EntryMeta]]:
        """The batch's events with their personal fields sealed under the key of the rep each is
        about, and their entries (a personal event's content hash blinded under that key too).
        The keys were fetched when the batch was handled (`_about_erased`, which refused a
        destroyed one); one destroyed since leaves this batch's texts sealed under a key that no
        longer exists: nothing can read them."""
        events, metas = [], []
        for command, event, rep_id in zip(fresh, uow.events, uow.rep_of_event, strict=True):
            content = hashes[command.index]
            if command.type in self.sealed_types and rep_id is not None:
                key = uow.person_keys[(rep_id, CATEGORY[command.type])]
                assert key is not None
                event = seal_event(event, command.type, key)
                content = _blinded_hash(command, key)
            events.append(event)
            id_key = key_of(scope, command.event_id) if command.event_id else None
            metas.append(EntryMeta(command.type, rep_id, id_key, content))
        return events, metas

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
        if not problems:  # every command handled: uow.rep_of_event is in command order
            problems = self._about_erased(commands, uow)
        if problems:
            raise InvalidBatch(problems)
        return uow

    def _about_erased(self, commands: list[Command], uow: UnitOfWork) -> list[Problem]:
        """Personal data of a kind already erased for its person is refused (the key is destroyed)."""
        slots = {
            c.index: (rep_id, CATEGORY[c.type])
            for c, rep_id in zip(commands, uow.rep_of_event, strict=True)
            if c.type in self.sealed_types and rep_id is not None
        }
        # The batch's keys, fetched (or made) once: `_sealed` seals with them. A slot whose key is
        # destroyed comes back None.
        uow.person_keys = self.keys.keys_for(set(slots.values())) if slots else {}
        return [
            Problem(index, "data", _erased_msg(*slot)) for index, slot in slots.items() if uow.person_keys[slot] is None
        ]

    def _load_streams(self, ids: list[UUID]) -> dict[UUID, Aggregate]:
        loaded: dict[UUID, Aggregate] = {}
        for sid, stored in self.recorder.select_streams(ids).items():
            aggregate: Aggregate | None = None
            for event in map(self.app.mapper.to_domain_event, stored):
                # The mapper's type promises a bare domain event; the ledger stores aggregates' events only.
                aggregate = cast("CanMutateProtocol[Aggregate]", event).mutate(aggregate)
            assert aggregate is not None  # a stream with events has an aggregate
            loaded[sid] = aggregate
            if isinstance(aggregate, Rep):
                self._known_reps.add(aggregate.rep_id)
        return loaded


def content_hash(command: Command, data: dict[str, Any] | None = None) -> str:
    """What makes two envelopes 'the same event' for idempotency: type, business time, data."""
    body = canonical(
        {
            "type": command.type,
            "occurred_at": command.occurred_at.isoformat(),
            "data": command.data if data is None else data,
        }
    )
    return hashlib.sha256(body).hexdigest()


def _blinded_hash(command: Command, key: PersonKey) -> str:
    """The content hash of a personal event as the chain keeps it: its personal values only as
    HMACs under the person's key, so the hash says nothing of them once the key is destroyed."""
    return content_hash(command, blinded(command.data, command.type, key))


def _erased_msg(rep_id: str, category: str) -> Msg:
    return Msg(
        "person.erased",
        "the personal data of {rep_id} ({category}) was erased: no such text about them is recorded any "
        "more (figures still are)",
        rep_id=rep_id,
        category=category,
    )
