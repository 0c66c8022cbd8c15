"""The key store: one AES key per person, kept apart from the log so that it can be destroyed.

The log is append-only and hash-chained; the personal fields in it are stored encrypted under the
key of the person they are about (`ledger/personal.py`). Erasing a person destroys their key:
their texts become unreadable everywhere the log is copied, and the chain, computed over the
stored ciphertext, does not change. So the keys must never live in the log: here they are a table
of their own in the same database (SQLAlchemy Core, SQLite or PostgreSQL), behind `KeyStore`, a
small interface that a KMS-backed store can implement instead.

An erased person keeps a row without key material (a tombstone): no new key is ever made for
them, so a write racing with their erasure leaves only ciphertext that nothing can open.
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
    """What the store holds for a person: a live key, or a tombstone since `erased_us`."""

    subject: str
    kid: str
    created_us: int
    erased_us: int | None


class SubjectErased(Exception):
    """The person's key was destroyed: nothing more is written under it."""

    def __init__(self, subject: str):
        super().__init__(subject)
        self.subject = subject


class KeyStore(Protocol):
    """Where the persons' keys live. The SQL store below; a KMS adapter would implement the same."""

    def key_for(self, subject: str) -> PersonKey:
        """The person's key, made on first use; SubjectErased once it was destroyed."""
        ...

    def keys(self, kids: Iterable[str]) -> dict[str, bytes]:
        """The live keys among `kids` (a destroyed or unknown one is absent)."""
        ...

    def erased(self, subjects: Iterable[str]) -> set[str]:
        """Which of `subjects` have been erased."""
        ...

    def erase(self, subject: str) -> bool:
        """Destroy the person's key (a tombstone stays); False if it was destroyed before."""
        ...

    def status(self, subject: str) -> KeyStatus | None: ...


_metadata = MetaData()
person_keys = Table(
    "person_keys",
    _metadata,
    Column("subject", String(64), primary_key=True),  # a rep id
    Column("kid", String(32), nullable=False, unique=True),
    Column("key", LargeBinary),  # NULL once erased
    Column("created_us", BigInteger, nullable=False),
    Column("erased_us", BigInteger),
)


def _now_us() -> int:
    return time.time_ns() // 1000


class SqlKeyStore:
    """Keys in the `person_keys` table of the ledger's own database (not the log: a row here is
    deleted, which the log never is).

    On SQLite every connection has `secure_delete` on, so a destroyed key's bytes are zeroed in
    the file, not merely unlinked; the erasure then compacts the file and empties the WAL (`services/erasure.py`)."""

    def __init__(self, database_url: str):
        self.engine = _engine(database_url)
        _metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def key_for(self, subject: str) -> PersonKey:
        row = self._row(subject)
        if row is None:
            self._insert(subject)
            row = self._row(subject)
        assert row is not None
        if row.key is None:
            raise SubjectErased(subject)
        return PersonKey(row.kid, bytes(row.key))

    def keys(self, kids: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(kids))
        found: dict[str, bytes] = {}
        k = person_keys.c
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(k.kid, k.key).where(k.kid.in_(wanted[start : start + 500]), k.key.is_not(None))
                )
                found.update((row.kid, bytes(row.key)) for row in rows)
        return found

    def erased(self, subjects: Iterable[str]) -> set[str]:
        wanted = sorted(set(subjects))
        if not wanted:
            return set()
        k = person_keys.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(k.subject).where(k.subject.in_(wanted), k.erased_us.is_not(None)))
            return {row.subject for row in rows}

    def erase(self, subject: str) -> bool:
        self._insert(subject)  # a person never written about still gets a tombstone: no key later
        k = person_keys.c
        with self.engine.begin() as conn:
            done = conn.execute(
                update(person_keys)
                .where(k.subject == subject, k.erased_us.is_(None))
                .values(key=None, erased_us=_now_us())
            )
        return bool(done.rowcount)

    def status(self, subject: str) -> KeyStatus | None:
        row = self._row(subject)
        return None if row is None else KeyStatus(subject, row.kid, row.created_us, row.erased_us)

    def statuses(self) -> list[KeyStatus]:
        k = person_keys.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(k.subject, k.kid, k.created_us, k.erased_us).order_by(k.subject))
            return [KeyStatus(row.subject, row.kid, row.created_us, row.erased_us) for row in rows]

    def _row(self, subject: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(person_keys).where(person_keys.c.subject == subject)).first()

    def _insert(self, subject: str) -> None:
        """A fresh key, unless the person has a row already (two writers may race: one wins)."""
        values = {
            "subject": subject,
            "kid": secrets.token_hex(16),
            "key": os.urandom(KEY_BYTES),
            "created_us": _now_us(),
        }
        insert = (sqlite if self.engine.dialect.name == "sqlite" else postgresql).insert
        with self.engine.begin() as conn:
            conn.execute(insert(person_keys).values(**values).on_conflict_do_nothing(index_elements=["subject"]))


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
    return create_engine(url, connect_args=options, pool_size=2, max_overflow=4)
