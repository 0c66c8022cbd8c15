"""Bearer tokens: random secrets handed out once, kept only as SHA-256 hashes, each with a role.

A token is 32 random bytes (URL-safe base64, ~43 characters): far beyond guessing, so a plain
unsalted SHA-256 is the right hash (a slow password hash protects low-entropy secrets; these are
not). Lookup is by hash, so comparing a presented token never leaks timing about stored ones.

`Principals` remembers a verified token's user for a few seconds (keyed by the token's hash, never
the token), so a read does not query the tokens table each time. A revocation anywhere (this
process, the CLI, another server) changes the count of revoked tokens, which every request reads
anyway (api/probe.py): a changed count drops every remembered principal at once, so a revoked
token is refused on the next request, as before. Unknown tokens are never remembered.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    insert,
    inspect,
    select,
    text,
    update,
)

from projections.db import one_schema_change_at_a_time, writing
from services.policy import ROLES, User

metadata = MetaData()

tokens = Table(
    "tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),  # public handle: shown in lists, used to revoke
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("rep_id", String(64)),
    Column("team_id", String(64)),
    Column("region", String(200)),  # a director's region (added later: ensure_tables adds it to older stores)
    Column("label", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    role: str
    rep_id: str | None
    team_id: str | None
    label: str | None
    created_at: datetime
    revoked: bool
    region: str | None = None


class TokenError(ValueError):
    """A token cannot be created as asked; the message says what to pass instead."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_tables(engine: Engine) -> None:
    """The token table, made once however many processes start together on a fresh store."""
    with writing(engine) as conn:
        one_schema_change_at_a_time(conn)
        metadata.create_all(conn, checkfirst=True)
        columns = {column["name"] for column in inspect(conn).get_columns("tokens")}
        if "region" not in columns:  # a store made before directors: the column they are bound by
            conn.execute(text("ALTER TABLE tokens ADD COLUMN region VARCHAR(200)"))


def check_binding(role: str, rep_id: str | None, team_id: str | None, region: str | None = None) -> None:
    """A rep token names its rep, a manager token its team, a director token its region, and no
    other token names any of them."""
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if role == "rep" and not rep_id:
        raise TokenError("a rep token needs --rep REP_ID (the rep whose data it may see)")
    if role == "manager" and not team_id:
        raise TokenError("a manager token needs --team TEAM_ID (the team they manage)")
    if role != "rep" and rep_id:
        raise TokenError(f"--rep only applies to rep tokens, not {role}")
    if role != "manager" and team_id:
        raise TokenError(f"--team only applies to manager tokens, not {role}")
    if role == "director" and not (region and region.strip() and len(region) <= 200):
        raise TokenError("a director token needs --region REGION (the region they direct, as reps name it)")
    if role != "director" and region:
        raise TokenError(f"--region only applies to director tokens, not {role}")


def create_token(
    engine: Engine,
    role: str,
    *,
    rep_id: str | None = None,
    team_id: str | None = None,
    label: str | None = None,
    region: str | None = None,
) -> tuple[str, TokenInfo]:
    """A new token (returned once, never stored) and what was stored about it."""
    check_binding(role, rep_id, team_id, region)
    secret = secrets.token_urlsafe(32)
    info = TokenInfo(f"tok_{secrets.token_hex(6)}", role, rep_id, team_id, label, datetime.now(UTC), False, region)
    with engine.begin() as conn:
        conn.execute(insert(tokens).values(token_hash=hash_token(secret), **info.__dict__))
    return secret, info


def authenticate(engine: Engine, token: str) -> User | None:
    """The user a presented token stands for, or None (unknown or revoked)."""
    if not acceptable(token):
        return None
    return authenticate_hashed(engine, hash_token(token))


def acceptable(token: str) -> bool:
    """Worth hashing and looking up at all."""
    return bool(token) and len(token) <= 200


PRINCIPAL_TTL = 10.0  # seconds a verified token's user is remembered (a revocation ends it at once)
PRINCIPAL_CAPACITY = 10_000  # remembered tokens at most (then the cache starts afresh)


class Principals:
    """Recently verified tokens: hash → (user, revoked count when verified, expiry). Thread-safe."""

    def __init__(self, ttl: float = PRINCIPAL_TTL, capacity: int = PRINCIPAL_CAPACITY):
        self.ttl = ttl
        self.capacity = capacity
        self._known: dict[str, tuple[User, int, float]] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str, revoked: int) -> User | None:
        """The user of a token verified less than `ttl` ago, with no token revoked since."""
        entry = self._known.get(token_hash)
        if entry is None:
            return None
        user, revoked_then, expires = entry
        if revoked_then != revoked or time.monotonic() >= expires:
            with self._lock:
                if self._known.get(token_hash) is entry:
                    del self._known[token_hash]
            return None
        return user

    def put(self, token_hash: str, user: User, revoked: int) -> None:
        """Remember a user verified *after* `revoked` (the count) was read."""
        with self._lock:
            if len(self._known) >= self.capacity:
                self._known.clear()
            self._known[token_hash] = (user, revoked, time.monotonic() + self.ttl)

    def clear(self) -> None:
        with self._lock:
            self._known.clear()


def authenticate_hashed(engine: Engine, token_hash: str) -> User | None:
    """`authenticate` for a token already checked for length and hashed."""
    query = select(tokens.c.token_id, tokens.c.role, tokens.c.rep_id, tokens.c.team_id, tokens.c.region).where(
        tokens.c.token_hash == token_hash, tokens.c.revoked.is_(False)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return User(role=row.role, rep_id=row.rep_id, team_id=row.team_id, token_id=row.token_id, region=row.region)


def revoke_token(engine: Engine, token_id: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(update(tokens).where(tokens.c.token_id == token_id).values(revoked=True))
    return result.rowcount > 0


def list_tokens(engine: Engine) -> list[TokenInfo]:
    query = select(
        tokens.c.token_id,
        tokens.c.role,
        tokens.c.rep_id,
        tokens.c.team_id,
        tokens.c.label,
        tokens.c.created_at,
        tokens.c.revoked,
        tokens.c.region,
    ).order_by(tokens.c.created_at)
    with engine.connect() as conn:
        return [TokenInfo(*row) for row in conn.execute(query)]
