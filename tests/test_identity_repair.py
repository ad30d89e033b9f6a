"""The repair of identities stored before every input was normalised (issue 11 item 1, stored data).

The old behaviour is simulated by writing rows directly: a person whose number is encrypted and hashed in
fullwidth or Arabic-Indic digits, as the old code stored it, beside the same child stored in ASCII digits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from sqlalchemy import func, select

from apn.extensions import db
from apn.identity import decrypt_pnr, encrypt_pnr, pnr_hash
from apn.identity_repair import MERGE_ACTION, renormalise
from apn.models import (
    ActivitySession,
    AssociationPersonName,
    Attendance,
    AuditEntry,
    ClashFlag,
    Group,
    GroupMember,
    PartnerClient,
    PartnerPerson,
    Person,
)
from apn.tenancy import system_scope, tenant_scope
from apn.testing.factories import (
    create_association,
    create_group,
    create_person,
    create_tenant,
    make_pnr,
    report_session,
)

FULLWIDTH = {ord("0") + i: 0xFF10 + i for i in range(10)}
ARABIC_INDIC = {ord("0") + i: 0x0660 + i for i in range(10)}
D1, D2, D3 = dt.date(2025, 3, 4), dt.date(2025, 3, 11), dt.date(2025, 3, 18)


def old_person(tenant, number: str, created_at: dt.datetime, last_name: str = "Old") -> Person:
    """A person as the code before the fix stored one typed in other digits: encrypted and hashed as typed."""
    from flask import current_app

    digest = hmac.new(current_app.config["PNR_HASH_KEY"].encode(), number.encode(), hashlib.sha256).hexdigest()
    with tenant_scope(tenant.id):
        p = Person(tenant_id=tenant.id, first_name="Kid", last_name=last_name, birth_date=dt.date(2012, 5, 17),
                   sex="M", pnr_hash=digest, pnr_encrypted=encrypt_pnr(number), created_at=created_at)
        db.session.add(p)
        db.session.flush()
        return p


def ascii_person(tenant, number: str, created_at: dt.datetime, last_name: str = "Ascii") -> Person:
    """A person stored in ASCII digits (as every channel stores one now)."""
    with tenant_scope(tenant.id):
        p = Person(tenant_id=tenant.id, first_name="Kid", last_name=last_name, birth_date=dt.date(2012, 5, 17),
                   sex="M", pnr_hash=pnr_hash(number), pnr_encrypted=encrypt_pnr(number), created_at=created_at)
        db.session.add(p)
        db.session.flush()
        return p


def run_repair(tenant_ids=None):
    """The repair as the CLI runs it, committed."""
    with system_scope(db.session()):
        report = renormalise(db.session.connection(), tenant_ids)
    db.session.commit()
    db.session.expire_all()  # the repair writes with Core statements
    return report


def snapshot(tenant_id: int) -> dict:
    """Every row the repair may touch, of one tenant."""
    out = {}
    with tenant_scope(tenant_id, db.session()):
        for model in (Person, Attendance, GroupMember, PartnerPerson, AssociationPersonName, ClashFlag,
                      ActivitySession, Group, AuditEntry):
            cols = [c for c in model.__table__.c if c.name not in ("updated_at",)]
            out[model.__tablename__] = sorted(
                tuple(str(v) for v in row) for row in db.session.execute(
                    select(*cols).where(model.__table__.c.tenant_id == tenant_id)).all())
    db.session.rollback()
    return out


@pytest.fixture
def world(ctx):
    """Municipality A with one child stored twice (ASCII, older; fullwidth, younger) reported by two
    associations with overlapping sessions, and one session listing both rows; municipality B with the same
    child in ASCII digits and a session that overlaps nothing."""
    a = create_tenant("rep-a")
    b = create_tenant("rep-b")
    x, y = create_association(a), create_association(a)
    gx, gy = create_group(a, x), create_group(a, y)
    number = make_pnr(dt.date(2010, 8, 23), 7)
    wide = number.translate(FULLWIDTH)
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    keep = ascii_person(a, number, t0)
    dup = old_person(a, wide, t0 + dt.timedelta(days=3))
    other = create_person(a)
    with tenant_scope(a.id):
        for g, p in ((gx, keep), (gx, dup), (gy, dup), (gy, other)):
            db.session.add(GroupMember(tenant_id=a.id, group_id=g.id, person_id=p.id))
        db.session.add_all([
            AssociationPersonName(tenant_id=a.id, association_id=x.id, person_id=keep.id, first_name="Kid",
                                  last_name="Early", updated_at=t0),
            AssociationPersonName(tenant_id=a.id, association_id=x.id, person_id=dup.id, first_name="Kid",
                                  last_name="Later", updated_at=t0 + dt.timedelta(days=5)),
            AssociationPersonName(tenant_id=a.id, association_id=y.id, person_id=dup.id, first_name="Kid",
                                  last_name="FromY", updated_at=t0),
        ])
        db.session.flush()
    # x and y on the same evening, overlapping: the same child in two places, not seen before the repair.
    sx = report_session(a, gx, D1, "18:00", "19:30", participants=[keep]).accepted[0].session_id
    sy = report_session(a, gy, D1, "19:00", "20:30", participants=[dup, other]).accepted[0].session_id
    # One session listing both rows: the double count.
    both = report_session(a, gx, D2, participants=[keep, dup]).accepted[0].session_id
    only_dup = report_session(a, gy, D3, participants=[dup]).accepted[0].session_id
    b_kid = ascii_person(b, number, t0)
    gb = create_group(b, create_association(b))
    report_session(b, gb, D3, "08:00", "09:00", participants=[b_kid])
    db.session.commit()
    return {"a": a, "b": b, "x": x, "y": y, "gx": gx, "gy": gy, "keep": keep.id, "dup": dup.id,
            "other": other.id, "number": number, "wide": wide, "sx": sx, "sy": sy,
            "both": both, "only_dup": only_dup}


def _flags(tid: int) -> list[tuple]:
    with tenant_scope(tid, db.session()):
        rows = db.session.execute(select(ClashFlag.kind, ClashFlag.session_id, ClashFlag.other_session_id,
                                         ClashFlag.person_id)).all()
    db.session.rollback()
    return sorted(tuple(r) for r in rows)


def test_a_child_stored_twice_becomes_one_person_counted_once(world):
    a, w = world["a"], world
    assert not [f for f in _flags(a.id) if f[0] == "person_overlap"]  # the clash was invisible
    b_before = snapshot(world["b"].id)

    report = run_repair()

    assert report.people_merged == 1 and report.merges == [(a.id, w["keep"], w["dup"])]
    assert report.attendance_dropped == 1 and report.attendance_moved == 2
    with tenant_scope(a.id, db.session()):
        people = db.session.execute(select(Person.id, Person.pnr_hash, Person.pnr_encrypted).where(
            Person.pnr_hash.is_not(None))).all()
        kids = [p for p in people if p.id in (w["keep"], w["dup"])]
        assert [p.id for p in kids] == [w["keep"]]
        assert kids[0].pnr_hash == pnr_hash(w["number"]) and decrypt_pnr(kids[0].pnr_encrypted) == w["number"]
        att = db.session.execute(select(Attendance.session_id, Attendance.person_id)).all()
        assert sorted(s for s, p in att if p == w["keep"]) == sorted([w["sx"], w["sy"], w["both"], w["only_dup"]])
        assert not [1 for _s, p in att if p == w["dup"]]
        # The session that listed both rows now lists the child once (and the other child is untouched).
        assert db.session.scalar(select(func.count()).select_from(Attendance).where(
            Attendance.session_id == w["both"])) == 1
        assert db.session.scalar(select(func.count()).select_from(Attendance).where(
            Attendance.session_id == w["sy"])) == 2
        members = sorted(db.session.execute(select(GroupMember.group_id, GroupMember.person_id)).tuples())
        assert members == sorted([(w["gx"].id, w["keep"]), (w["gy"].id, w["keep"]), (w["gy"].id, w["other"])])
        names = {r.association_id: r.last_name for r in db.session.execute(select(AssociationPersonName))
                 .scalars()}
        assert names == {w["x"].id: "Later", w["y"].id: "FromY"}  # the latest typing per association
        audit = db.session.execute(select(AuditEntry).where(AuditEntry.action == MERGE_ACTION)).scalars().all()
        assert len(audit) == 1 and audit[0].entity_id == str(w["keep"])
        assert audit[0].before == {"person_id": w["dup"]}
        assert audit[0].after["sessions_attended_twice"] == [w["both"]]
        every_audit = json.dumps([[e.before, e.after, e.entity_id] for e in
                                  db.session.execute(select(AuditEntry)).scalars()], ensure_ascii=False)
    db.session.rollback()
    for spelling in (w["number"], w["wide"], w["number"][2:], w["number"][:8]):
        assert spelling not in every_audit
    flags = _flags(a.id)
    # Now one person: the overlap of the two associations' sessions is a clash, the double listing is one.
    assert [f for f in flags if f[0] == "person_overlap"] == [
        ("person_overlap", min(w["sx"], w["sy"]), max(w["sx"], w["sy"]), w["keep"])]
    assert [f for f in flags if f[0] == "listed_twice"] == [("listed_twice", w["both"], None, w["keep"])]
    assert not [f for f in flags if f[3] == w["dup"]]
    assert snapshot(world["b"].id) == b_before  # the other municipality is untouched

    # Idempotent: a second run finds nothing to do and writes nothing.
    a_after = snapshot(a.id)
    again = run_repair()
    assert not again.changed and again.merges == [] and again.unreadable == []
    assert snapshot(a.id) == a_after and snapshot(world["b"].id) == b_before


def test_two_old_spellings_without_an_ascii_row_become_one_ascii_person(ctx):
    """Fullwidth and Arabic-Indic rows of one child, no ASCII row: the older survives, in ASCII digits;
    a child stored only once in other digits is re-hashed, so the channels find it again."""
    t = create_tenant("rep-c")
    g = create_group(t, create_association(t))
    number = make_pnr(dt.date(2013, 2, 3), 11)
    alone = make_pnr(dt.date(2014, 6, 9), 12)
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    arabic = old_person(t, number.translate(ARABIC_INDIC), t0)
    wide = old_person(t, number.translate(FULLWIDTH), t0 + dt.timedelta(hours=1))
    single = old_person(t, alone.translate(FULLWIDTH), t0)
    report_session(t, g, D1, participants=[arabic, wide, single])
    db.session.commit()
    arabic_id, wide_id, single_id = arabic.id, wide.id, single.id

    report = run_repair([t.id])

    assert report.merges == [(t.id, arabic_id, wide_id)] and report.numbers_renormalised == 2
    with tenant_scope(t.id, db.session()):
        rows = {p.id: p for p in db.session.execute(select(Person)).scalars()}
        assert set(rows) == {arabic_id, single_id}
        assert rows[arabic_id].pnr_hash == pnr_hash(number) and decrypt_pnr(rows[arabic_id].pnr_encrypted) == number
        assert rows[single_id].pnr_hash == pnr_hash(alone) and decrypt_pnr(rows[single_id].pnr_encrypted) == alone
        assert db.session.scalar(select(func.count()).select_from(Attendance)) == 2
    db.session.rollback()
    assert [f[:2] for f in _flags(t.id) if f[0] == "listed_twice"] == [("listed_twice", _flags(t.id)[0][1])]
    assert not run_repair([t.id]).changed


def test_partner_keys_are_folded_and_a_taken_key_is_left_and_reported(ctx):
    """Session codes, card numbers and partner person ids stored in other digits or with odd spaces are
    stored as the normalised channels send them; when the folded key is taken, both rows stay."""
    t = create_tenant("rep-k")
    other_t = create_tenant("rep-k2")
    g = create_group(t, create_association(t))
    g2 = create_group(t, create_association(t))
    og = create_group(other_t, create_association(other_t))
    kid = create_person(t)
    with tenant_scope(t.id):
        pc = PartnerClient(tenant_id=t.id, name="P", client_id="p-rep", secret_hash="x")
        db.session.add(pc)
        db.session.flush()
    s_wide = report_session(t, g, D1, participants=[kid]).accepted[0].session_id
    s_taken = report_session(t, g, D2, participants=[kid]).accepted[0].session_id
    s_plain = report_session(t, g, D3, participants=[kid]).accepted[0].session_id
    o_wide = report_session(other_t, og, D1).accepted[0].session_id
    with tenant_scope(t.id):
        for sid, code in ((s_wide, "ＡＢ\u200b１２３"), (s_taken, "Ｋ７"), (s_plain, "K7")):
            db.session.get(ActivitySession, (t.id, sid)).partner_client_id = pc.id
            db.session.get(ActivitySession, (t.id, sid)).partner_code = code
        db.session.get(Group, (t.id, g.id)).partner_client_id = pc.id
        db.session.get(Group, (t.id, g.id)).partner_card_number = "\u00a0٤٢\u00a0"
        db.session.get(Group, (t.id, g2.id)).partner_client_id = pc.id
        db.session.get(Group, (t.id, g2.id)).partner_card_number = "C 1"
        db.session.add(PartnerPerson(tenant_id=t.id, partner_client_id=pc.id, external_id="ｐ－９", person_id=kid.id))
        db.session.flush()
    with tenant_scope(other_t.id):
        db.session.get(ActivitySession, (other_t.id, o_wide)).partner_code = "ＡＢ１２３"
        db.session.flush()
    db.session.commit()

    report = run_repair([t.id])

    assert report.keys_renormalised == 3
    assert report.key_collisions == [("activity_session", t.id, s_taken)]
    with tenant_scope(t.id, db.session()):
        codes = dict(db.session.execute(select(ActivitySession.id, ActivitySession.partner_code)).all())
        assert codes == {s_wide: "AB123", s_taken: "Ｋ７", s_plain: "K7"}
        cards = dict(db.session.execute(select(Group.id, Group.partner_card_number)).all())
        assert cards == {g.id: "42", g2.id: "C 1"}
        assert db.session.execute(select(PartnerPerson.external_id)).scalars().all() == ["p-9"]
    with tenant_scope(other_t.id, db.session()):
        assert db.session.get(ActivitySession, (other_t.id, o_wide)).partner_code == "ＡＢ１２３"
    db.session.rollback()
    again = run_repair([t.id])
    assert not again.changed and again.key_collisions == [("activity_session", t.id, s_taken)]


def test_cli_renormalise_repairs_one_tenant_or_all(app, runner):
    """``flask people renormalise`` runs the same repair; ``--tenant`` limits it to one municipality."""
    with app.app_context():
        a, b = create_tenant("cli-a"), create_tenant("cli-b")
        t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        n1, n2 = make_pnr(dt.date(2011, 1, 2), 3), make_pnr(dt.date(2011, 1, 3), 4)
        keep = ascii_person(a, n1, t0).id
        dup = old_person(a, n1.translate(FULLWIDTH), t0 + dt.timedelta(days=1)).id
        b_old = old_person(b, n2.translate(ARABIC_INDIC), t0).id
        a_id, b_id = a.id, b.id
        db.session.commit()
        db.session.remove()
    out = runner.invoke(args=["people", "renormalise", "--tenant", "cli-a"])
    assert out.exit_code == 0, out.output
    assert f"merged: tenant {a_id} person {dup} into {keep}" in out.output
    assert n1 not in out.output and n1.translate(FULLWIDTH) not in out.output
    with app.app_context():
        with tenant_scope(b_id, db.session()):
            assert decrypt_pnr(db.session.get(Person, (b_id, b_old)).pnr_encrypted) == n2.translate(ARABIC_INDIC)
        db.session.remove()
    out = runner.invoke(args=["people", "renormalise", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["numbers_renormalised"] == 1 and data["people_merged"] == 0
    with app.app_context():
        with tenant_scope(b_id, db.session()):
            assert db.session.get(Person, (b_id, b_old)).pnr_hash == pnr_hash(n2)
        db.session.remove()
    out = runner.invoke(args=["people", "renormalise", "--tenant", "no-such"])
    assert out.exit_code != 0 and "tenant" in out.output


def test_migration_0007_repairs_rows_stored_before_the_fix(empty_database, test_db, base_config):
    """Upgrading from 0006 with a child stored twice (ASCII and fullwidth digits) and a fullwidth session
    code: one person, each session counted once, the code folded, the clash visible, ids-only audit."""
    from flask_migrate import upgrade
    from sqlalchemy import Date, DateTime, Time, bindparam, create_engine, text

    from apn import create_app

    cfg, owner_url = empty_database("apn_migrate_repair")
    app = create_app({**base_config, **cfg})
    now = dt.datetime(2025, 3, 1, 12, 0)
    number = make_pnr(dt.date(2012, 9, 30), 5)
    wide = number.translate(FULLWIDTH)
    key = base_config["PNR_HASH_KEY"].encode()
    old_hash = hmac.new(key, wide.encode(), hashlib.sha256).hexdigest()
    with app.app_context():
        upgrade(revision="0006_association_person_name")
        eng = create_engine(owner_url)
        sessions = [  # id, group, association, start, stop, code
            (1, 1, 1, dt.datetime(2025, 3, 4, 18, 0), dt.datetime(2025, 3, 4, 19, 30), None),
            (2, 2, 2, dt.datetime(2025, 3, 4, 19, 0), dt.datetime(2025, 3, 4, 20, 30), "ＳＥＳ－１"),
            (3, 1, 1, dt.datetime(2025, 3, 11, 18, 0), dt.datetime(2025, 3, 11, 19, 30), None),
        ]
        attendance = [(1, 1), (2, 2), (3, 1), (3, 2)]  # (session, person): person 2 is the fullwidth row
        with eng.begin() as conn:
            if test_db == "postgresql":
                conn.exec_driver_sql("SELECT set_config('app.all_tenants', 'on', true)")
            stmts = [
                ("INSERT INTO tenant (id, slug, name, kommunkod, small_cell_threshold, retention_months, settings, "
                 "created_at) VALUES (1, 'm', 'M', '2480', 5, 24, '{}', :now)", {}),
                ("INSERT INTO tenant (id, slug, name, kommunkod, small_cell_threshold, retention_months, settings, "
                 "created_at) VALUES (2, 'n', 'N', '2481', 5, 24, '{}', :now)", {}),
                ("INSERT INTO association (tenant_id, id, name, organisationsnummer, disability_association, "
                 "created_at) VALUES (1, 1, 'IF', '8020000017', false, :now)", {}),
                ("INSERT INTO association (tenant_id, id, name, organisationsnummer, disability_association, "
                 "created_at) VALUES (1, 2, 'BK', '8020000025', false, :now)", {}),
                ("INSERT INTO activity_group (tenant_id, id, association_id, name, active) "
                 "VALUES (1, 1, 1, 'P13', true)", {}),
                ("INSERT INTO activity_group (tenant_id, id, association_id, name, active) "
                 "VALUES (1, 2, 2, 'F13', true)", {}),
                ("INSERT INTO person (tenant_id, id, first_name, last_name, birth_date, sex, coordination_number, "
                 "pnr_hash, pnr_encrypted, created_at) VALUES (1, 1, 'A', 'B', :bd, 'M', false, :pnr_h, :pnr_e, :now)",
                 {"bd": dt.date(2012, 9, 30), "pnr_h": pnr_hash(number), "pnr_e": encrypt_pnr(number)}),
                ("INSERT INTO person (tenant_id, id, first_name, last_name, birth_date, sex, coordination_number, "
                 "pnr_hash, pnr_encrypted, created_at) VALUES (1, 2, 'A', 'B', :bd, 'M', false, :pnr_h, :pnr_e, :later)",
                 {"bd": dt.date(2012, 9, 30), "pnr_h": old_hash, "pnr_e": encrypt_pnr(wide),
                  "later": now + dt.timedelta(days=1)}),
                # The same child in fullwidth digits in another municipality: repaired there, never merged across.
                ("INSERT INTO person (tenant_id, id, first_name, last_name, birth_date, sex, coordination_number, "
                 "pnr_hash, pnr_encrypted, created_at) VALUES (2, 3, 'A', 'B', :bd, 'M', false, :pnr_h, :pnr_e, :now)",
                 {"bd": dt.date(2012, 9, 30), "pnr_h": old_hash, "pnr_e": encrypt_pnr(wide)}),
            ]
            for sid, gid, aid, starts, ends, code in sessions:
                stmts.append((
                    "INSERT INTO activity_session (tenant_id, id, group_id, association_id, session_date, start_time, "
                    "stop_time, starts_at, ends_at, duration_minutes, session_type, team_sport, channel, partner_code, "
                    f"reported_at, updated_at) VALUES (1, {sid}, {gid}, {aid}, :d, :st, :sp, :s, :e, 90, 'Traening', "
                    "false, 'web', :code, :now, :now)",
                    {"d": starts.date(), "st": starts.time(), "sp": ends.time(), "s": starts, "e": ends,
                     "code": code}))
            for sid, pid in attendance:
                starts, ends = sessions[sid - 1][3], sessions[sid - 1][4]
                stmts.append((
                    "INSERT INTO attendance (tenant_id, session_id, person_id, role, present, disability, starts_at, "
                    f"ends_at) VALUES (1, {sid}, {pid}, 'participant', true, false, :s, :e)",
                    {"s": starts, "e": ends}))
            types = {"now": DateTime, "later": DateTime, "bd": Date, "d": Date, "st": Time, "sp": Time,
                     "s": DateTime, "e": DateTime}
            for sql, params in stmts:
                params = {"now": now, **params}
                used = {k: v for k, v in params.items() if f":{k}" in sql}
                stmt = text(sql).bindparams(*(bindparam(k, type_=types[k]) for k in used if k in types))
                conn.execute(stmt, used)

        upgrade()

        with eng.begin() as conn:
            if test_db == "postgresql":
                conn.exec_driver_sql("SELECT set_config('app.all_tenants', 'on', true)")
            people = conn.execute(text("SELECT tenant_id, id, pnr_hash, pnr_encrypted FROM person "
                                       "ORDER BY tenant_id, id")).all()
            assert [(t, i) for t, i, _h, _e in people] == [(1, 1), (2, 3)]
            assert all(h == pnr_hash(number) and decrypt_pnr(e) == number for _t, _i, h, e in people)
            att = conn.execute(text("SELECT session_id, person_id FROM attendance ORDER BY 1, 2")).all()
            assert [tuple(r) for r in att] == [(1, 1), (2, 1), (3, 1)]
            codes = dict(conn.execute(text("SELECT id, partner_code FROM activity_session")).all())
            assert codes == {1: None, 2: "SES-1", 3: None}
            flags = sorted(tuple(r) for r in conn.execute(text(
                "SELECT tenant_id, kind, session_id, other_session_id, person_id FROM clash_flag")).all())
            assert flags == [(1, "listed_twice", 3, None, 1), (1, "person_overlap", 1, 2, 1)]
            audit = conn.execute(text("SELECT tenant_id, action, entity_id, before, after FROM audit_log "
                                      "WHERE action = :a"), {"a": MERGE_ACTION}).all()
            assert [(t, a, e) for t, a, e, _b, _f in audit] == [(1, MERGE_ACTION, "1")]
            dumped = json.dumps([list(map(str, r)) for r in conn.execute(text("SELECT * FROM audit_log")).all()],
                                ensure_ascii=False)
            assert number not in dumped and wide not in dumped and old_hash not in dumped
        eng.dispose()
        db.session.remove()
        db.engine.dispose()
