"""The OpenAPI document: complete, and the API keeps to it under generated input (schemathesis)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apn.extensions import db
from apn.services import partners as partner_svc
from apn.tenancy import tenant_scope
from apn.testing import factories as f

#: The examples in the document use these keys, so the explicit examples reach the happy paths.
EXAMPLE_ORGNR = "8020000017"


def test_every_operation_is_documented_with_security_errors_and_examples(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer",
        "description": "An access token from POST /api/v1/auth/token (OAuth2 client credentials)."}
    expected = {
        ("post", "/api/v1/auth/token"), ("get", "/api/v1/associations"),
        ("get", "/api/v1/associations/{orgnr}/groups"), ("get", "/api/v1/associations/{orgnr}/groups/{card_number}"),
        ("put", "/api/v1/associations/{orgnr}/groups/{card_number}"),
        ("put", "/api/v1/associations/{orgnr}/people/{person_id}"),
        ("get", "/api/v1/associations/{orgnr}/expected-grant"), ("get", "/api/v1/sessions"),
        ("post", "/api/v1/sessions/bulk"), ("get", "/api/v1/sessions/{kod}"), ("put", "/api/v1/sessions/{kod}"),
        ("patch", "/api/v1/sessions/{kod}"), ("delete", "/api/v1/sessions/{kod}"), ("get", "/api/v1/clashes"),
        ("post", "/api/v1/dak"),
    }
    ops = {(m, p): op for p, item in spec["paths"].items() for m, op in item.items() if m != "parameters"}
    assert expected <= set(ops)
    for key in expected:
        op = ops[key]
        assert op.get("summary"), key
        codes = set(op["responses"])
        if key != ("post", "/api/v1/auth/token"):
            assert op["security"] == [{"bearerAuth": []}], key
            assert {"401", "429"} <= codes, key
        else:
            assert op["security"] == [] and {"400", "401"} <= codes
        if key[0] in ("put", "patch", "post", "delete") and key[1] != "/api/v1/auth/token":
            assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), key
    assert "Retry-After" in spec["components"]["responses"]["RATE_LIMITED"]["headers"]
    # Every field of every schema is described or has an example.
    for name, schema in spec["components"]["schemas"].items():
        for fname, prop in schema.get("properties", {}).items():
            documented = "description" in prop or "example" in prop or "$ref" in prop or prop.get("type") == "array"
            assert documented, f"{name}.{fname}"
    html = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/sessions/bulk" in html and "cdn" not in html.lower()


@pytest.fixture
def fuzz_token(app) -> str:
    """An authorised partner behind the document's examples (association 8020000017 in municipality 2480)."""
    with app.app_context():
        t = f.create_tenant(slug="umea", kommunkod="2480")
        f.create_association(t, name="IFK Exempel", orgnr=EXAMPLE_ORGNR)
        with tenant_scope(t.id):
            client, _ = partner_svc.create_client("Fuzzer")
            partner_svc.authorise(client.client_id, EXAMPLE_ORGNR)
            token, _ = partner_svc.issue_token(client)
        db.session.commit()
    return token


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def test_api_keeps_to_its_document(app, fuzz_token):
    """Every operation: the document's examples, then valid and invalid generated input (bounded)."""
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {fuzz_token}"}
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        strategies = [*schema.get_strategies_from_examples(operation),
                      operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
        for strategy in strategies:
            @given(case=strategy)
            @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                      derandomize=True)
            def run(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                # Only for invalid input to an operation without parameters or body: nothing to make invalid.
                assert not operation.path_parameters and not operation.query and not operation.body
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
