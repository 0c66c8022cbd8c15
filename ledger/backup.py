"""Backups with proof: a copy of the store, and beside it the head of its hash chain.

`backup(settings, file)` writes the copy and a manifest (`FILE.head.json`): the chain's head
(position and link) the copy ends at, the number of events, and the sha256 of the copy's bytes.
The copy's chain is verified before the manifest is written, so a manifest only ever vouches
for a copy that verified.

`restore(file, settings)` accepts a copy only if its bytes are those the manifest names and, once
restored into an empty store, its chain verifies from the first event and ends exactly at the
manifest's head; otherwise what was restored is removed again and nothing is left behind.
The read side is not trusted from a copy: run `perfledger rebuild` after a restore (a restored
SQLite file holds the projections of its day; a PostgreSQL dump holds the log and the tokens only).

- SQLite: SQLite's online backup API (`sqlite3.Connection.backup`), page by page: writers go on
  meanwhile, and a copy that a writer changed mid-way is started again by SQLite, so the copy is
  always one consistent moment of the store.
- PostgreSQL: `pg_dump` (custom format) of the log's tables and the tokens, in a snapshot exported
  by a repeatable-read transaction that reads the head first: the dump and the manifest describe
  the same moment. `pg_restore` puts them back into the schema they came from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

from ledger.chain import GENESIS
from ledger.config import Settings
from ledger.recorder import ENTRIES_TABLE

Progress = Callable[[int, int], None]  # (done, total): pages of a SQLite copy, or steps
MANIFEST_SUFFIX = ".head.json"
EVENTS_TABLE = "perfledger_events"  # the library's table for the application named "perfledger"
TOKENS_TABLE = "tokens"
SQLITE_PAGES_PER_STEP = 4096


class BackupError(Exception):
    """A backup or a restore that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    kind: str  # "sqlite" (a database file) or "pg_dump" (pg_dump's custom format)
    position: int  # the last position in the copy
    head: str  # the chain's link at that position
    events: int
    sha256: str  # of the copy's bytes
    taken_at: str  # ISO 8601, UTC
    schema: str | None = None  # PostgreSQL: the schema the tables were dumped from

    def to_json(self) -> dict:
        return asdict(self)


def manifest_path(file: Path) -> Path:
    return file.with_name(file.name + MANIFEST_SUFFIX)


def read_manifest(file: Path) -> Manifest:
    path = manifest_path(file)
    try:
        return Manifest(**json.loads(path.read_text()))
    except FileNotFoundError:
        raise BackupError(f"{path} is missing: a copy is restored only with the head written beside it") from None
    except (ValueError, TypeError) as error:
        raise BackupError(f"{path} is not a backup manifest ({error})") from None


# ---------------------------------------------------------------- backup


def backup(settings: Settings, file: Path, progress: Progress | None = None) -> Manifest:
    """Copy the store into `file` and write its manifest beside it; refuse to overwrite either."""
    for path in (file, manifest_path(file)):
        if path.exists():
            raise BackupError(f"{path} already exists: choose a new file name (a backup never overwrites)")
    url = make_url(settings.database_url)
    partial = file.with_name(file.name + ".partial")
    try:
        if url.get_backend_name() == "sqlite":
            manifest = _backup_sqlite(_sqlite_path(url), partial, progress)
        else:
            manifest = _backup_postgres(url, partial, progress)
        partial.rename(file)
    finally:
        partial.unlink(missing_ok=True)
    manifest_path(file).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return manifest


def _backup_sqlite(source: str, copy: Path, progress: Progress | None) -> Manifest:
    if not Path(source).exists():
        raise BackupError(f"{source} does not exist: there is nothing to back up")
    taken_at = datetime.now(UTC).isoformat()
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(copy)) as dst:

        def step(_status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(total - remaining, total)

        src.backup(dst, pages=SQLITE_PAGES_PER_STEP, progress=step)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    position, head, events = _sqlite_head(copy)
    _verify_copy(Settings(database_url=f"sqlite:///{copy}"), position, head)
    return Manifest("sqlite", position, head, events, _sha256(copy), taken_at)


def _sqlite_head(path: Path) -> tuple[int, str, int]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            row = conn.execute(f"SELECT position, link FROM {ENTRIES_TABLE} ORDER BY position DESC LIMIT 1").fetchone()
            events = conn.execute(f"SELECT count(*) FROM {ENTRIES_TABLE}").fetchone()[0]
        except sqlite3.OperationalError as error:
            raise BackupError(f"{path} holds no ledger ({error})") from None
    return (row[0], row[1], events) if row else (0, GENESIS, 0)


def _backup_postgres(url: URL, dump: Path, progress: Progress | None) -> Manifest:
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not installed: install PostgreSQL's client programs (e.g. postgresql-client)")
    schema = str(url.query.get("schema") or "public")
    taken_at = datetime.now(UTC).isoformat()
    tables = [f"{schema}.{t}" for t in (EVENTS_TABLE, ENTRIES_TABLE, TOKENS_TABLE)]
    with psycopg.connect(_libpq(url), autocommit=False) as conn:
        # The head is read in the snapshot the dump then reads: both are the same moment.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        row = conn.execute(
            f'SELECT position, link FROM "{schema}".{ENTRIES_TABLE} ORDER BY position DESC LIMIT 1'
        ).fetchone()
        events = conn.execute(f'SELECT count(*) FROM "{schema}".{ENTRIES_TABLE}').fetchone()[0]  # type: ignore[index]
        present = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            ).fetchall()
        }
        wanted = [t for t in tables if t.split(".", 1)[1] in present]
        if progress is not None:
            progress(0, 2)
        command = ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dump}", "--no-owner"]
        command += [f"--table={t}" for t in wanted] + [_libpq(url)]
        _run(command, "pg_dump")
        conn.rollback()
    if progress is not None:
        progress(1, 2)
    position, head = (row[0], row[1]) if row else (0, GENESIS)
    return Manifest("pg_dump", position, head, events, _sha256(dump), taken_at, schema)


# ---------------------------------------------------------------- restore


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    database_url: str
    events_checked: int


def restore(file: Path, settings: Settings, progress: Progress | None = None) -> Restored:
    """Restore `file` into the empty store of `settings`, then prove its chain against the manifest;
    on any failure, remove what was restored."""
    manifest = read_manifest(file)
    if not file.exists():
        raise BackupError(f"{file} does not exist")
    if _sha256(file) != manifest.sha256:
        raise BackupError(
            f"{file} is not the copy its manifest describes (its sha256 differs): it was changed or truncated; "
            "restore another backup"
        )
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if (backend == "sqlite") != (manifest.kind == "sqlite"):
        raise BackupError(f"a {manifest.kind} backup cannot be restored into a {backend} store")
    if backend == "sqlite":
        return _restore_sqlite(file, manifest, settings, _sqlite_path(url))
    return _restore_postgres(file, manifest, settings, url, progress)


def _restore_sqlite(file: Path, manifest: Manifest, settings: Settings, target: str) -> Restored:
    path = Path(target)
    if path.exists() and path.stat().st_size > 0:
        raise BackupError(f"{target} already exists: restore into a new file, or move that one away first")
    partial = path.with_name(path.name + ".restoring")
    shutil.copyfile(file, partial)
    try:
        checked = _verify_copy(Settings(database_url=f"sqlite:///{partial}"), manifest.position, manifest.head)
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
    return Restored(manifest, settings.database_url, checked)


def _restore_postgres(
    file: Path, manifest: Manifest, settings: Settings, url: URL, progress: Progress | None
) -> Restored:
    if shutil.which("pg_restore") is None:
        raise BackupError("pg_restore is not installed: install PostgreSQL's client programs (e.g. postgresql-client)")
    schema = str(url.query.get("schema") or "public")
    if manifest.schema and schema != manifest.schema:
        raise BackupError(
            f"this dump holds schema {manifest.schema!r}; restore it into a store with ?schema={manifest.schema} "
            "(in another database if that schema is in use)"
        )
    tables = (EVENTS_TABLE, ENTRIES_TABLE, TOKENS_TABLE)
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        held = [t for t in tables if _pg_rows(conn, schema, t)]
        if held:
            raise BackupError(
                f"the target store already holds {', '.join(held)} in schema {schema!r}: restore into an empty store"
            )
        for table in tables:  # empty leftovers (a store opened but never written): pg_restore makes them
            conn.execute(f'DROP TABLE IF EXISTS "{schema}".{table} CASCADE')
    if progress is not None:
        progress(0, 2)
    try:
        _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(url)}", str(file)], "pg_restore")
        if progress is not None:
            progress(1, 2)
        checked = _verify_copy(settings, manifest.position, manifest.head)
    except BaseException:
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            for table in tables:
                conn.execute(f'DROP TABLE IF EXISTS "{schema}".{table} CASCADE')
        raise
    return Restored(manifest, settings.database_url, checked)


def _pg_rows(conn: psycopg.Connection, schema: str, table: str) -> bool:
    exists = conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s", (schema, table)
    ).fetchone()
    if not exists:
        return False
    return conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{schema}".{table})').fetchone()[0]  # type: ignore[index]


# ---------------------------------------------------------------- shared


def _verify_copy(settings: Settings, position: int, head: str) -> int:
    """The copy's chain verifies from its first event and ends exactly at (position, head)."""
    from ledger.store import Ledger  # the whole ledger, opened on the copy

    ledger = Ledger(settings)
    try:
        report = ledger.verify()
        end = ledger.head()
    finally:
        ledger.close()
    if not report.ok:
        raise BackupError(
            f"the copy's chain does not verify: {report.message} (position {report.first_bad_position}); "
            "it cannot be trusted: use another backup"
        )
    if (end.position, end.link) != (position, head):
        raise BackupError(
            f"the copy ends at position {end.position} ({end.link[:16]}…), not at the head its manifest names "
            f"(position {position}, {head[:16]}…): it is not the copy that was taken; use another backup"
        )
    return report.events_checked


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite store has nothing to back up or restore into: use a file")
    return url.database


def _libpq(url: URL) -> str:
    """A libpq connection string for pg_dump, pg_restore and psycopg (no SQLAlchemy driver, no schema)."""
    plain = url.set(drivername="postgresql").difference_update_query(["schema"])
    return plain.render_as_string(hide_password=False)


def _run(command: list[str], name: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
    if result.returncode != 0:
        raise BackupError(f"{name} failed: {result.stderr.strip() or result.stdout.strip()}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
