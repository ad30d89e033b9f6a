"""REST API v1 (flask-smorest). Each resource module exposes a smorest ``Blueprint`` named ``blp``."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

#: Modules under apn.api whose ``blp`` is registered, in order.
MODULES: list[str] = ["apn.api.meta", "apn.api.token", "apn.api.associations", "apn.api.sessions",
                      "apn.api.clashes", "apn.api.dak"]


def register(app: Flask, api: Api) -> None:
    """Register every API blueprint on the app's Api, with the shared parts of the OpenAPI document."""
    import importlib

    from apn.api import docs
    from apn.extensions import csrf

    docs.register(api.spec)
    for name in MODULES:
        module = importlib.import_module(name)
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix="/api/v1" + module.PREFIX)
