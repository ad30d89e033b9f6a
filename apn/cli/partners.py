"""``partners`` commands: partner clients (club-administration systems) of a municipality."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from apn.cli.common import domain_command, echo_json
from apn.services import partners as svc
from apn.services import tenants as tenant_svc
from apn.tenancy import tenant_scope

partners = AppGroup("partners", help="Partner clients (club-administration systems) of a municipality.")

_tenant = click.option("--tenant", "tenant_slug", required=True, help="The municipality's slug, e.g. umea.")
_client = click.option("--client-id", "client_id", required=True, help="The partner's public client id.")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@partners.command("create")
@_tenant
@click.option("--name", required=True, help="The partner system's name, e.g. SportAdmin.")
@_json
@domain_command
def create(tenant_slug: str, name: str, as_json: bool) -> None:
    """Create a partner client; its secret is printed once and stored only hashed."""
    tenant = tenant_svc.get_tenant(tenant_slug)
    with tenant_scope(tenant.id):
        client, secret = svc.create_client(name)
    _show_secret(client, secret, as_json, f"Created partner {client.name} in {tenant.name}",
                 "The secret is shown only now; store it safely.")


@partners.command("list")
@_tenant
@_json
@domain_command
def list_(tenant_slug: str, as_json: bool) -> None:
    """List the municipality's partner clients (never their secrets)."""
    tenant = tenant_svc.get_tenant(tenant_slug)
    with tenant_scope(tenant.id):
        rows = [svc.describe(c) for c in svc.list_clients()]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['client_id']:30} {r['status']:8} {r['name']}")


@partners.command("rotate")
@_tenant
@_client
@_json
@domain_command
def rotate(tenant_slug: str, client_id: str, as_json: bool) -> None:
    """Give a partner a new secret (printed once); tokens issued before stop working."""
    tenant = tenant_svc.get_tenant(tenant_slug)
    with tenant_scope(tenant.id):
        client, secret = svc.rotate_secret(client_id)
    _show_secret(client, secret, as_json, None,
                 "The secret is shown only now; the old secret and its tokens no longer work.")


def _show_secret(client, secret: str, as_json: bool, heading: str | None, closing: str) -> None:
    """Print a client's id and its new secret, once: as JSON, or as lines between a heading and a warning."""
    if as_json:
        echo_json({"client_id": client.client_id, "client_secret": secret})
        return
    if heading:
        click.echo(heading)
    click.echo(f"client_id:     {client.client_id}")
    click.echo(f"client_secret: {secret}")
    click.echo(closing)


@partners.command("revoke")
@_tenant
@_client
@domain_command
def revoke(tenant_slug: str, client_id: str) -> None:
    """Revoke a partner: it gets no new tokens and its tokens stop working at once."""
    tenant = tenant_svc.get_tenant(tenant_slug)
    with tenant_scope(tenant.id):
        client = svc.revoke(client_id)
    click.echo(f"Revoked {client.name} ({client.client_id})")


@partners.command("authorise")
@_tenant
@_client
@click.option("--organisationsnummer", required=True, help="The association's organisation number.")
@domain_command
def authorise(tenant_slug: str, client_id: str, organisationsnummer: str) -> None:
    """Record that an association lets the partner read and write its data."""
    tenant = tenant_svc.get_tenant(tenant_slug)
    with tenant_scope(tenant.id):
        svc.authorise(client_id, organisationsnummer)
    click.echo(f"Authorised {client_id} for {organisationsnummer}")


@partners.command("withdraw")
@_tenant
@_client
@click.option("--organisationsnummer", required=True, help="The association's organisation number.")
@domain_command
def withdraw(tenant_slug: str, client_id: str, organisationsnummer: str) -> None:
    """Withdraw an association's authorisation of the partner."""
    tenant = tenant_svc.get_tenant(tenant_slug)
    with tenant_scope(tenant.id):
        svc.withdraw(client_id, organisationsnummer)
    click.echo(f"Withdrew {client_id} from {organisationsnummer}")


def register(app: Flask) -> None:
    """Attach the group."""
    app.cli.add_command(partners)
