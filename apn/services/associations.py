"""Associations: registration with a validated organisation number and payout account."""

from __future__ import annotations

from sqlalchemy import select

from apn.errors import Conflict, DomainError, NotFound
from apn.extensions import db
from apn.identity import IdentityError, ascii_digits, normalise_orgnr
from apn.models import Association, Tenant
from apn.models.association import PAYOUT_METHODS
from apn.services.locking import lock_parent
from apn.tenancy import require_tenant_id


def validate_payout_account(method: str | None, account: str | None) -> str | None:
    """Digits of a Bankgiro (7–8), Plusgiro (2–8) or bank account (clearing 4–5 + account, 8–16 digits)."""
    if not method and not account:
        return None
    if method not in PAYOUT_METHODS:
        raise DomainError("must be bankgiro, plusgiro or bank", field="payout_method")
    try:  # other Unicode digits, dashes and spaces read as what they are; isdigit() would take '²'
        digits = ascii_digits(account, "-").replace("-", "")
    except IdentityError:
        digits = ""
    if not digits:
        raise DomainError("an account number has digits only (dashes and spaces are ignored)",
                          field="payout_account")
    lengths = {"bankgiro": (7, 8), "plusgiro": (2, 8), "bank": (8, 16)}[method]
    if not lengths[0] <= len(digits) <= lengths[1]:
        raise DomainError(f"a {method} number has {lengths[0]}–{lengths[1]} digits", field="payout_account")
    return digits


def create_association(name: str, organisationsnummer: str, *, contact_name: str | None = None,
                       contact_email: str | None = None, payout_method: str | None = None,
                       payout_account: str | None = None, disability_association: bool = False) -> Association:
    """Register an association in the bound tenant."""
    tenant_id = require_tenant_id()
    if not (name or "").strip():
        raise DomainError("the name is missing", field="name")
    try:
        orgnr = normalise_orgnr(organisationsnummer)
    except IdentityError as exc:
        raise DomainError(f"organisation number {exc}", field="organisationsnummer") from exc
    account = validate_payout_account(payout_method, payout_account)
    lock_parent(Tenant.id, tenant_id)  # two registrations of one number at once: the second is told so
    if db.session.execute(select(Association.id).where(Association.organisationsnummer == orgnr)).first():
        raise Conflict("an association with this organisation number is registered already",
                       field="organisationsnummer")
    assoc = Association(tenant_id=tenant_id, name=name.strip(), organisationsnummer=orgnr,
                        contact_name=contact_name, contact_email=contact_email,
                        payout_method=payout_method if account else None, payout_account=account,
                        disability_association=disability_association)
    db.session.add(assoc)
    db.session.flush()
    return assoc


def get_by_orgnr(organisationsnummer: str) -> Association:
    """The bound tenant's association with this organisation number, or :class:`NotFound`."""
    try:
        orgnr = normalise_orgnr(organisationsnummer)
    except IdentityError as exc:
        raise DomainError(f"organisation number {exc}", field="organisationsnummer") from exc
    assoc = db.session.execute(select(Association).where(Association.organisationsnummer == orgnr)).scalar_one_or_none()
    if assoc is None:
        raise NotFound("no association with this organisation number in this municipality",
                       field="organisationsnummer")
    return assoc
