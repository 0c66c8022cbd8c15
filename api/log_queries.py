"""Reading the log filtered by type and rep (GET /events, the org cache), through the ledger."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from ledger.decoding import LogRecord
from ledger.store import Ledger

PAGE = 5000


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
