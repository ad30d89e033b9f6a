"""``tenants`` and ``associations`` commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from apn.cli.common import domain_command, echo_json
from apn.extensions import db
from apn.models import Tenant
from apn.services import associations as assoc_svc
from apn.services import tenants as tenant_svc
from apn.tenancy import system_scope, tenant_scope

tenants = AppGroup("tenants", help="Municipalities (tenants).")
associations = AppGroup("associations", help="Associations of a municipality.")


@tenants.command("create")
@click.option("--slug", required=True, help="Short name used in URLs, e.g. umea.")
@click.option("--name", required=True, help="The municipality's name.")
@click.option("--kommunkod", required=True, help="Four-digit municipality code, e.g. 2480.")
@click.option("--ruleset", "ruleset", default=None, help="Rule preset, e.g. kungsbacka-2023.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@domain_command
def create_tenant(slug: str, name: str, kommunkod: str, ruleset: str | None, as_json: bool) -> None:
    """Create a municipality with its default half-year periods."""
    with system_scope():
        t = tenant_svc.create_tenant(slug, name, kommunkod, ruleset)
    if as_json:
        echo_json({"id": t.id, "slug": t.slug, "name": t.name, "kommunkod": t.kommunkod})
    else:
        click.echo(f"Created {t.name} ({t.kommunkod}) as {t.slug}")


@tenants.command("list")
def list_tenants() -> None:
    """List municipalities."""
    for t in db.session.execute(select(Tenant).order_by(Tenant.slug)).scalars():
        click.echo(f"{t.slug:20} {t.kommunkod} {t.name}")


@associations.command("create")
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--organisationsnummer", required=True)
@click.option("--name", required=True)
@click.option("--payout-method", type=click.Choice(["bankgiro", "plusgiro", "bank"]), default=None)
@click.option("--payout-account", default=None)
@click.option("--json", "as_json", is_flag=True)
@domain_command
def create_association(tenant_slug, organisationsnummer, name, payout_method, payout_account, as_json) -> None:
    """Register an association in a municipality."""
    tenant = tenant_svc.get_tenant(tenant_slug)
    with tenant_scope(tenant.id):
        a = assoc_svc.create_association(name, organisationsnummer, payout_method=payout_method,
                                         payout_account=payout_account)
        if as_json:
            echo_json({"id": a.id, "organisationsnummer": a.organisationsnummer_display, "name": a.name})
        else:
            click.echo(f"Registered {a.name} ({a.organisationsnummer_display}) in {tenant.name}")


def register(app: Flask) -> None:
    """Attach the groups."""
    app.cli.add_command(tenants)
    app.cli.add_command(associations)
