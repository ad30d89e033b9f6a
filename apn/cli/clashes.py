"""``clashes`` commands: full rescans and the clash policy of a municipality."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from apn.cli.common import domain_command, echo_json
from apn.services import tenants as tenant_svc
from apn.tenancy import tenant_scope

clashes = AppGroup("clashes", help="Clash detection: rescans and policy.")


@clashes.command("rescan")
@click.option("--tenant", "tenant_slug", required=True, help="The municipality's slug.")
@click.option("--period", required=True, help="Grant period code (2025H1), half-year or year (2025).")
@domain_command
def rescan_command(tenant_slug: str, period: str) -> None:
    """Recompute every clash of a period with set-based SQL and fix the stored flags."""
    from apn.clash import rescan

    tenant = tenant_svc.get_tenant(tenant_slug)
    with tenant_scope(tenant.id):
        stats = rescan(tenant.id, period)
    click.echo(f"{tenant.slug} {stats['period']}: {stats['flags']} clashes, {stats['created']} flags created, "
               f"{stats['removed']} removed in {stats['seconds']} s")


@clashes.command("policy")
@click.option("--tenant", "tenant_slug", required=True, help="The municipality's slug.")
@click.option("--set", "new_policy", default=None,
              help='JSON, e.g. {"blocking_kinds": ["person_overlap"], "keep": "officer_decides"}.')
@domain_command
def policy_command(tenant_slug: str, new_policy: str | None) -> None:
    """Show (or change) a municipality's clash policy."""
    from apn.clash import get_policy, set_policy

    tenant = tenant_svc.get_tenant(tenant_slug)
    if new_policy:
        try:
            data = json.loads(new_policy)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--set") from None
        if not isinstance(data, dict):
            raise click.BadParameter("give a JSON object", param_hint="--set")
        echo_json(set_policy(tenant.id, data))
    else:
        echo_json(get_policy(tenant.id))


def register(app: Flask) -> None:
    """Attach the group."""
    app.cli.add_command(clashes)
