"""The machine's own references, on the same rows as the ledger's figures.

Each function does the least work its figure could possibly do, with the database driver alone
(sqlite3 or psycopg, no eventsourcing, no SQLAlchemy), over the rows the ledger itself stored:

- raw insert: the stored event rows *and* their ledger entry rows (the two rows the ledger
  writes per event), read back from the store, inserted into an empty copy of the same tables
  (same schema, indexes and pragmas: WAL, synchronous=FULL) with `executemany`, one transaction
  per batch of the same size as the ingest's (PostgreSQL: also with COPY);
- raw scan: every stored event's state, in order, decoded with `orjson.loads` (no untagging,
  no objects: just the bytes to dicts);
- raw sha256: the same state bytes, in order, each hashed after the previous digest (a chain
  over the same bytes; the ledger's chain also hashes a small header per event);
- raw query: the one aggregate a KPI cannot do without (revenue of a scope's rows in the
  window, as known at K) as a hand-written SQL statement over the projected `deal_facts` table.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

Progress = Callable[[int], None]

# ---------------------------------------------------------------- SQLite


def sqlite_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _sqlite_pages(conn: sqlite3.Connection, sql: str, page: int) -> Iterator[list[tuple]]:
    """`sql` has one `?` for the key to continue after; its first column is that key."""
    after = 0
    while True:
        rows = conn.execute(sql, (after, page)).fetchall()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def sqlite_raw_insert(
    source_path: str, target_path: str, batch: int, progress: Progress | None = None
) -> dict[str, Any]:
    """executemany of the ledger's own event and entry rows into an empty copy of its tables."""
    source = sqlite_connect(source_path)
    target = sqlite_connect(target_path)
    ddl = [
        row[0]
        for row in source.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN ('stored_events', 'ledger_entries') "
            "ORDER BY type DESC"
        )
    ]  # tables before indexes
    for statement in ddl:
        target.execute(statement)
    events_sql = (
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
        "WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    entries_sql = "SELECT * FROM ledger_entries WHERE position > ? ORDER BY position LIMIT ?"
    both = zip(_sqlite_pages(source, events_sql, batch), _sqlite_pages(source, entries_sql, batch), strict=False)
    seconds = events_only_seconds = 0.0
    count = 0
    for events, entries in both:
        started = time.perf_counter()
        target.execute("BEGIN")
        target.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", [row[1:] for row in events])
        target.executemany("INSERT INTO ledger_entries VALUES (?,?,?,?,?,?,?,?,?)", entries)
        target.execute("COMMIT")
        seconds += time.perf_counter() - started
        count += len(events)
        if progress:
            progress(len(events))
    # The events table alone as well (the events without their entries), into a second copy.
    target.execute("DROP TABLE stored_events")
    target.execute(source.execute("SELECT sql FROM sqlite_master WHERE name = 'stored_events'").fetchone()[0])
    for events in _sqlite_pages(source, events_sql, batch):
        started = time.perf_counter()
        target.execute("BEGIN")
        target.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", [row[1:] for row in events])
        target.execute("COMMIT")
        events_only_seconds += time.perf_counter() - started
    source.close()
    target.close()
    for suffix in ("", "-wal", "-shm"):
        Path(target_path + suffix).unlink(missing_ok=True)
    return {
        "events": count,
        "seconds": seconds,
        "events_per_s": count / seconds,
        "events_table_only_events_per_s": count / events_only_seconds,
    }


def sqlite_raw_scan(path: str, page: int = 5000, progress: Progress | None = None) -> dict[str, Any]:
    conn = sqlite_connect(path)
    loads = orjson.loads
    count = 0
    started = time.perf_counter()
    for rows in _sqlite_pages(
        conn, "SELECT rowid, state FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?", page
    ):
        for _, state in rows:
            loads(state)
        count += len(rows)
        if progress:
            progress(len(rows))
    seconds = time.perf_counter() - started
    conn.close()
    return {"events": count, "seconds": seconds, "events_per_s": count / seconds}


def sqlite_raw_sha256(path: str, page: int = 10_000, progress: Progress | None = None) -> dict[str, Any]:
    conn = sqlite_connect(path)
    try:
        return _chained_sha256(
            _sqlite_pages(conn, "SELECT rowid, state FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?", page),
            progress,
        )
    finally:
        conn.close()


def _chained_sha256(pages: Iterator[list[tuple]], progress: Progress | None) -> dict[str, Any]:
    """sha256 of each (key, state) row's state after the previous digest, page after page."""
    sha256 = hashlib.sha256
    previous = b"0" * 64
    count = size = 0
    started = time.perf_counter()
    for rows in pages:
        for _, state in rows:
            digest = sha256(previous)
            digest.update(state)
            previous = digest.hexdigest().encode()
            size += len(state)
        count += len(rows)
        if progress:
            progress(len(rows))
    seconds = time.perf_counter() - started
    return {"events": count, "bytes": size, "seconds": seconds, "events_per_s": count / seconds}


def sqlite_raw_query(path: str) -> Callable[[list[str] | None, int, int, int], Any]:
    """A function running the raw revenue aggregate for (reps or None = everyone, lo, hi, known_us)."""
    conn = sqlite_connect(path)

    def query(reps: list[str] | None, lo: int, hi: int, known_us: int) -> Any:
        where, params = "occurred_us >= ? AND occurred_us < ? AND recorded_us <= ?", [lo, hi, known_us]
        if reps is not None:
            where = f"rep_id IN ({','.join('?' * len(reps))}) AND " + where
            params = [*reps, *params]
        return conn.execute(
            f"SELECT SUM(won_cents), SUM(refund_cents), SUM(won_ppb) FROM deal_facts WHERE {where}", params
        ).fetchone()

    return query


# ---------------------------------------------------------------- PostgreSQL


def pg_connect(url: str) -> Any:
    """A psycopg connection on the URL's database, with the `?schema=` of the ledger as search_path."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    schema = parsed.query.get("schema")
    conn = psycopg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password or None,
        dbname=parsed.database or "postgres",
        autocommit=True,
    )
    if schema:
        conn.execute(f'SET search_path TO "{schema}"')
    return conn


def _pg_pages(conn: Any, sql: str, page: int, key: int = 0) -> Iterator[list[tuple]]:
    after = 0
    with conn.cursor() as cursor:
        while True:
            rows = cursor.execute(sql, (after, page)).fetchall()
            if not rows:
                return
            yield rows
            after = rows[-1][key]


def pg_raw_insert(url: str, events_table: str, batch: int, progress: Progress | None = None) -> dict[str, Any]:
    """executemany and COPY of the ledger's own event and entry rows into empty copies of its tables
    (same columns, constraints and indexes), one transaction per batch of the ingest's size."""
    source, target = pg_connect(url), pg_connect(url)
    results: dict[str, Any] = {}
    events_sql = f"SELECT * FROM {events_table} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    entries_sql = "SELECT * FROM ledger_entries WHERE position > %s ORDER BY position LIMIT %s"
    like = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES"
    for method in ("executemany", "copy"):
        target.execute("DROP TABLE IF EXISTS bench_raw_events, bench_raw_entries")
        target.execute(f"CREATE TABLE bench_raw_events (LIKE {events_table} {like})")
        target.execute(f"CREATE TABLE bench_raw_entries (LIKE ledger_entries {like})")
        seconds, count = 0.0, 0
        pages = zip(
            _pg_pages(source, events_sql, batch, key=_event_key(source, events_table)),
            _pg_pages(source, entries_sql, batch),
            strict=False,
        )
        for events, entries in pages:
            started = time.perf_counter()
            with target.transaction(), target.cursor() as cursor:
                if method == "executemany":
                    cursor.executemany(
                        f"INSERT INTO bench_raw_events VALUES ({','.join(['%s'] * len(events[0]))})", events
                    )
                    cursor.executemany(
                        f"INSERT INTO bench_raw_entries VALUES ({','.join(['%s'] * len(entries[0]))})", entries
                    )
                else:
                    with cursor.copy("COPY bench_raw_events FROM STDIN") as copy:
                        for row in events:
                            copy.write_row(row)
                    with cursor.copy("COPY bench_raw_entries FROM STDIN") as copy:
                        for row in entries:
                            copy.write_row(row)
            seconds += time.perf_counter() - started
            count += len(events)
            if progress:
                progress(len(events))
        results[method] = {"events": count, "seconds": seconds, "events_per_s": count / seconds}
    target.execute("DROP TABLE IF EXISTS bench_raw_events, bench_raw_entries")
    source.close()
    target.close()
    return results


def _event_key(conn: Any, events_table: str) -> int:
    """Where notification_id sits among the events table's columns (the paging key)."""
    row = conn.execute(f"SELECT * FROM {events_table} LIMIT 0")
    return [c.name for c in row.description].index("notification_id")


def pg_raw_scan(url: str, events_table: str, page: int = 5000, progress: Progress | None = None) -> dict[str, Any]:
    conn = pg_connect(url)
    loads = orjson.loads
    count = 0
    started = time.perf_counter()
    for rows in _pg_pages(
        conn,
        f"SELECT notification_id, state FROM {events_table} WHERE notification_id > %s "
        f"ORDER BY notification_id LIMIT %s",
        page,
    ):
        for _, state in rows:
            loads(state)
        count += len(rows)
        if progress:
            progress(len(rows))
    seconds = time.perf_counter() - started
    conn.close()
    return {"events": count, "seconds": seconds, "events_per_s": count / seconds}


def pg_raw_sha256(url: str, events_table: str, page: int = 10_000, progress: Progress | None = None) -> dict[str, Any]:
    conn = pg_connect(url)
    try:
        return _chained_sha256(
            _pg_pages(
                conn,
                f"SELECT notification_id, state FROM {events_table} "
                f"WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                page,
            ),
            progress,
        )
    finally:
        conn.close()


def pg_raw_query(url: str) -> Callable[[list[str] | None, int, int, int], Any]:
    conn = pg_connect(url)

    def query(reps: list[str] | None, lo: int, hi: int, known_us: int) -> Any:
        where, params = "occurred_us >= %s AND occurred_us < %s AND recorded_us <= %s", [lo, hi, known_us]
        if reps is not None:
            where = "rep_id = ANY(%s) AND " + where
            params = [reps, *params]
        return conn.execute(
            f"SELECT SUM(won_cents), SUM(refund_cents), SUM(won_ppb) FROM deal_facts WHERE {where}", params
        ).fetchone()

    return query


SCANS: dict[str, Callable[..., dict[str, Any]]] = {"sqlite": sqlite_raw_scan, "postgresql": pg_raw_scan}


def main(argv: list[str] | None = None) -> None:
    """`python -m benchmarks.references scan sqlite PATH | scan postgresql URL EVENTS_TABLE`: the
    raw scan in a fresh process, its result as one JSON line. The benchmark measures it there,
    as it does the rebuild it is the reference of: in the benchmark's own process, after a
    million-event ingest, the same scan ran at 0.52-0.72M events/s, against 0.8-1.0M in a fresh
    process on the same store (a fresh process's heap: the ingest's leaves each new dict slower)."""
    what, kind, *args = sys.argv[1:] if argv is None else argv
    if what != "scan" or kind not in SCANS:
        raise SystemExit("usage: python -m benchmarks.references scan sqlite PATH | scan postgresql URL EVENTS_TABLE")
    sys.stdout.write(orjson.dumps(SCANS[kind](*args)).decode() + "\n")


if __name__ == "__main__":
    main()
