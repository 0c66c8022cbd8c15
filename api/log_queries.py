"""Reading the log filtered by type and rep (GET /events, the org cache), through the ledger."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from ledger.decoding import LogRecord, decoded
from ledger.store import Ledger

PAGE = 5000
CHUNK = 200  # rows read at a time while a page is filled up to its bytes


class LogReader:
    """Filtered pages of the log; the filters run in SQL on the ledger's indexed entries."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def page(
        self,
        after: int,
        limit: int,
        *,
        types: Collection[str] | None = None,
        reps: Collection[str] | None = None,
        upto: int | None = None,
    ) -> list[LogRecord]:
        """Events with position > after (and <= upto), of these types and reps, in position order."""
        return self.ledger.read_log(
            after,
            limit,
            upto=upto,
            types=None if types is None else sorted(types),
            rep_ids=None if reps is None else sorted(reps),
        )

    def page_within(
        self,
        after: int,
        limit: int,
        max_bytes: int,
        *,
        types: Collection[str] | None = None,
        reps: Collection[str] | None = None,
    ) -> tuple[list[LogRecord], bool]:
        """Up to `limit` events whose stored bytes add up to at most `max_bytes` (always at least
        one), and whether more follow: a page's memory is bounded whatever its events hold."""
        kept: list = []
        size, cursor, more = 0, after, False
        type_list = None if types is None else sorted(types)
        rep_list = None if reps is None else sorted(reps)
        while not more:
            want = min(CHUNK, limit - len(kept) + 1)  # one beyond the limit says whether more follow
            chunk = self.ledger.read_stored(cursor, want, types=type_list, rep_ids=rep_list)
            for row in chunk:
                weight = len(row[7] or b"")
                if len(kept) == limit or (kept and size + weight > max_bytes):
                    more = True
                    break
                kept.append(row)
                size += weight
            if len(chunk) < want:
                break
            cursor = chunk[-1][0]
        return self.ledger.opened(decoded(kept)), more  # personal fields opened, as every reader sees them

    def iterate(
        self, after: int, *, types: Collection[str] | None = None, upto: int | None = None
    ) -> Iterator[LogRecord]:
        while True:
            records = self.page(after, PAGE, types=types, upto=upto)
            yield from records
            if len(records) < PAGE:
                return
            after = records[-1].position

    def head_position(self) -> int:
        return self.ledger.head().position
