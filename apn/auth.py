"""Signing in: the user loader, the session generation and password hashing (argon2).

Sign-in methods are providers: the password form is one; an e-ID provider (an OpenID Connect broker for
BankID/Freja) can be added beside it, because a session only ever stores the user id and the user's
session generation (see :func:`start_session_of`).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import session

from apn.extensions import db, login_manager
from apn.models import User

_hasher = PasswordHasher()
#: The session key holding the user's session generation at sign-in.
SESSION_GENERATION_KEY = "_apn_gen"
_dummy_hash: str | None = None


def hash_password(password: str) -> str:
    """argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the stored hash.

    Without a stored hash (unknown address, account without a password) the same argon2 work is done
    against a dummy hash, so the answer takes as long as for an account that exists.
    """
    global _dummy_hash
    if not stored:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash("apn dummy password, never matches")
        stored, password = _dummy_hash, password + "\x00never"
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def start_session_of(user: User) -> None:
    """Remember the user's session generation in the (fresh) session; called at every sign-in."""
    session[SESSION_GENERATION_KEY] = int(user.session_generation or 0)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The signed-in user, or None when the account is gone or inactive, or its sessions were ended since."""
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    if user is None or not user.active:
        return None
    if session.get(SESSION_GENERATION_KEY) != int(user.session_generation or 0):
        return None
    return user
