"""``people`` commands: repairs of stored people."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from apn.cli.common import domain_command, echo_json
from apn.extensions import db
from apn.services import tenants as tenant_svc
from apn.tenancy import system_scope

people = AppGroup("people", help="People: repairs of stored identities.")


@people.command("renormalise")
@click.option("--tenant", "tenant_slug", default=None, help="One municipality's slug (default: every one).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (ids and counts only).")
@domain_command
def renormalise_command(tenant_slug: str | None, as_json: bool) -> None:
    """Normalise stored personal numbers and partner keys; merge people stored twice (issue 11 item 1).

    The same repair as migration 0007; safe to run again (a second run changes nothing).
    """
    from apn.identity_repair import renormalise

    tenant_ids = [tenant_svc.get_tenant(tenant_slug).id] if tenant_slug else None
    with system_scope(db.session()):
        report = renormalise(db.session.connection(), tenant_ids)
    if as_json:
        echo_json({"tenants": report.tenants, "numbers_renormalised": report.numbers_renormalised,
                   "people_merged": report.people_merged, "attendance_moved": report.attendance_moved,
                   "attendance_dropped": report.attendance_dropped, "keys_renormalised": report.keys_renormalised,
                   "flags_created": report.flags_created, "flags_removed": report.flags_removed,
                   "merges": [{"tenant_id": t, "kept": k, "deleted": d} for t, k, d in report.merges],
                   "unreadable": [{"tenant_id": t, "person_id": p} for t, p in report.unreadable],
                   "key_collisions": [{"table": n, "tenant_id": t, "ref": r} for n, t, r in report.key_collisions]})
        return
    click.echo(report.summary())
    for t, kept, deleted in report.merges:
        click.echo(f"merged: tenant {t} person {deleted} into {kept}")
    for name, t, ref in report.key_collisions:
        click.echo(f"left as it was (normalised key taken): {name} tenant {t} ref {ref}")
    for t, pid in report.unreadable:
        click.echo(f"unreadable number: tenant {t} person {pid}")


def register(app: Flask) -> None:
    """Attach the group."""
    app.cli.add_command(people)
