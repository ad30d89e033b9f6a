"""Partner clients (club-administration systems): credentials, access tokens and association authorisations.

A partner client belongs to one tenant. Its ``client_id`` is random and its secret is shown once and stored
only as an argon2 hash. Access tokens are signed (itsdangerous) and carry the tenant, the client's row id, an
expiry and a fingerprint of the current secret hash: rotating the secret or revoking the client makes every
token issued before stop working (a revoked or rotated client is checked on every request).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from apn.auth import hash_password, verify_password
from apn.errors import Conflict, DomainError, NotFound
from apn.extensions import db
from apn.models import Association, PartnerAuthorisation, PartnerClient
from apn.models.base import utcnow
from apn.services.associations import get_by_orgnr
from apn.services.locking import lock_parent
from apn.tenancy import require_tenant_id, system_scope

_TOKEN_SALT = "apn.partner-token.v1"
#: Verified against when the client id is unknown, so a wrong id costs as long as a wrong secret.
_DUMMY_HASH: str | None = None


@dataclass(frozen=True)
class TokenClaims:
    """What a valid access token says: the tenant, the client's row id and the secret fingerprint."""

    tenant_id: int
    partner_id: int
    fingerprint: str
    expires_at: int


def _new_client_id() -> str:
    return "apn_" + secrets.token_hex(12)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _fingerprint(secret_hash: str) -> str:
    return hashlib.sha256(secret_hash.encode()).hexdigest()[:16]


def create_client(name: str) -> tuple[PartnerClient, str]:
    """Register a partner client in the bound tenant; returns the client and its secret (shown once)."""
    tenant_id = require_tenant_id()
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise DomainError("give the partner's name (1–120 characters)", field="name")
    secret = _new_secret()
    client = PartnerClient(tenant_id=tenant_id, name=name, client_id=_new_client_id(),
                           secret_hash=hash_password(secret), active=True)
    db.session.add(client)
    db.session.flush()
    return client, secret


def list_clients() -> list[PartnerClient]:
    """The bound tenant's partner clients, oldest first."""
    require_tenant_id()
    return list(db.session.execute(select(PartnerClient).order_by(PartnerClient.id)).scalars())


def get_client(client_id: str) -> PartnerClient:
    """The bound tenant's partner client with this public client id, or :class:`NotFound`."""
    require_tenant_id()
    client = db.session.execute(
        select(PartnerClient).where(PartnerClient.client_id == (client_id or "").strip())
    ).scalar_one_or_none()
    if client is None:
        raise NotFound("no partner client with this client id in this municipality", field="client_id")
    return client


def rotate_secret(client_id: str) -> tuple[PartnerClient, str]:
    """Give the client a new secret (shown once); tokens issued with the old one stop working."""
    client = get_client(client_id)
    if client.revoked_at is not None:
        raise Conflict("the partner client is revoked", field="client_id")
    secret = _new_secret()
    client.secret_hash = hash_password(secret)
    client.rotated_at = utcnow()
    db.session.flush()
    return client, secret


def revoke(client_id: str) -> PartnerClient:
    """Revoke the client: no new tokens, and its existing tokens stop working at once."""
    client = get_client(client_id)
    if client.revoked_at is None:
        client.revoked_at = utcnow()
    client.active = False
    db.session.flush()
    return client


def authorise(client_id: str, organisationsnummer: str, user_id: int | None = None) -> PartnerAuthorisation:
    """Let the partner read and write the association's data (renews a withdrawn authorisation)."""
    client = get_client(client_id)
    if client.revoked_at is not None or not client.active:
        raise Conflict("the partner client is revoked", field="client_id")
    assoc = get_by_orgnr(organisationsnummer)
    lock_parent(Association.id, assoc.id)  # two authorisations at once: the second finds the first's row
    auth = db.session.get(PartnerAuthorisation, (client.tenant_id, client.id, assoc.id), populate_existing=True)
    if auth is None:
        auth = PartnerAuthorisation(tenant_id=client.tenant_id, partner_client_id=client.id,
                                    association_id=assoc.id, authorised_by_user_id=user_id)
        db.session.add(auth)
    elif auth.withdrawn_at is not None:
        auth.withdrawn_at = None
        auth.authorised_at = utcnow()
        auth.authorised_by_user_id = user_id
    db.session.flush()
    return auth


def withdraw(client_id: str, organisationsnummer: str) -> PartnerAuthorisation:
    """Withdraw the association's authorisation of the partner."""
    client = get_client(client_id)
    assoc = get_by_orgnr(organisationsnummer)
    auth = db.session.get(PartnerAuthorisation, (client.tenant_id, client.id, assoc.id))
    if auth is None or auth.withdrawn_at is not None:
        raise NotFound("the association has not authorised this partner", field="organisationsnummer")
    auth.withdrawn_at = utcnow()
    db.session.flush()
    return auth


def authorised_associations(partner_id: int) -> list[Association]:
    """The bound tenant's associations that authorised the partner (row id) and did not withdraw."""
    require_tenant_id()
    return list(db.session.execute(
        select(Association).join(
            PartnerAuthorisation,
            (PartnerAuthorisation.tenant_id == Association.tenant_id)
            & (PartnerAuthorisation.association_id == Association.id),
        ).where(PartnerAuthorisation.partner_client_id == partner_id, PartnerAuthorisation.withdrawn_at.is_(None))
        .order_by(Association.name, Association.id)
    ).scalars())


def authorised_association_ids(partner_id: int) -> set[int]:
    """Ids of the associations that authorised the partner."""
    require_tenant_id()
    return set(db.session.execute(
        select(PartnerAuthorisation.association_id).where(
            PartnerAuthorisation.partner_client_id == partner_id, PartnerAuthorisation.withdrawn_at.is_(None))
    ).scalars())


# --- tokens ---------------------------------------------------------------------------------------------


def token_ttl() -> int:
    """Lifetime of an access token in seconds (``API_TOKEN_TTL``, default one hour)."""
    return int(current_app.config["API_TOKEN_TTL"])


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN_SALT)


def authenticate(client_id: str, client_secret: str) -> PartnerClient | None:
    """The active client with these credentials, looked up across tenants; None when they are wrong."""
    global _DUMMY_HASH
    client_id = (client_id or "").strip()
    candidates: list[PartnerClient] = []
    if client_id and len(client_id) <= 64:
        with system_scope(db.session()):
            candidates = list(db.session.execute(
                select(PartnerClient).where(PartnerClient.client_id == client_id)).scalars())
    if len(candidates) != 1:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password(secrets.token_hex(8))
        verify_password(_DUMMY_HASH, client_secret or "")
        return None
    client = candidates[0]
    if not verify_password(client.secret_hash, client_secret or ""):
        return None
    if not client.active or client.revoked_at is not None:
        return None
    return client


def issue_token(client: PartnerClient, ttl: int | None = None) -> tuple[str, int]:
    """A signed access token for the client and its lifetime in seconds."""
    ttl = token_ttl() if ttl is None else int(ttl)
    claims = {"t": client.tenant_id, "c": client.id, "f": _fingerprint(client.secret_hash),
              "e": int(time.time()) + ttl}
    return _serializer().dumps(claims), ttl


def read_token(token: str) -> TokenClaims | None:
    """The claims of a well-signed, unexpired token (no database access), else None."""
    if not token or len(token) > 512:
        return None
    try:
        data = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError, UnicodeError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        claims = TokenClaims(int(data["t"]), int(data["c"]), str(data["f"]), int(data["e"]))
    except (KeyError, TypeError, ValueError):
        return None
    if claims.expires_at <= time.time():
        return None
    return claims


def client_for_claims(claims: TokenClaims) -> PartnerClient | None:
    """The client a token names if it is still active and its secret unchanged (tenant must be bound)."""
    client = db.session.get(PartnerClient, (claims.tenant_id, claims.partner_id))
    if client is None or not client.active or client.revoked_at is not None:
        return None
    if _fingerprint(client.secret_hash) != claims.fingerprint:
        return None
    return client


def describe(client: PartnerClient) -> dict:
    """A client as listed by the CLI (never the secret)."""
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"client_id": client.client_id, "name": client.name,
            "status": "revoked" if client.revoked_at is not None or not client.active else "active",
            "created_at": iso(client.created_at), "rotated_at": iso(client.rotated_at),
            "revoked_at": iso(client.revoked_at)}
