"""Admin accounts and their sessions.

- Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second
  recommendation); a hash made with older parameters is redone at the next login.
- A session is a random 256-bit token in an HttpOnly cookie; the store keeps its SHA-256
  only, so a copy of the database signs nobody in. Sessions end after
  ``admin_session_hours``, at logout, and when the user is deleted.
- Failed logins are counted per user name and per IP address (``rate_events``); past
  ``login_failures`` in 15 minutes, logins are refused whatever the password. Each attempt is
  counted before its password is checked and given back if it was right, so parallel
  attempts cannot outrun the count (feedsvc.ratelimit).
"""

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from feedsvc.errors import N_, Conflict, InvalidInput, NotFound
from feedsvc.models import AdminSession, AdminUser
from feedsvc.ratelimit import give_back, take
from feedsvc.settings import Settings

ROLES = ("admin", "editor")
LOGIN_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,49}$")

_hasher = PasswordHasher()


@cache
def _unknown_user_hash() -> str:
    """Verified when the user name is unknown, so that the answer takes as long as for a
    known one. Made on first need: hashing takes 64 MiB and ~50 ms, which no process should
    pay at import (every gunicorn worker's peak memory would carry it)."""
    return _hasher.hash(secrets.token_hex(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            N_("Mật khẩu quá ngắn"), {"password": N_("ít nhất %(min)d ký tự")}, min=MIN_PASSWORD
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(
            N_("Vai trò không hợp lệ"), {"role": N_("một trong: %(roles)s")}, roles=", ".join(ROLES)
        )


def create_user(
    session: Session, username: str, password: str, role: str, now: datetime
) -> AdminUser:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput(
            N_("Tên đăng nhập không hợp lệ"), {"username": N_("3–50 ký tự a–z, 0–9, '.', '_', '-'")}
        )
    _check_password(password)
    _check_role(role)
    if session.scalar(select(AdminUser.id).where(AdminUser.username == username)):
        raise Conflict(N_("Tài khoản “%(name)s” đã có"), name=username)
    user = AdminUser(
        username=username, password_hash=_hasher.hash(password), role=role, created_at=now
    )
    session.add(user)
    session.flush()
    return user


def ensure_admin(session: Session, username: str, password: str, now: datetime) -> AdminUser | None:
    """Make the first admin account unless an admin exists (the container's start-up, where
    the password comes from a secret file); None when there was one already."""
    if _admins(session):
        return None
    return create_user(session, username, password, "admin", now)


def list_users(session: Session) -> list[AdminUser]:
    return list(session.scalars(select(AdminUser).order_by(AdminUser.username)))


def get_user(session: Session, user_id: int) -> AdminUser:
    user = session.get(AdminUser, user_id)
    if user is None:
        raise NotFound(N_("Không có tài khoản %(id)s"), id=user_id)
    return user


def _admins(session: Session) -> int:
    return session.scalar(select(func.count()).where(AdminUser.role == "admin")) or 0


def set_role(session: Session, user_id: int, role: str) -> AdminUser:
    _check_role(role)
    user = get_user(session, user_id)
    if user.role == "admin" and role != "admin" and _admins(session) == 1:
        raise Conflict(N_("Người quản trị cuối cùng không thể mất quyền quản trị"))
    user.role = role
    return user


def set_password(session: Session, user_id: int, password: str) -> AdminUser:
    """A new password also ends every session of the user."""
    _check_password(password)
    user = get_user(session, user_id)
    user.password_hash = _hasher.hash(password)
    session.execute(delete(AdminSession).where(AdminSession.user_id == user.id))
    return user


def delete_user(session: Session, user_id: int) -> None:
    user = get_user(session, user_id)
    if user.role == "admin" and _admins(session) == 1:
        raise Conflict(N_("Không thể xóa người quản trị cuối cùng"))
    session.delete(user)


def log_in(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    client_ip: str,
    now: datetime,
) -> str:
    """Check the password and open a session; returns the session token for the cookie."""
    username = username.strip().lower()
    attempt = take(
        session,
        (f"login-user:{username}", f"login-ip:{client_ip}"),
        settings.login_failures,
        LOGIN_WINDOW,
        now,
        N_("Quá nhiều lần đăng nhập sai; hãy thử lại sau 15 phút"),
    )  # counted as a failure until the password is right (see feedsvc.ratelimit)
    user = session.scalar(select(AdminUser).where(AdminUser.username == username))
    try:
        _hasher.verify(user.password_hash if user else _unknown_user_hash(), password)
        if user is None:
            raise VerificationError
    except (VerificationError, InvalidHashError):
        raise InvalidInput(N_("Sai tên đăng nhập hoặc mật khẩu")) from None
    give_back(session, attempt)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    token = secrets.token_urlsafe(32)
    session.execute(delete(AdminSession).where(AdminSession.expires_at < now))
    session.add(
        AdminSession(
            token_hash=_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(hours=settings.admin_session_hours),
        )
    )
    return token


def session_user(session: Session, token: str, now: datetime) -> AdminUser | None:
    """The user a session cookie belongs to, if the session is open."""
    found = session.scalar(
        select(AdminSession)
        .options(joinedload(AdminSession.user))
        .where(AdminSession.token_hash == _digest(token), AdminSession.expires_at > now)
    )
    return found.user if found else None


def log_out(session: Session, token: str) -> None:
    session.execute(delete(AdminSession).where(AdminSession.token_hash == _digest(token)))
