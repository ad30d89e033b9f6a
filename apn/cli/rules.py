"""``rules`` commands: check a rule document, install a version, evaluate a period."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from apn.cli.common import domain_command, echo_json
from apn.errors import DomainError
from apn.extensions import db
from apn.models import RuleSet
from apn.rules import RuleDocumentError, decode_text, evaluate, install_ruleset, parse_document, preset_names
from apn.services import tenants as tenant_svc
from apn.tenancy import tenant_scope

rules = AppGroup("rules", help="Grant rules: check, install and evaluate rule documents.")


def _read_document(path: str):
    """Decode a JSON or YAML file; raises :class:`RuleDocumentError` with a location."""
    text = Path(path).read_text(encoding="utf-8")
    return decode_text(text, path)


@rules.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def check(file: str) -> None:
    """Validate a rule document (JSON or YAML); print each error with its path."""
    try:
        doc = parse_document(_read_document(file))
    except RuleDocumentError as exc:
        for path, message in exc.errors:
            click.echo(f"{path}: {message}", err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(f"ok: {doc.name} ({len(doc.rates)} rates, {len(doc.caps)} caps)")


@rules.command("presets")
def presets() -> None:
    """List the shipped presets."""
    for name in preset_names():
        click.echo(name)


@rules.command("install")
@click.option("--tenant", "tenant_slug", required=True, help="The municipality's slug.")
@click.option("--valid-from", "valid_from", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="First day the rules apply (YYYY-MM-DD).")
@click.option("--name", default=None, help="Name of the version (default: the document's name).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@domain_command
def install(tenant_slug: str, valid_from: dt.datetime, name: str | None, file: str) -> None:
    """Store FILE as a new version of a municipality's rules from --valid-from."""
    tenant = tenant_svc.get_tenant(tenant_slug)
    try:
        data = _read_document(file)
    except RuleDocumentError as exc:
        raise DomainError("; ".join(f"{p}: {m}" for p, m in exc.errors), field="file") from None
    with tenant_scope(tenant.id, db.session()):
        rs = install_ruleset(data, valid_from.date(), name=name)
        click.echo(f"Installed version {rs.version} ({rs.name}) for {tenant.name}, valid from "
                   f"{rs.valid_from.isoformat()}")


@rules.command("list")
@click.option("--tenant", "tenant_slug", required=True)
def list_versions(tenant_slug: str) -> None:
    """List a municipality's rule-set versions."""
    try:
        tenant = tenant_svc.get_tenant(tenant_slug)
    except DomainError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from None
    with tenant_scope(tenant.id, db.session()):
        for rs in db.session.execute(select(RuleSet).order_by(RuleSet.version)).scalars():
            until = rs.valid_to.isoformat() if rs.valid_to else "…"
            click.echo(f"v{rs.version:<3} {rs.valid_from.isoformat()} – {until:10} {rs.preset or '-':16} {rs.name}")


def _sek(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    ore = abs(ore)
    return f"{sign}{ore // 100:,}".replace(",", " ") + f",{ore % 100:02d}"


@rules.command("evaluate")
@click.option("--tenant", "tenant_slug", required=True, help="The municipality's slug.")
@click.option("--period", "period_code", required=True, help="Period code, e.g. 2025H1.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@domain_command
def evaluate_cmd(tenant_slug: str, period_code: str, as_json: bool) -> None:
    """Evaluate a period for every association with the rule set valid for it."""
    tenant = tenant_svc.get_tenant(tenant_slug)
    ev = evaluate(tenant.id, period_code)
    if as_json:
        echo_json(ev.summary())
        return
    est = " (estimate: the period is open)" if ev.estimate else ""
    click.echo(f"{tenant.name}, period {ev.period_code}, rules v{ev.rule_set_version} {ev.rule_set_name}{est}")
    header = f"{'organisationsnummer':<20}{'name':<32}{'valid':>7}{'rejected':>10}{'counted':>10}{'SEK':>16}"
    click.echo(header)
    click.echo("-" * len(header))
    for a in ev.associations.values():
        click.echo(f"{a.organisationsnummer:<20}{a.name[:31]:<32}{a.sessions_valid:>7}{a.sessions_rejected:>10}"
                   f"{a.participations_counted:>10}{_sek(a.total_ore):>16}")
    click.echo("-" * len(header))
    click.echo(f"{'total':<52}{'':>27}{_sek(ev.total_ore):>16}")


def register(app: Flask) -> None:
    """Attach the group."""
    app.cli.add_command(rules)
