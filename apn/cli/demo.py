"""``demo``: load the deterministic demo data set."""

from __future__ import annotations

import click
from flask import Flask

from apn.errors import DomainError
from apn.extensions import db


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when a municipality exists already.")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True), default=1.0,
              help="Multiply the data set (1.0 ≈ 250,000 participations).")
@click.option("--seed", type=int, default=None, help="Random seed (same seed, same data).")
@click.option("--year", type=int, default=None, help="Year of the sessions (default: last year).")
def demo(if_empty: bool, scale: float, seed: int | None, year: int | None) -> None:
    """Build the demo data: two municipalities, associations, people, a year of sessions; print the logins."""
    from apn.demo import DEFAULT_SEED, load_demo

    try:
        load_demo(if_empty=if_empty, scale=scale, echo=click.echo,
                  seed=DEFAULT_SEED if seed is None else seed, year=year)
    except DomainError as exc:
        db.session.rollback()
        where = f"{exc.field}: " if exc.field else ""
        raise click.ClickException(f"{where}{exc.message}") from None


def register(app: Flask) -> None:
    """Attach the command."""
    app.cli.add_command(demo)
