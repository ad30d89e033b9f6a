"""REST API v1 (flask-smorest). Each resource module exposes a smorest ``Blueprint`` named ``blp``."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

#: Modules under apn.api whose ``blp`` is registered, in order.
MODULES: list[str] = ["apn.api.meta"]


def register(app: Flask, api: Api) -> None:
    """Register every API blueprint on the app's Api."""
    import importlib

    from apn.extensions import csrf

    for name in MODULES:
        module = importlib.import_module(name)
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix="/api/v1" + module.PREFIX)
