"""Server-rendered pages."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register the page blueprints."""
    from apn.web import access, auth, public

    access.init_app(app)
    auth.init_login(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)

    from apn.web import association, municipality  # the association and municipal administrators' pages

    app.register_blueprint(association.bp)
    app.register_blueprint(municipality.bp)

    from apn.web import leader  # the leader's pages and the app (PWA)

    leader.register(app)
