"""Reading the raw log: pages by position (filtered by type and rep), events by position, the head,
knowledge times, and a log seen only up to a position (`BoundedLog`).

`LogReading` is the reading half of `Ledger` (`ledger.store`); it runs plain SQL over the event
store's own tables and the ledger's entries, on SQLite or PostgreSQL alike.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg.rows import tuple_row

from ledger.chain import GENESIS
from ledger.config import Settings
from ledger.decoding import LogRecord, StoredEvent, decoded, to_log_record
from ledger.idempotency import TOKEN_PREFIX, key_of, principal_of, scope_of
from ledger.keys import KeyStore
from ledger.personal import open_records


@dataclass(frozen=True)
class Head:
    position: int
    link: str


class LogReading:
    """The raw log of a ledger, read by position. Needs the ledger's event store (`recorder`)."""

    settings: Settings
    recorder: Any
    is_postgres: bool

    @property
    def keys(self) -> KeyStore:
        raise NotImplementedError  # the ledger's key store, given by the class that reads

    def entries_by_event_id(self, scope: str, event_ids: list[str]) -> dict[str, tuple[int, str, str | None]]:
        """position, content hash and rep of each event_id among `event_ids` recorded in the
        writer's key scope."""
        keys = {key_of(scope, event_id): event_id for event_id in event_ids}
        wanted = [*keys, *event_ids]
        columns = f"SELECT event_id, position, content_hash, rep_id, actor FROM {self.recorder.entries_table} "
        if self.is_postgres:
            # One array, not an IN list of 2,000 placeholders (a batch of 1,000 ids: its keys
            # and its bare ids). Sent as one JSON text (orjson: the driver dumps a list of
            # strings in Python, ~4 ms a batch) and unpacked in a subquery, so the planner
            # sees an array it cannot count: given 2,000 values it costed them against the
            # table and scanned all of it in parallel (51 ms at 200,000 entries, growing with
            # the log); now always the event_id index (2 ms). docs/performance.md, PostgreSQL.
            rows = self._query(
                columns + "WHERE event_id = ANY(ARRAY(SELECT json_array_elements_text({p}::json)))",
                None,
                (orjson.dumps(wanted).decode(),),
            )
        else:
            rows = self._query(columns + "WHERE event_id IN ({in})", wanted)
        found: dict[str, tuple[int, str, str | None]] = {}
        for key, position, content_hash, rep_id, actor in rows:
            if key in keys:
                found[keys[key]] = (position, content_hash, rep_id)
            elif scope_of(actor) == scope:  # a bare key from before scoping, by this same writer
                found.setdefault(key, (position, content_hash, rep_id))
        return found

    def count_recorded_since(self, event_type: str, rep_id: str, actor: str, since_us: int) -> int:
        """How many events of a type for a rep this actor recorded after a knowledge time, with
        any of its tokens (`rep:R-1`, `rep:R-1:tok_…`): a second token is no second allowance."""
        principal = principal_of(actor)
        with_token = f"{principal}:{TOKEN_PREFIX}"
        rows = self._query(
            f"SELECT COUNT(*) FROM {self.recorder.entries_table} "
            "WHERE rep_id = {p} AND type = {p} AND (actor = {p} OR substr(actor, 1, {p}) = {p}) AND recorded_at > {p}",
            None,
            (rep_id, event_type, principal, len(with_token), with_token, since_us),
        )
        return int(rows[0][0])

    def closed_periods(self) -> set[str]:
        """The names of every closed period (a handful: one close a month at most)."""
        return {record.data["period"] for record in self.read_log(0, 100_000, types=["PeriodClosed"])}

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
        return self.opened(decoded(self.read_stored(after, limit, upto=upto, types=types, rep_ids=rep_ids)))

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
        fewer made per event, on the hot path of every rebuild."""
        return self._log_rows(after, limit, upto, types, rep_ids, walk, details)

    def events_at(self, positions: Sequence[int], recorded_in: tuple[int, ...] | None = None) -> list[LogRecord]:
        """The events at the given positions (an explanation's evidence), in position order;
        with `recorded_in` = (lo, hi), only those recorded in (lo, hi] (knowledge time, µs),
        chosen by the database: a replay of an approved quarter asks which of a rep's thousands
        of evidence positions were recorded since the approval, most often none, and had read
        every one's stored event to drop it here (8.9 s of a 10.6 s replay of 496 approved reps
        on PostgreSQL at a million events: docs/performance.md)."""
        wanted = sorted(set(positions))
        found: list[LogRecord] = []
        window = "" if recorded_in is None else "l.recorded_at > {p} AND l.recorded_at <= {p} AND "
        params: tuple[int, ...] = () if recorded_in is None else tuple(recorded_in)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._query(
                "SELECT l.position, l.recorded_at, l.type, l.rep_id, l.actor, l.event_id, e.topic, e.state "
                f"FROM {self._events_join()} WHERE {window}l.position IN ({{in}}) ORDER BY l.position",
                chunk,
                params,
            )
            found.extend(to_log_record(*row) for row in rows)
        return self.opened(found)

    def opened(self, records: list[LogRecord]) -> list[LogRecord]:
        """`records` with their personal fields opened (read as erased where the key is gone)."""
        return open_records(records, self.keys)

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
        """The last position recorded at or before a knowledge time (0 if none): the log as known then.

        By bisection over positions, one connection, about log2(head) lookups by primary key:
        positions run without gaps and knowledge time grows with position (the recorder makes it
        strictly increasing), and no index is on `recorded_at`, so `MAX(position) WHERE
        recorded_at <= t` read the entries from one end until it passed t."""
        with self._statements() as run:
            return self._bisect(run, known_us)

    def positions_at(self, times: Sequence[int]) -> dict[int, int]:
        """`position_at` of each knowledge time: the two ends bisected, and the knowledge times of
        the entries between them read in one query (two numbers an entry) to place the others (a
        replay of an approved quarter asks it for every rep's approval)."""
        if not times:
            return {}
        with self._statements() as run:
            first, last = self._bisect(run, min(times)), self._bisect(run, max(times))
            stretch = [
                recorded_at
                for (recorded_at,) in run(
                    f"SELECT recorded_at FROM {self.recorder.entries_table} "
                    "WHERE position > {p} AND position <= {p} ORDER BY position",
                    (first, last),
                )
            ]
        if len(stretch) != last - first:  # a gap in the positions (`verify` names it): ask the database
            return {t: self._scanned_position_at(t) for t in set(times)}
        return {t: first + bisect_right(stretch, t) for t in set(times)}

    def _bisect(self, run: Callable[[str, tuple], list[tuple]], known_us: int) -> int:
        table = self.recorder.entries_table
        head = run(f"SELECT position, recorded_at FROM {table} ORDER BY position DESC LIMIT 1", ())
        if not head or head[0][1] <= known_us:
            return head[0][0] if head else 0
        lo, hi = 0, head[0][0]  # recorded_at(lo) <= known_us (position 0: the empty log) < recorded_at(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            found = run(f"SELECT recorded_at FROM {table} WHERE position = {{p}}", (mid,))
            if not found:  # a gap in the positions (`verify` names it): ask the database
                return self._scanned_position_at(known_us)
            lo, hi = (mid, hi) if found[0][0] <= known_us else (lo, mid)
        return lo

    def _scanned_position_at(self, known_us: int) -> int:
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
        the stretch read every entry of it, on a rebuild's path).
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
        (`projections.accel.in_store`). On PostgreSQL, for a statement run in the same database
        (the tables named as the recorder names them, `schema` unused): `state` is the stored
        JSON as jsonb and the parameters are psycopg's (`%(type)s`). An entry whose event is
        missing is left out (`verify` names it).

        PostgreSQL: each entry's event is looked up by its notification id (a LATERAL subquery,
        kept apart by OFFSET 0: a nested loop over the stretch's entries). Joined plainly, the
        planner hashed the stretch's entries and scanned every event of the log for them, once
        a stretch: a replay of the log stretch by stretch grew with the square of its length
        (1M events: 0.4 s of a 100,000-position stretch's 3 s; docs/performance.md)."""
        if self.is_postgres:
            return (
                "SELECT l.position AS position, l.recorded_at AS recorded_at, "
                "convert_from(e.state, 'UTF8')::jsonb AS state "
                f"FROM {self.recorder.entries_table} l JOIN LATERAL (SELECT state FROM {self.recorder.events_table} "
                f"WHERE {self.recorder.notification_key} = l.notification_id OFFSET 0) AS e ON true "
                "WHERE l.type = %(type)s AND l.position > %(after)s AND l.position <= %(upto)s"
            )
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

    def last_position_except(self, event_types: Sequence[str], upto: int) -> int:
        """The position of the last entry at or before `upto` of a type other than `event_types`
        (0: none): read from the end of the log backwards, past the entries of those types."""
        other = " AND type NOT IN ({in})" if event_types else ""  # (an empty IN list is no SQL)
        rows = self._query(
            f"SELECT position FROM {self.recorder.entries_table} WHERE position <= {{p}}{other} "
            "ORDER BY position DESC LIMIT 1",
            list(event_types) if event_types else None,
            (upto,),
        )
        return rows[0][0] if rows else 0

    def recorded_at_of(self, position: int) -> int | None:
        """Knowledge time (µs) of the entry at `position`: "what the ledger knew then" as a cut-off."""
        rows = self._query(
            f"SELECT recorded_at FROM {self.recorder.entries_table} WHERE position = {{p}}", None, (position,)
        )
        return rows[0][0] if rows else None

    def link_at(self, position: int) -> str | None:
        rows = self._query(f"SELECT link FROM {self.recorder.entries_table} WHERE position = {{p}}", None, (position,))
        return rows[0][0] if rows else None

    def _query(self, sql: str, in_values: list[Any] | None, params: tuple = ()) -> list[tuple]:
        mark = "%s" if self.is_postgres else "?"
        values = list(params)
        if in_values is not None:
            sql = sql.replace("{in}", ",".join([mark] * len(in_values)))
            values.extend(in_values)
        sql = sql.replace("{p}", mark)
        return self._execute(sql, values)

    def _execute(self, sql: str, values: list[Any]) -> list[tuple]:
        # The log's reads on PostgreSQL are planned for their parameters every time, never prepared:
        # psycopg prepares a statement on its fifth run, and the server may then settle on a generic
        # plan. For a walk of one type in a range of positions (`_log_rows`) that plan was the primary
        # key's range, filtering 10M entries for a rare type: 3.3 s, against 0.3 ms for the
        # (type, position) index the actual values pick (docs/performance.md, ten million events).
        if self.is_postgres:
            with self.recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
                curs.execute(sql, values, prepare=False)
                return curs.fetchall() if curs.description else []
        with self.recorder.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None  # plain tuples from the driver (this cursor only), not sqlite3.Row
            c.execute(sql, values)
            return c.fetchall()

    @contextmanager
    def _statements(self) -> Iterator[Callable[[str, tuple], list[tuple]]]:
        """A runner of several statements (`{p}` for each parameter) on one connection."""
        mark = "%s" if self.is_postgres else "?"
        if self.is_postgres:
            with self.recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:

                def run_pg(sql: str, params: tuple) -> list[tuple]:
                    curs.execute(sql.replace("{p}", mark), params, prepare=False)
                    return curs.fetchall()

                yield run_pg
            return
        with self.recorder.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None

            def run_sqlite(sql: str, params: tuple) -> list[tuple]:
                c.execute(sql.replace("{p}", mark), params)
                return c.fetchall()

            yield run_sqlite

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
        log, skipping the others costs less (docs/performance.md has the measurement).
        """
        if (types is not None and not types) or (rep_ids is not None and not rep_ids):
            return []
        where = ["l.position > {p}"]
        params: list[object] = [after]
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


_MAX_WALKS = 50  # index walks merged by `_log_rows`; SQLite allows 500 terms in a compound SELECT


class BoundedLog:
    """A ledger's log seen only up to a position: what a store would have held back then (the
    audit's scratch rebuild, a rebuild's worker process, the benchmark's prefix)."""

    def __init__(self, ledger: LogReading, upto: int):
        self.ledger, self.upto = ledger, upto

    @property
    def settings(self) -> Settings:
        return self.ledger.settings

    def read_log(self, after: int = 0, limit: int = 1000, **filters: Any) -> list[LogRecord]:
        return self.opened(decoded(self.read_stored(after, limit, **filters)))

    def opened(self, records: list[LogRecord]) -> list[LogRecord]:
        return self.ledger.opened(records)

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
