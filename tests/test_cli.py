"""CLI: tenants and associations, with clear one-line errors for bad input."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from apn.extensions import db
from apn.models import Association, GrantPeriod, Tenant
from apn.tenancy import system_scope
from apn.testing.factories import make_orgnr


def test_create_tenant_and_association(app, runner):
    res = runner.invoke(args=["tenants", "create", "--slug", "umea", "--name", "Umeå kommun",
                              "--kommunkod", "2480", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["kommunkod"] == "2480"
    orgnr = make_orgnr(17)
    res = runner.invoke(args=["associations", "create", "--tenant", "umea", "--organisationsnummer",
                              f"{orgnr[:6]}-{orgnr[6:]}", "--name", "IFK Umeå", "--payout-method", "bankgiro",
                              "--payout-account", "5050-1055"])
    assert res.exit_code == 0, res.output
    with app.app_context(), system_scope():
        t = db.session.execute(select(Tenant)).scalar_one()
        assert t.slug == "umea"
        codes = set(db.session.execute(select(GrantPeriod.code)).scalars())
        year = dt.date.today().year
        assert codes == {f"{y}H{h}" for y in (year - 1, year, year + 1) for h in (1, 2)}
        assoc = db.session.execute(select(Association)).scalar_one()
        assert assoc.organisationsnummer == orgnr and assoc.payout_account == "50501055"


def test_bad_input_gives_a_clear_message_and_no_traceback(app, runner):
    cases = [
        (["tenants", "create", "--slug", "umea", "--name", "Umeå", "--kommunkod", "248"], "kommunkod"),
        (["tenants", "create", "--slug", "U M", "--name", "Umeå", "--kommunkod", "2480"], "slug"),
        (["associations", "create", "--tenant", "nowhere", "--organisationsnummer", "5560360793", "--name", "X"],
         "unknown municipality"),
    ]
    for args, words in cases:
        res = runner.invoke(args=args)
        assert res.exit_code != 0
        assert words in res.output
        assert "Traceback" not in res.output
    runner.invoke(args=["tenants", "create", "--slug", "umea", "--name", "Umeå", "--kommunkod", "2480"])
    res = runner.invoke(args=["tenants", "create", "--slug", "umea2", "--name", "Umeå", "--kommunkod", "2480"])
    assert res.exit_code != 0 and "kommunkod: a municipality with this kommunkod exists already" in res.output
    res = runner.invoke(args=["associations", "create", "--tenant", "umea", "--organisationsnummer", "5560360794",
                              "--name", "X"])
    assert res.exit_code != 0 and "organisationsnummer: organisation number" in res.output
    res = runner.invoke(args=["associations", "create", "--tenant", "umea", "--organisationsnummer",
                              make_orgnr(3), "--name", "X", "--payout-method", "bankgiro", "--payout-account", "12"])
    assert res.exit_code != 0 and "payout_account" in res.output
    with app.app_context(), system_scope():
        assert db.session.execute(select(Association)).first() is None  # nothing half-written
