"""API bearer tokens: shown once when made, stored only as a SHA-256 digest.

The tokens are 256 random bits, so a fast digest is enough (unlike passwords, nothing can be
guessed from a leaked digest); comparing digests also makes the lookup constant-time in effect.
"""

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.errors import N_, InvalidInput, NotFound
from feedsvc.models import ApiToken
from feedsvc.text import clean_line

TOKEN_PREFIX = "fsv_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, now: datetime) -> tuple[ApiToken, str]:
    """Returns the stored token and its secret value, which is never stored."""
    name = clean_line(name)
    if not name:
        raise InvalidInput(N_("Mã cần có tên"), {"name": N_("không được để trống")})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=_digest(secret), created_at=now)
    session.add(token)
    session.flush()
    return token, secret


def authenticate_token(session: Session, secret: str, now: datetime) -> ApiToken | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None or token.revoked_at is not None:
        return None
    token.last_used_at = now
    return token


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(N_("Không có mã API %(id)s"), id=token_id)
    token.revoked_at = token.revoked_at or now
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
