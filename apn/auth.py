"""Signing in: the user loader and password hashing (argon2).

Sign-in methods are providers: the password form is one; an e-ID provider (an OpenID Connect broker for
BankID/Freja) can be added beside it, because a session only ever stores the user id.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from apn.extensions import db, login_manager
from apn.models import User

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the stored hash."""
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
