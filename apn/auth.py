"""Signing in: the user loader, the session generation and password hashing (argon2).

Sign-in methods are providers: the password form is one; an e-ID provider (an OpenID Connect broker for
BankID/Freja) can be added beside it, because a session only ever stores the user id and the user's
session generation (see :func:`start_session_of`).
"""

from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, session

from apn.extensions import db, login_manager
from apn.models import User

#: ``PASSWORD_HASH_COST`` → argon2id parameters. ``default`` is argon2-cffi's own (RFC 9106 low-memory:
#: 3 passes over 64 MiB); ``cheapest`` exists for the test suite only, where a hash costs 0.5–1 s otherwise.
#: A stored hash carries its own parameters, so verification works whatever the setting was at hashing.
HASH_COSTS = {"default": profiles.RFC_9106_LOW_MEMORY, "cheapest": profiles.CHEAPEST}
_hashers: dict[str, PasswordHasher] = {}
#: The session key holding the user's session generation at sign-in.
SESSION_GENERATION_KEY = "_apn_gen"
_dummy_hashes: dict[str, str] = {}


def _cost() -> str:
    cost = current_app.config.get("PASSWORD_HASH_COST", "default")
    if cost not in HASH_COSTS:
        raise ValueError(f"PASSWORD_HASH_COST must be one of {', '.join(HASH_COSTS)}")
    return cost


def _hasher() -> PasswordHasher:
    cost = _cost()
    if cost not in _hashers:
        _hashers[cost] = PasswordHasher.from_parameters(HASH_COSTS[cost])
    return _hashers[cost]


def hash_password(password: str) -> str:
    """argon2id hash of a password."""
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the stored hash.

    Without a stored hash (unknown address, account without a password) the same argon2 work is done
    against a dummy hash, so the answer takes as long as for an account that exists.
    """
    hasher = _hasher()
    if not stored:
        cost = _cost()
        if cost not in _dummy_hashes:
            _dummy_hashes[cost] = hasher.hash("apn dummy password, never matches")
        stored, password = _dummy_hashes[cost], password + "\x00never"
        try:
            hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return hasher.verify(stored, password)
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
