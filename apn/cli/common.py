"""Shared helpers for CLI commands: domain errors become one clear line and exit status 2."""

from __future__ import annotations

import functools
import json

import click

from apn.errors import DomainError
from apn.extensions import db


def domain_command(func):
    """Commit on success; on a :class:`DomainError` roll back and print ``error: field: message``."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            out = func(*args, **kwargs)
            db.session.commit()
            return out
        except DomainError as exc:
            db.session.rollback()
            where = f"{exc.field}: " if exc.field else ""
            raise click.ClickException(f"{where}{exc.message}") from None

    return wrapper


def echo_json(data) -> None:
    """Print JSON (UTF-8, stable key order)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str))
