"""Idempotency keys, each scoped to its writer.

A client's `event_id` is its own name for an event: sending it again is safe. It is stored in the
ledger entry as a *key*, `"<scope> <event_id>"`, where the scope is the writer's: a rep
(`rep:R-1`), a manager's team (`manager:T-1`), an admin or finance token (`finance:tok_…`, so an
integration keeps its keys with its token), the operator's tools writing the store directly (the
command line, imports, the demo: `operator`), or the
ledger's own commands (`ledger`: closing, approving, adjusting). A client id never holds a space,
so no client can spell a key of another scope: a rep's `close-2026-Q3` is their own key and
cannot stop finance's close, and a conflict (409) can only name the caller's own events.

Keys recorded before scoping are bare event_ids; they still answer a repeat from the writer
(the entry's actor) that recorded them.
"""

from __future__ import annotations

SEPARATOR = " "  # never in a client's event_id (ledger.schemas._ID_PATTERN)
LEDGER_SCOPE = "ledger"  # the ledger's own commands; no token or operator writes in it
OPERATOR_SCOPE = "operator"  # the command line and the operator's own tools
TOKEN_ROLES = ("admin", "finance", "manager", "director", "rep", "auditor")  # actors that write with a token
TOKEN_PREFIX = "tok_"  # an API token's public handle (api/auth.py)


def principal_of(actor: str) -> str:
    """Who wrote, without the token that carried it: `rep:R-1:tok_ab12` → `rep:R-1` (a rep's or a
    team's tokens write as one person); `admin:tok_ab12`, `cli:USER` are themselves."""
    head, _, tail = actor.rpartition(":")
    return head if ":" in head and tail.startswith(TOKEN_PREFIX) else actor


def scope_of(actor: str, *, system: bool = False) -> str:
    """The key scope of a writer recorded as `actor` (`rep:R-1:tok_…`, `finance:tok_…`, `cli:USER`):
    a rep's or team's, whichever of its tokens it used, so a retry with a new token is no new fact."""
    if system:
        return LEDGER_SCOPE
    if actor.partition(":")[0] in TOKEN_ROLES:
        return principal_of(actor)
    return OPERATOR_SCOPE  # `cli:USER`, `import:USER`, `demo:generator`: the operator's own tools


def key_of(scope: str, event_id: str) -> str:
    return f"{scope}{SEPARATOR}{event_id}"


def client_event_id(key: str | None) -> str | None:
    """The event_id a client sent, from its stored key (a bare legacy key is the id itself)."""
    if key is None:
        return None
    return key.rpartition(SEPARATOR)[2]
