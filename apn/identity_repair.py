"""Repair of identities stored before every input was normalised (issue 11 item 1).

Until the fix, a personal number typed with other Unicode digits (fullwidth ``２０１０…``, Arabic-Indic …)
was accepted as it was: encrypted and hashed in that spelling. Such a child could be stored twice in one
municipality (one row under the hash of the ASCII digits, one under the hash of the other spelling) and
paid twice; and the old-spelling row can never be matched again. Partner keys (session codes, card
numbers, partner person ids) stored with such characters no longer match what the normalised channels
send.

:func:`renormalise` repairs one or every tenant, on a connection, in system scope:

* every stored number is decrypted and normalised (:func:`apn.identity.parse_personnummer`); a number
  whose text changes is encrypted and hashed again;
* when that makes two people of one tenant the same person, the younger row is merged into the older one:
  attendance, roster memberships, partner person ids, the names associations typed and clash flags move
  to the survivor; rows that would collide (the same session twice: the double count) are dropped, and
  each such session gets a ``listed_twice`` flag as the intake would give it; the duplicate is deleted and
  an audit entry records the ids (never the number);
* the clash check runs again over the sessions of every person whose number changed;
* partner keys are folded with :func:`apn.identity.normalise_key`; a key whose folded form is already
  taken is left as it is and reported (nothing is deleted).

Only rows that change are written. The function runs the same from the migration
``0007_normalise_identities`` and from ``flask people renormalise``; a second run finds nothing to do.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken
from sqlalchemy import and_, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

from apn.identity import IdentityError, decrypt_pnr, encrypt_pnr, normalise_key, parse_personnummer, pnr_hash
from apn.models import (
    ActivitySession,
    AssociationPersonName,
    Attendance,
    AuditEntry,
    ClashFlag,
    Group,
    GroupMember,
    PartnerPerson,
    Person,
    Tenant,
    allocate_ids,
)

logger = logging.getLogger(__name__)

#: Audit actions written by the repair.
MERGE_ACTION = "person.merge"
RENORMALISE_ACTION = "person.renormalise"

_person = Person.__table__
_att = Attendance.__table__
_member = GroupMember.__table__
_pp = PartnerPerson.__table__
_name = AssociationPersonName.__table__
_flag = ClashFlag.__table__
_audit = AuditEntry.__table__
_session = ActivitySession.__table__
_group = Group.__table__
_tenant = Tenant.__table__


@dataclass
class RepairReport:
    """What a repair changed; ids only, never a number or a key."""

    tenants: int = 0
    numbers_renormalised: int = 0
    people_merged: int = 0
    attendance_moved: int = 0
    attendance_dropped: int = 0
    memberships_moved: int = 0
    memberships_dropped: int = 0
    keys_renormalised: int = 0
    flags_created: int = 0
    flags_removed: int = 0
    #: (tenant id, surviving person id, deleted person id) per merge.
    merges: list[tuple[int, int, int]] = field(default_factory=list)
    #: (tenant id, person id) whose stored number could not be decrypted or is not a valid number.
    unreadable: list[tuple[int, int]] = field(default_factory=list)
    #: (table, tenant id, row reference) of partner keys left as they were: the folded key is taken, empty
    #: or too long. The reference is the row's id (for ``partner_person`` the person id).
    key_collisions: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(self.numbers_renormalised or self.people_merged or self.keys_renormalised
                    or self.flags_created or self.flags_removed)

    def summary(self) -> str:
        """One line for logs and the CLI (counts and ids only)."""
        return (f"{self.tenants} tenants: {self.numbers_renormalised} numbers normalised, "
                f"{self.people_merged} people merged, {self.attendance_moved} attendances moved, "
                f"{self.attendance_dropped} double attendances dropped, {self.keys_renormalised} partner keys "
                f"normalised, {len(self.key_collisions)} partner keys left (taken), "
                f"{len(self.unreadable)} numbers unreadable; clash flags +{self.flags_created} "
                f"-{self.flags_removed}")


def renormalise(conn: Connection, tenant_ids: list[int] | None = None) -> RepairReport:
    """Repair the stored identities and partner keys of ``tenant_ids`` (default: every tenant).

    Runs on ``conn`` in its transaction, in system scope (on PostgreSQL ``app.all_tenants`` is set for the
    transaction, as the clash check reads and writes other tenants' flags); flushes nothing through the ORM
    and never commits. Encryption and hash keys come from ``current_app.config``.
    """
    if conn.dialect.name == "postgresql":
        # The tables' row-level security binds their owner too: this transaction sees every tenant.
        conn.execute(text("SELECT set_config('app.all_tenants', 'on', true)"))
    if tenant_ids is None:
        tenant_ids = list(conn.execute(select(_tenant.c.id).order_by(_tenant.c.id)).scalars())
    report = RepairReport()
    for tid in tenant_ids:
        report.tenants += 1
        _repair_people(conn, tid, report)
        _repair_keys(conn, tid, report)
    if report.changed or report.unreadable or report.key_collisions:
        logger.info("identity repair: %s", report.summary())
    return report


# --- people ---------------------------------------------------------------------------------------------

def _repair_people(conn: Connection, tid: int, report: RepairReport) -> None:
    """Renormalise the numbers of one tenant, merge the people that turn out to be one, recheck clashes."""
    rows = conn.execute(select(_person.c.id, _person.c.created_at, _person.c.pnr_encrypted)
                        .where(_person.c.tenant_id == tid, _person.c.pnr_encrypted.is_not(None))
                        .order_by(_person.c.id)).all()
    changed: dict[int, tuple[str, str]] = {}  # person id -> (canonical number, its hash)
    age: dict[int, tuple] = {}
    for pid, created_at, token in rows:
        age[pid] = (created_at is None, created_at or dt.datetime.min, pid)
        try:
            plain = decrypt_pnr(token)
            number = parse_personnummer(plain).number
        except (InvalidToken, IdentityError, ValueError):
            report.unreadable.append((tid, pid))
            continue
        if number != plain:
            changed[pid] = (number, pnr_hash(number))
    if not changed:
        return
    # Who holds each new hash today (people stored in ASCII digits, or already repaired).
    new_hashes = sorted({h for _n, h in changed.values()})
    holders: dict[str, set[int]] = {}
    for i in range(0, len(new_hashes), 500):
        for pid, h in conn.execute(select(_person.c.id, _person.c.pnr_hash).where(
                _person.c.tenant_id == tid, _person.c.pnr_hash.in_(new_hashes[i:i + 500]))):
            holders.setdefault(h, set()).add(pid)
    for pid, (_n, h) in changed.items():
        holders.setdefault(h, set()).add(pid)
    recheck: set[int] = set()
    listed_twice: dict[int, set[int]] = {}
    now = dt.datetime.now(dt.UTC)
    for h in new_hashes:
        people = sorted(holders[h], key=lambda p: age.get(p, (True, dt.datetime.min, p)))
        survivor, duplicates = people[0], people[1:]
        for dup in duplicates:
            for sid in _merge(conn, tid, survivor, dup, report, now):
                listed_twice.setdefault(sid, set()).add(survivor)
        if survivor in changed:
            number, new_hash = changed[survivor]
            conn.execute(update(_person).where(_person.c.tenant_id == tid, _person.c.id == survivor)
                         .values(pnr_hash=new_hash, pnr_encrypted=encrypt_pnr(number)))
            report.numbers_renormalised += 1
            _audit_row(conn, tid, RENORMALISE_ACTION, survivor, None, {"person_id": survivor}, now)
        # Both the merged person's and a re-hashed person's clashes may differ now (also with other
        # municipalities, which match by the hash).
        recheck.add(survivor)
    _recheck_clashes(conn, tid, recheck, listed_twice, report)


def _merge(conn: Connection, tid: int, keep: int, drop: int, report: RepairReport, now: dt.datetime) -> list[int]:
    """Move everything of person ``drop`` to person ``keep`` and delete ``drop``; returns the sessions both
    attended (the double count, now one attendance)."""
    mine = select(_att.c.session_id).where(_att.c.tenant_id == tid, _att.c.person_id == keep)
    both = list(conn.execute(select(_att.c.session_id).where(
        _att.c.tenant_id == tid, _att.c.person_id == drop, _att.c.session_id.in_(mine))).scalars())
    if both:
        conn.execute(delete(_att).where(_att.c.tenant_id == tid, _att.c.person_id == drop,
                                        _att.c.session_id.in_(both)))
    moved = conn.execute(update(_att).where(_att.c.tenant_id == tid, _att.c.person_id == drop)
                         .values(person_id=keep)).rowcount
    # Roster memberships.
    groups = select(_member.c.group_id).where(_member.c.tenant_id == tid, _member.c.person_id == keep)
    m_dropped = conn.execute(delete(_member).where(_member.c.tenant_id == tid, _member.c.person_id == drop,
                                                   _member.c.group_id.in_(groups))).rowcount
    m_moved = conn.execute(update(_member).where(_member.c.tenant_id == tid, _member.c.person_id == drop)
                           .values(person_id=keep)).rowcount
    # Partner person ids: the key is the partner's id, so nothing collides.
    conn.execute(update(_pp).where(_pp.c.tenant_id == tid, _pp.c.person_id == drop).values(person_id=keep))
    _merge_names(conn, tid, keep, drop)
    flags_moved = _merge_flags(conn, tid, keep, drop)
    conn.execute(delete(_person).where(_person.c.tenant_id == tid, _person.c.id == drop))
    _audit_row(conn, tid, MERGE_ACTION, keep, {"person_id": drop},
               {"person_id": keep, "attendance_moved": moved, "attendance_dropped": len(both),
                "sessions_attended_twice": sorted(both), "memberships_moved": m_moved,
                "memberships_dropped": m_dropped, "flags_moved": flags_moved}, now)
    report.people_merged += 1
    report.attendance_moved += moved
    report.attendance_dropped += len(both)
    report.memberships_moved += m_moved
    report.memberships_dropped += m_dropped
    report.merges.append((tid, keep, drop))
    return sorted(both)


def _merge_names(conn: Connection, tid: int, keep: int, drop: int) -> None:
    """The name each association typed: where both people have one, the later typing wins."""
    cols = (_name.c.association_id, _name.c.first_name, _name.c.last_name, _name.c.updated_at)
    theirs = {r[0]: r for r in conn.execute(select(*cols).where(_name.c.tenant_id == tid,
                                                                  _name.c.person_id == drop))}
    if not theirs:
        return
    ours = {r[0]: r for r in conn.execute(select(*cols).where(
        _name.c.tenant_id == tid, _name.c.person_id == keep, _name.c.association_id.in_(list(theirs))))}
    for assoc, (_a, first, last, at) in theirs.items():
        if assoc not in ours:
            continue
        if at is not None and (ours[assoc][3] is None or _naive(at) > _naive(ours[assoc][3])):
            conn.execute(update(_name).where(_name.c.tenant_id == tid, _name.c.association_id == assoc,
                                             _name.c.person_id == keep)
                         .values(first_name=first, last_name=last, updated_at=at))
        conn.execute(delete(_name).where(_name.c.tenant_id == tid, _name.c.association_id == assoc,
                                         _name.c.person_id == drop))
    conn.execute(update(_name).where(_name.c.tenant_id == tid, _name.c.person_id == drop).values(person_id=keep))


def _naive(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def _merge_flags(conn: Connection, tid: int, keep: int, drop: int) -> int:
    """Clash flags of ``drop`` become ``keep``'s (with the matching clash key); one that ``keep`` already
    has is dropped. Officers' resolutions go with the flag."""
    from apn.clash.detection import Wanted

    rows = conn.execute(select(_flag.c.id, _flag.c.kind, _flag.c.session_id, _flag.c.other_session_id,
                               _flag.c.other_ref).where(_flag.c.tenant_id == tid, _flag.c.person_id == drop)).all()
    moved = 0
    for fid, kind, sid, oid, ref in rows:
        key = Wanted(tid, kind, sid, oid, keep, ref).key
        taken = conn.execute(select(func.count()).select_from(_flag).where(
            _flag.c.tenant_id == tid, _flag.c.clash_key == key)).scalar_one()
        if taken:
            conn.execute(delete(_flag).where(_flag.c.tenant_id == tid, _flag.c.id == fid))
        else:
            conn.execute(update(_flag).where(_flag.c.tenant_id == tid, _flag.c.id == fid)
                         .values(person_id=keep, clash_key=key))
            moved += 1
    return moved


def _recheck_clashes(conn: Connection, tid: int, people: set[int], listed_twice: dict[int, set[int]],
                     report: RepairReport) -> None:
    """The clash check of the intake over every session the given people attend."""
    from apn.clash.detection import check_batch, retrying

    ids: set[int] = set(listed_twice)
    pids = sorted(people)
    for i in range(0, len(pids), 500):
        ids.update(conn.execute(select(_att.c.session_id).where(
            _att.c.tenant_id == tid, _att.c.person_id.in_(pids[i:i + 500]))).scalars())
    if not ids:
        return
    stats = retrying(conn, check_batch, conn, tid, sorted(ids), [], listed_twice, set())
    report.flags_created += stats.created
    report.flags_removed += stats.removed


def _audit_row(conn: Connection, tid: int, action: str, person_id: int, before: dict | None, after: dict,
               now: dt.datetime) -> None:
    """An audit entry about a person (ids only)."""
    (audit_id,) = allocate_ids(conn, "audit_log", 1)
    conn.execute(insert(_audit).values(tenant_id=tid, id=audit_id, at=now, action=action, entity="person",
                                       entity_id=str(person_id), before=before, after=after))


# --- partner keys ---------------------------------------------------------------------------------------

def _not_plain(conn: Connection, column):
    """SQL: the value holds a character other than printable ASCII without spaces (a candidate for folding)."""
    if conn.dialect.name == "postgresql":
        return column.op("~")("[^!-~]")
    return column.op("GLOB")("*[^!-~]*")


def _repair_keys(conn: Connection, tid: int, report: RepairReport) -> None:
    """Fold the partner keys of one tenant that :func:`normalise_key` changes, unless the result is taken."""
    for table, column, max_len in ((_session, _session.c.partner_code, 50),
                                   (_group, _group.c.partner_card_number, 50)):
        rows = conn.execute(select(table.c.id, table.c.partner_client_id, column).where(
            table.c.tenant_id == tid, column.is_not(None), _not_plain(conn, column)).order_by(table.c.id)).all()
        for rid, client, key in rows:
            new = normalise_key(key)
            if new == key:
                continue
            same_client = (table.c.partner_client_id.is_(None) if client is None
                           else table.c.partner_client_id == client)
            taken = conn.execute(select(func.count()).select_from(table).where(
                table.c.tenant_id == tid, same_client, column == new)).scalar_one()
            if taken or not new or len(new) > max_len:
                report.key_collisions.append((table.name, tid, rid))
                continue
            conn.execute(update(table).where(table.c.tenant_id == tid, table.c.id == rid).values({column.name: new}))
            report.keys_renormalised += 1
    rows = conn.execute(select(_pp.c.partner_client_id, _pp.c.external_id, _pp.c.person_id).where(
        _pp.c.tenant_id == tid, _not_plain(conn, _pp.c.external_id))
        .order_by(_pp.c.partner_client_id, _pp.c.person_id)).all()
    for client, key, person_id in rows:
        new = normalise_key(key)
        if new == key:
            continue
        here = and_(_pp.c.tenant_id == tid, _pp.c.partner_client_id == client)
        taken = conn.execute(select(func.count()).select_from(_pp).where(here, _pp.c.external_id == new)).scalar_one()
        if taken or not new or len(new) > 50:
            report.key_collisions.append((_pp.name, tid, person_id))
            continue
        conn.execute(update(_pp).where(here, _pp.c.external_id == key).values(external_id=new))
        report.keys_renormalised += 1


__all__ = ["MERGE_ACTION", "RENORMALISE_ACTION", "RepairReport", "renormalise"]
