"""The same person in two municipalities: flagged in both, revealing nothing of the other municipality."""

from __future__ import annotations

import datetime as dt
import json

from clashkit import command, make_world, report
from sqlalchemy import select

from apn.clash import flags_for_officer, flags_for_sessions
from apn.extensions import db
from apn.intake import PersonRef
from apn.models import ClashFlag
from apn.tenancy import tenant_scope
from apn.testing import factories as f

PNR = f.make_pnr(dt.date(2011, 2, 3), 7)


def _flags(tenant):
    with tenant_scope(tenant.id):
        return db.session.execute(select(ClashFlag).order_by(ClashFlag.id)).scalars().all()


def _two_municipalities():
    umea = make_world(slug="umea", kommunkod="2480")
    kba = make_world(slug="kungsbacka", kommunkod="1384")
    swim = f.create_association(kba.tenant, name="Hallands Simklubb")
    pool = f.create_group(kba.tenant, swim, name="Simskola Onsdag")
    db.session.commit()
    return umea, kba, pool


def test_flagged_in_both_municipalities_and_nothing_revealed(ctx):
    umea, kba, pool = _two_municipalities()
    first = report(umea.tenant, command(umea.ga, refs=[PersonRef(personnummer=PNR, first_name="Ada", last_name="Ek")]))
    second = report(kba.tenant, command(pool, start="18:30", stop="19:30", code="swim-1",
                                        refs=[PersonRef(personnummer=PNR, first_name="Ada", last_name="Ek")]))
    s_umea, s_kba = first.accepted[0].session_id, second.accepted[0].session_id

    # The reporter is told nothing of the other municipality (docs/clashes.md); only officers see the flag.
    assert second.accepted[0].notes == [] and first.accepted[0].notes == []

    [here], [there] = _flags(umea.tenant), _flags(kba.tenant)
    assert (here.kind, here.session_id, here.other_session_id, here.other_tenant) == \
        ("other_municipality", s_umea, None, True)
    assert (there.kind, there.session_id, there.other_session_id, there.other_tenant) == \
        ("other_municipality", s_kba, None, True)
    # Umeå reported first: under "first reported" Kungsbacka's side is the one that does not count.
    assert here.other_first is False and there.other_first is True

    # What Umeå's reporter and officer see names nothing of Kungsbacka.
    seen = json.dumps([flags_for_sessions(umea.tenant.id, [s_umea]), flags_for_officer(umea.tenant.id)],
                      ensure_ascii=False)
    # The other session's times as the JSON values they would be: quoted, so that a timestamp of this run
    # (created_at "…T18:30:21…" between 18:30 and 18:31) does not count as a leak.
    for secret in ("Kungsbacka", "kungsbacka", "1384", "Hallands Simklubb", "Simskola", "swim-1", '"18:30"',
                   '"19:30"'):
        assert secret not in seen
    officer = flags_for_officer(umea.tenant.id)[0]
    assert officer["other"] == {"municipality": "another municipality", "reported_first": False}
    assert officer["this"]["association_name"] == "IFK Norr"


def test_correcting_one_municipality_clears_the_flag_in_both(ctx):
    umea, kba, pool = _two_municipalities()
    report(umea.tenant, command(umea.ga, refs=[PersonRef(personnummer=PNR)]))
    report(kba.tenant, command(pool, code="swim-2", refs=[PersonRef(personnummer=PNR)]))
    assert len(_flags(umea.tenant)) == len(_flags(kba.tenant)) == 1
    report(kba.tenant, command(pool, start="10:00", stop="11:00", code="swim-2", refs=[PersonRef(personnummer=PNR)]))
    assert _flags(umea.tenant) == [] and _flags(kba.tenant) == []


def test_deleting_in_one_municipality_clears_the_flag_in_the_other(ctx):
    umea, kba, pool = _two_municipalities()
    report(umea.tenant, command(umea.ga, code="ume-1", refs=[PersonRef(personnummer=PNR)]))
    report(kba.tenant, command(pool, refs=[PersonRef(personnummer=PNR)]))
    report(umea.tenant, command(umea.ga, method="remove", code="ume-1", start=None, stop=None))
    assert _flags(umea.tenant) == [] and _flags(kba.tenant) == []


def test_different_people_with_the_same_name_are_no_clash_across_municipalities(ctx):
    umea, kba, pool = _two_municipalities()
    ref = dict(first_name="Ada", last_name="Ek", birth_date=dt.date(2011, 2, 3), sex="F")
    report(umea.tenant, command(umea.ga, refs=[PersonRef(**ref)]))
    r = report(kba.tenant, command(pool, refs=[PersonRef(**ref)]))
    assert r.accepted[0].notes == []
    assert _flags(umea.tenant) == [] and _flags(kba.tenant) == []
