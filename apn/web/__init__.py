"""Server-rendered pages."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register the page blueprints."""
    from apn.web import public

    app.register_blueprint(public.bp)
