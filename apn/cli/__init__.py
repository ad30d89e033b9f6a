"""``flask --app apn …`` commands. Each module here exposes ``register(app)``."""

from __future__ import annotations

import importlib

from flask import Flask

MODULES = ["apn.cli.tenants", "apn.cli.demo", "apn.cli.partners", "apn.cli.clashes", "apn.cli.rules",
           "apn.cli.people"]


def register(app: Flask) -> None:
    """Add every command group to the app's CLI."""
    for name in MODULES:
        importlib.import_module(name).register(app)
