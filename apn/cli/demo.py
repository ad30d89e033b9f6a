"""``demo``: load the deterministic demo data set."""

from __future__ import annotations

import click
from flask import Flask


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when a municipality exists already.")
@click.option("--scale", type=float, default=1.0, help="Multiply the data set (1.0 ≈ 250,000 participations).")
def demo(if_empty: bool, scale: float) -> None:
    """Build the demo data: two municipalities, associations, people, a year of sessions; print the logins."""
    from apn.demo import load_demo

    load_demo(if_empty=if_empty, scale=scale, echo=click.echo)


def register(app: Flask) -> None:
    """Attach the command."""
    app.cli.add_command(demo)
