"""``flask partners …``: create (secret shown once), list, rotate, revoke, authorise, withdraw."""

from __future__ import annotations

import json

from sqlalchemy import select

from apn.extensions import db
from apn.models import PartnerAuthorisation, PartnerClient
from apn.tenancy import system_scope


def _run(runner, *args):
    result = runner.invoke(args=list(args))
    return result


def test_partner_lifecycle_through_the_cli(app, runner, client):
    assert _run(runner, "tenants", "create", "--slug", "umea", "--name", "Umeå", "--kommunkod", "2480").exit_code == 0
    orgnr = "8020000017"
    assert _run(runner, "associations", "create", "--tenant", "umea", "--organisationsnummer", orgnr,
                "--name", "IFK").exit_code == 0
    out = _run(runner, "partners", "create", "--tenant", "umea", "--name", "ClubSoft", "--json")
    assert out.exit_code == 0, out.output
    creds = json.loads(out.output)
    assert set(creds) == {"client_id", "client_secret"}
    with app.app_context(), system_scope():
        stored = db.session.execute(select(PartnerClient)).scalar_one()
        assert stored.secret_hash.startswith("$argon2") and creds["client_secret"] not in stored.secret_hash

    out = _run(runner, "partners", "authorise", "--tenant", "umea", "--client-id", creds["client_id"],
               "--organisationsnummer", orgnr)
    assert out.exit_code == 0, out.output
    token = client.post("/api/v1/auth/token", data={"grant_type": "client_credentials", **creds}).get_json()
    assert client.get("/api/v1/associations", headers={"Authorization": f"Bearer {token['access_token']}"}
                      ).get_json() == [{"organisationsnummer": orgnr, "name": "IFK"}]

    listed = json.loads(_run(runner, "partners", "list", "--tenant", "umea", "--json").output)
    assert [(p["client_id"], p["status"]) for p in listed] == [(creds["client_id"], "active")]
    assert "client_secret" not in listed[0]

    rotated = json.loads(_run(runner, "partners", "rotate", "--tenant", "umea", "--client-id", creds["client_id"],
                              "--json").output)
    assert rotated["client_id"] == creds["client_id"] and rotated["client_secret"] != creds["client_secret"]

    out = _run(runner, "partners", "withdraw", "--tenant", "umea", "--client-id", creds["client_id"],
               "--organisationsnummer", orgnr)
    assert out.exit_code == 0
    with app.app_context(), system_scope():
        assert db.session.execute(select(PartnerAuthorisation.withdrawn_at)).scalar_one() is not None

    assert _run(runner, "partners", "revoke", "--tenant", "umea", "--client-id", creds["client_id"]).exit_code == 0
    listed = json.loads(_run(runner, "partners", "list", "--tenant", "umea", "--json").output)
    assert listed[0]["status"] == "revoked"
    r = client.post("/api/v1/auth/token", data={"grant_type": "client_credentials", "client_id": creds["client_id"],
                                                "client_secret": rotated["client_secret"]})
    assert r.status_code == 401


def test_cli_errors_are_one_clear_line(runner):
    out = _run(runner, "partners", "create", "--tenant", "nowhere", "--name", "X")
    assert out.exit_code != 0 and "unknown municipality" in out.output
    _run(runner, "tenants", "create", "--slug", "umea", "--name", "Umeå", "--kommunkod", "2480")
    out = _run(runner, "partners", "authorise", "--tenant", "umea", "--client-id", "apn_nope",
               "--organisationsnummer", "8020000017")
    assert out.exit_code != 0 and "client_id" in out.output
