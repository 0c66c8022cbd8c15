"""What the write side answers when it refuses a batch. Nothing is written in any of these cases."""

from __future__ import annotations

from ledger.schemas import Problem


class LedgerError(Exception):
    """Base of the ledger's refusals."""


class InvalidBatch(LedgerError):
    """Some events of a batch are malformed or break a rule; `problems` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"event {first.index}: {first.field}: {first.message}{more}; nothing was recorded")


class ConflictError(LedgerError):
    """Another writer got there first, or an event_id was reused with other content."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = problems or []
        super().__init__(message)


class RuleViolation(LedgerError):
    """Raised by an aggregate when a command would break an invariant."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
