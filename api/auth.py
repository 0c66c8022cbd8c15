"""Bearer tokens: random secrets handed out once, kept only as SHA-256 hashes, each with a role.

A token is 32 random bytes (URL-safe base64, ~43 characters): far beyond guessing, so a plain
unsalted SHA-256 is the right hash (a slow password hash protects low-entropy secrets; these are
not). Lookup is by hash, so comparing a presented token never leaks timing about stored ones.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, DateTime, Engine, MetaData, String, Table, insert, select, update

from .policy import ROLES, User

metadata = MetaData()

tokens = Table(
    "tokens", metadata,
    Column("token_id", String(32), primary_key=True),  # public handle: shown in lists, used to revoke
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("rep_id", String(64)),
    Column("team_id", String(64)),
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


class TokenError(ValueError):
    """A token cannot be created as asked; the message says what to pass instead."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_tables(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


def check_binding(role: str, rep_id: str | None, team_id: str | None) -> None:
    """A rep token names its rep, a manager token its team, and no other token names either."""
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


def create_token(engine: Engine, role: str, *, rep_id: str | None = None, team_id: str | None = None,
                 label: str | None = None) -> tuple[str, TokenInfo]:
    """A new token (returned once, never stored) and what was stored about it."""
    check_binding(role, rep_id, team_id)
    secret = secrets.token_urlsafe(32)
    info = TokenInfo(f"tok_{secrets.token_hex(6)}", role, rep_id, team_id, label, datetime.now(UTC), False)
    with engine.begin() as conn:
        conn.execute(insert(tokens).values(token_hash=hash_token(secret), **info.__dict__))
    return secret, info


def authenticate(engine: Engine, token: str) -> User | None:
    """The user a presented token stands for, or None (unknown or revoked)."""
    if not token or len(token) > 200:
        return None
    query = select(tokens.c.token_id, tokens.c.role, tokens.c.rep_id, tokens.c.team_id).where(
        tokens.c.token_hash == hash_token(token), tokens.c.revoked.is_(False))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return User(role=row.role, rep_id=row.rep_id, team_id=row.team_id, token_id=row.token_id)


def revoke_token(engine: Engine, token_id: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(update(tokens).where(tokens.c.token_id == token_id).values(revoked=True))
    return result.rowcount > 0


def list_tokens(engine: Engine) -> list[TokenInfo]:
    query = select(tokens.c.token_id, tokens.c.role, tokens.c.rep_id, tokens.c.team_id, tokens.c.label,
                   tokens.c.created_at, tokens.c.revoked).order_by(tokens.c.created_at)
    with engine.connect() as conn:
        return [TokenInfo(*row) for row in conn.execute(query)]
