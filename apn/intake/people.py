"""Resolve the people named in intake commands to person ids, creating the missing ones in bulk."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, INTEGER

from apn.extensions import db
from apn.identity import IdentityError, encrypt_pnr, normalise_key, parse_personnummer, pnr_hash
from apn.intake.bulk import insert_rows, one_of, take_write_lock
from apn.intake.commands import PersonRef
from apn.models import PartnerPerson, Person, allocate_ids

SEX_VALUES = {"F": "F", "M": "M", "X": "X", "K": "F", "f": "F", "m": "M", "k": "F", "x": "X"}


@dataclass
class PersonProblem:
    """Why a person reference could not be resolved: the field and a plain message."""

    field: str
    message: str


def _external_id(ref: PersonRef) -> str | None:
    """The partner's id of the person in its comparable form (``kid-１`` is ``kid-1``)."""
    return normalise_key(ref.external_id) or None if ref.external_id else None


def _name_key(ref: PersonRef) -> tuple[str, str, dt.date]:
    return ((ref.last_name or "").strip(), (ref.first_name or "").strip(), ref.birth_date)  # type: ignore[return-value]


def check_ref(ref: PersonRef) -> PersonProblem | None:
    """Validate one reference without touching the database."""
    if ref.person_id is not None:
        return None
    if ref.personnummer:
        try:
            parse_personnummer(ref.personnummer)
        except IdentityError as exc:
            return PersonProblem("personnummer", f"personal identity number {exc}")
        return None
    if ref.external_id and not (ref.first_name or ref.birth_date):
        return None  # may be known through the partner's id; resolve() says if not
    missing = [n for n, v in (("first_name", ref.first_name), ("last_name", ref.last_name),
                              ("birth_date", ref.birth_date)) if not v]
    if missing:
        return PersonProblem(missing[0], "a person needs a personal identity number, or first name, last name "
                                         "and birth date")
    if ref.birth_date and (ref.birth_date.year < 1900 or ref.birth_date > dt.date.today()):
        return PersonProblem("birth_date", "birth date is out of range")
    if ref.sex is not None and ref.sex not in SEX_VALUES:
        return PersonProblem("sex", "sex must be F, M or X")
    return None


def resolve(tenant_id: int, refs: list[PersonRef], partner_client_id: int | None = None) -> dict[int, int | PersonProblem]:
    """Map ``id(ref)`` to a person id (creating people as needed) or to the problem with the reference."""
    out: dict[int, int | PersonProblem] = {}
    conn = db.session.connection()
    by_hash: dict[str, list[PersonRef]] = {}
    parsed = {}
    by_name: dict[tuple, list[PersonRef]] = {}
    by_ext: dict[str, list[PersonRef]] = {}
    wanted_ids: dict[int, list[PersonRef]] = {}
    # A batch names the same people many times (a group's roster in every session): each distinct
    # number is validated and hashed once.
    numbers: dict[str, tuple[str, object] | PersonProblem] = {}
    for ref in refs:
        if ref.person_id is None and ref.personnummer:
            known = numbers.get(ref.personnummer)
            if known is None:
                try:
                    pn = parse_personnummer(ref.personnummer)
                    known = (pnr_hash(pn.number), pn)
                except IdentityError as exc:
                    known = PersonProblem("personnummer", f"personal identity number {exc}")
                numbers[ref.personnummer] = known
            if isinstance(known, PersonProblem):
                out[id(ref)] = known
            else:
                parsed[known[0]] = known[1]
                by_hash.setdefault(known[0], []).append(ref)
            continue
        problem = check_ref(ref)
        if problem:
            out[id(ref)] = problem
        elif ref.person_id is not None:
            wanted_ids.setdefault(int(ref.person_id), []).append(ref)
        elif ref.external_id and not (ref.first_name or ref.birth_date):
            by_ext.setdefault(_external_id(ref) or "", []).append(ref)
        else:
            by_name.setdefault(_name_key(ref), []).append(ref)

    if wanted_ids:
        found = set(conn.execute(select(Person.id).where(Person.tenant_id == tenant_id,
                                                          Person.id.in_(list(wanted_ids)))).scalars())
        for pid, rs in wanted_ids.items():
            for r in rs:
                out[id(r)] = pid if pid in found else PersonProblem("person_id", f"unknown person {pid}")

    known_ext: dict[str, int] = {}
    if by_ext:
        known = known_ext = _external_ids(conn, tenant_id, partner_client_id, list(by_ext))
        for ext, rs in by_ext.items():
            for r in rs:
                out[id(r)] = known.get(ext) or PersonProblem(
                    "id", f"person {ext} is not in the register and not known from earlier files")

    # People not stored yet are created here. A concurrent request may be creating the same people: wait
    # for it (advisory locks on the new people's keys, taken in one order), then look again, and insert
    # the people by number so that one stored meanwhile by any other path is skipped, not doubled.
    existing: dict[str, int] = _by_hash(conn, tenant_id, list(by_hash)) if by_hash else {}
    existing_n: dict[tuple, int] = _by_name(conn, tenant_id, list(by_name)) if by_name else {}
    missing = [h for h in by_hash if h not in existing]
    missing_n = [k for k in by_name if k not in existing_n]
    if missing or missing_n:
        _lock_new_people(conn, tenant_id, [("pnr", h) for h in missing] + [("name", *k) for k in missing_n])
        existing.update(_by_hash(conn, tenant_id, missing) if missing else {})
        existing_n.update(_by_name(conn, tenant_id, missing_n) if missing_n else {})
        missing = sorted(h for h in missing if h not in existing)
        missing_n = [k for k in missing_n if k not in existing_n]

    new_rows: list[dict] = []
    for h, pid in zip(missing, allocate_ids(conn, "person", len(missing)), strict=True):
        pn = parsed[h]
        first = by_hash[h][0]
        new_rows.append({
            "tenant_id": tenant_id, "id": pid, "first_name": (first.first_name or "").strip()[:50] or "?",
            "last_name": (first.last_name or "").strip()[:50] or "?", "birth_date": pn.birth_date,
            "sex": pn.sex, "pnr_hash": h, "pnr_encrypted": encrypt_pnr(pn.number),
            "coordination_number": pn.coordination,
        })
    if new_rows:
        insert_rows(conn, Person.__table__, new_rows, on_conflict=("tenant_id", "pnr_hash"))
        existing.update(_by_hash(conn, tenant_id, missing))
    for h, rs in by_hash.items():
        for r in rs:
            out[id(r)] = existing[h]

    new_rows = []
    for k, pid in zip(missing_n, allocate_ids(conn, "person", len(missing_n)), strict=True):
        first = by_name[k][0]
        new_rows.append({
            "tenant_id": tenant_id, "id": pid, "first_name": k[1][:50], "last_name": k[0][:50],
            "birth_date": k[2], "sex": SEX_VALUES.get(first.sex or "X", "X"), "pnr_hash": None,
            "pnr_encrypted": None, "coordination_number": False,
        })
        existing_n[k] = pid
    insert_rows(conn, Person.__table__, new_rows)
    for k, rs in by_name.items():
        for r in rs:
            out[id(r)] = existing_n[k]

    if partner_client_id is not None:
        _remember_external_ids(conn, tenant_id, partner_client_id, refs, out, known_ext)
    return out


def _by_hash(conn, tenant_id: int, hashes: list[str]) -> dict[str, int]:
    """Stored people by the keyed hash of their number: hash -> person id."""
    return dict(conn.execute(select(Person.pnr_hash, Person.id).where(
        Person.tenant_id == tenant_id, one_of(conn, Person.pnr_hash, hashes))).all())


def _by_name(conn, tenant_id: int, keys: list[tuple]) -> dict[tuple, int]:
    """Stored people without a number by (last name, first name, birth date): key -> the first person id."""
    out: dict[tuple, int] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        rows = conn.execute(select(Person.last_name, Person.first_name, Person.birth_date, Person.id).where(
            Person.tenant_id == tenant_id, Person.pnr_hash.is_(None),
            tuple_(Person.last_name, Person.first_name, Person.birth_date).in_(chunk)).order_by(Person.id)).all()
        for ln, fn, bd, pid in rows:
            out.setdefault((ln, fn, bd), pid)
    return out


#: PostgreSQL advisory lock namespace of the creation of people (the clash check has ``0x61706E``).
CREATE_LOCK_NAMESPACE = 0x61706F
#: New people's keys are hashed into this many locks (a power of two), which bounds the locks one
#: transaction holds in PostgreSQL's shared lock table (the clash check takes up to 4,096 more); two new
#: people in one bucket only make their creators wait for each other.
CREATE_LOCK_BUCKETS = 256
_LOCK_SQL = text("SELECT count(pg_advisory_xact_lock(:ns, b)) FROM unnest(:buckets) AS b").bindparams(
    bindparam("buckets", type_=ARRAY(INTEGER)))


def _lock_new_people(conn, tenant_id: int, keys: list[tuple]) -> None:
    """Wait for concurrent transactions creating any of these people; the next read then finds them.

    PostgreSQL: transaction-level advisory locks, in bucket order so that two transactions never wait for
    each other in a circle, held until commit. SQLite: the database's write lock (one writer at a time).
    """
    if not keys:
        return
    if conn.dialect.name != "postgresql":
        take_write_lock(conn)
        return
    buckets = sorted({int.from_bytes(hashlib.sha256(repr((tenant_id, *k)).encode()).digest()[:4], "big")
                      & (CREATE_LOCK_BUCKETS - 1) for k in keys})
    conn.execute(_LOCK_SQL, {"ns": CREATE_LOCK_NAMESPACE, "buckets": buckets})


def _external_ids(conn, tenant_id: int, partner_client_id: int | None, external_ids: list[str]) -> dict[str, int]:
    """The partner's person ids that are known: external id -> person id."""
    if partner_client_id is None:
        return {}
    return dict(conn.execute(select(PartnerPerson.external_id, PartnerPerson.person_id).where(
        PartnerPerson.tenant_id == tenant_id, PartnerPerson.partner_client_id == partner_client_id,
        one_of(conn, PartnerPerson.external_id, external_ids))).all())


def _remember_external_ids(conn, tenant_id: int, partner_client_id: int, refs: list[PersonRef],
                           out: dict[int, int | PersonProblem], known_ext: dict[str, int]) -> None:
    """Store the partner's ids of the people of this batch (``known_ext``: those already looked up)."""
    pairs = {}
    for r in refs:
        pid = out.get(id(r))
        ext = _external_id(r)
        if ext and isinstance(pid, int):
            pairs[ext] = pid
    if not pairs:
        return
    unknown = [e for e in pairs if e not in known_ext]
    known = {e: known_ext[e] for e in pairs if e in known_ext}
    if unknown:
        known.update(_external_ids(conn, tenant_id, partner_client_id, unknown))
    new = [{"tenant_id": tenant_id, "partner_client_id": partner_client_id, "external_id": e, "person_id": p}
           for e, p in pairs.items() if e not in known]
    changed = [(e, p) for e, p in pairs.items() if e in known and known[e] != p]
    if new:
        # A concurrent request may map the same id first: then this one's mapping replaces it, as it would
        # one after the other.
        insert_rows(conn, PartnerPerson.__table__, new, on_conflict=("tenant_id", "partner_client_id", "external_id"),
                    update=("person_id",))
    for e, p in changed:
        conn.execute(PartnerPerson.__table__.update().where(and_(
            PartnerPerson.tenant_id == tenant_id, PartnerPerson.partner_client_id == partner_client_id,
            PartnerPerson.external_id == e)).values(person_id=p))
