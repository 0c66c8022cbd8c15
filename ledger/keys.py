"""The key store: AES keys per person and kind of data, kept apart from the log so that they can
be destroyed.

The log is append-only and hash-chained; the personal fields in it are stored encrypted under the
key of the person they are about (`ledger/personal.py`). Erasing a person destroys their key:
their texts become unreadable everywhere the log is copied, and the chain, computed over the
stored ciphertext, does not change. A person has one key per kind of personal data (their
identity, their evaluations, their disputes: `ledger.personal.CATEGORIES`), so a retention
policy can erase one kind before another. The keys must never live in the log: here they are a table
of their own in the same database (SQLAlchemy Core, SQLite or PostgreSQL), behind `KeyStore`, a
small interface that a KMS-backed store can implement instead.

An erased key keeps its row without key material (a tombstone): no new key is ever made for
that person and kind, so a write racing with the erasure leaves only ciphertext nothing can open.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

KEY_BYTES = 32  # AES-256-GCM


@dataclass(frozen=True)
class PersonKey:
    """A person's key: its id (named in every ciphertext it seals) and its bytes."""

    kid: str
    key: bytes


@dataclass(frozen=True)
class KeyStatus:
    """What the store holds for a person's kind of data: a live key, or a tombstone since `erased_us`."""

    subject: str
    category: str
    kid: str
    created_us: int
    erased_us: int | None


class SubjectErased(Exception):
    """The person's key for this kind of data was destroyed: nothing more is written under it."""

    def __init__(self, subject: str, category: str):
        super().__init__(subject, category)
        self.subject, self.category = subject, category


Slot = tuple[str, str]  # (subject, category): one key's place


class KeyStore(Protocol):
    """Where the persons' keys live. The SQL store below; a KMS adapter would implement the same."""

    def key_for(self, subject: str, category: str) -> PersonKey:
        """The key of a person's kind of data, made on first use; SubjectErased once destroyed."""
        ...

    def keys_for(self, slots: Iterable[Slot]) -> dict[Slot, PersonKey | None]:
        """`key_for` of many slots at once (a batch's): None for a destroyed one."""
        ...

    def keys(self, kids: Iterable[str]) -> dict[str, bytes]:
        """The live keys among `kids` (a destroyed or unknown one is absent)."""
        ...

    def erased(self, slots: Iterable[Slot]) -> set[Slot]:
        """Which of `slots` have been erased."""
        ...

    def erase(self, subject: str, categories: Iterable[str]) -> list[str]:
        """Destroy those keys of the person (tombstones stay); the categories destroyed now."""
        ...

    def status(self, subject: str) -> list[KeyStatus]:
        """Every key the person has or had, by category."""
        ...


_metadata = MetaData()
personal_keys = Table(
    "personal_keys",
    _metadata,
    Column("subject", String(64), primary_key=True),  # a rep id
    Column("category", String(16), primary_key=True),  # identity | evaluations | disputes
    Column("kid", String(32), nullable=False, unique=True),
    Column("key", LargeBinary),  # NULL once erased
    Column("created_us", BigInteger, nullable=False),
    Column("erased_us", BigInteger),
)


def _now_us() -> int:
    return time.time_ns() // 1000


class SqlKeyStore:
    """Keys in the `personal_keys` table of the ledger's own database (not the log: a row here is
    deleted, which the log never is).

    On SQLite every connection has `secure_delete` on, so a destroyed key's bytes are zeroed in
    the file, not merely unlinked; the erasure then compacts the file and empties the WAL (`services/erasure.py`)."""

    def __init__(self, database_url: str):
        self.engine = _engine(database_url)
        _metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def key_for(self, subject: str, category: str) -> PersonKey:
        row = self._row(subject, category)
        if row is None:
            self._insert(subject, category)
            row = self._row(subject, category)
        assert row is not None
        if row.key is None:
            raise SubjectErased(subject, category)
        return PersonKey(row.kid, bytes(row.key))

    def keys_for(self, slots: Iterable[Slot]) -> dict[Slot, PersonKey | None]:
        wanted = set(slots)
        found = self._slots(wanted)
        missing = wanted - set(found)
        if missing:  # made in one transaction (one durable commit for the batch, not one per rep)
            self._insert_many(missing)
            found.update(self._slots(missing))
        return {slot: (PersonKey(kid, key) if key is not None else None) for slot, (kid, key) in found.items()}

    def _slots(self, slots: set[Slot]) -> dict[Slot, tuple[str, bytes | None]]:
        k = personal_keys.c
        found: dict[Slot, tuple[str, bytes | None]] = {}
        subjects = sorted({subject for subject, _ in slots})
        with self.engine.connect() as conn:
            for start in range(0, len(subjects), 500):
                rows = conn.execute(
                    select(k.subject, k.category, k.kid, k.key).where(k.subject.in_(subjects[start : start + 500]))
                )
                for row in rows:
                    if (row.subject, row.category) in slots:
                        found[(row.subject, row.category)] = (row.kid, bytes(row.key) if row.key is not None else None)
        return found

    def keys(self, kids: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(kids))
        found: dict[str, bytes] = {}
        k = personal_keys.c
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(k.kid, k.key).where(k.kid.in_(wanted[start : start + 500]), k.key.is_not(None))
                )
                found.update((row.kid, bytes(row.key)) for row in rows)
        return found

    def erased(self, slots: Iterable[Slot]) -> set[Slot]:
        wanted = set(slots)
        if not wanted:
            return set()
        k = personal_keys.c
        subjects = sorted({subject for subject, _ in wanted})
        with self.engine.connect() as conn:
            rows = conn.execute(select(k.subject, k.category).where(k.subject.in_(subjects), k.erased_us.is_not(None)))
            return {(row.subject, row.category) for row in rows} & wanted

    def erase(self, subject: str, categories: Iterable[str]) -> list[str]:
        done = []
        k = personal_keys.c
        for category in categories:
            self._insert(subject, category)  # never written about yet: a tombstone all the same
            with self.engine.begin() as conn:
                changed = conn.execute(
                    update(personal_keys)
                    .where(k.subject == subject, k.category == category, k.erased_us.is_(None))
                    .values(key=None, erased_us=_now_us())
                )
            if changed.rowcount:
                done.append(category)
        return done

    def status(self, subject: str) -> list[KeyStatus]:
        k = personal_keys.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(k.category, k.kid, k.created_us, k.erased_us).where(k.subject == subject).order_by(k.category)
            )
            return [KeyStatus(subject, row.category, row.kid, row.created_us, row.erased_us) for row in rows]

    def _row(self, subject: str, category: str) -> Any:
        k = personal_keys.c
        with self.engine.connect() as conn:
            return conn.execute(select(personal_keys).where(k.subject == subject, k.category == category)).first()

    def _insert(self, subject: str, category: str) -> None:
        self._insert_many({(subject, category)})

    def _insert_many(self, slots: set[Slot]) -> None:
        """A fresh key for each slot that has no row yet (two writers may race: one wins)."""
        now = _now_us()
        rows = [
            {"subject": s, "category": c, "kid": secrets.token_hex(16), "key": os.urandom(KEY_BYTES), "created_us": now}
            for s, c in sorted(slots)
        ]
        insert = (sqlite if self.engine.dialect.name == "sqlite" else postgresql).insert
        with self.engine.begin() as conn:
            conn.execute(insert(personal_keys).on_conflict_do_nothing(index_elements=["subject", "category"]), rows)


def _engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA secure_delete=ON")  # a destroyed key is zeroed in the file
            cursor.close()

        return engine
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    schema = url.query.get("schema")
    if isinstance(schema, tuple):
        schema = schema[-1]
    url = url.difference_update_query(["schema"])
    options = {"options": f"-csearch_path={schema}"} if schema else {}
    return create_engine(url, connect_args=options, pool_size=1, max_overflow=2, pool_pre_ping=True)
