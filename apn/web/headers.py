"""Security headers on every response, and ``Secure`` cookies and HSTS when the site is served over HTTPS.

Every response (pages, the API, static files, errors) gets

* ``Content-Security-Policy``: scripts, styles, images, fetches, workers and the manifest only from the site
  itself, no inline script or style, no plugins, forms post only to the site, and no framing
  (``frame-ancestors 'none'``; ``X-Frame-Options: DENY`` for older browsers);
* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``, ``Cross-Origin-Opener-Policy``;
* ``Cache-Control: no-store`` unless the view chose its own caching (static files, the service worker):
  pages, API answers and error pages may carry personal data, and no shared or browser cache keeps them.
  (The leader app keeps pages for use without coverage in its own Cache Storage, which ``no-store`` does
  not affect.)

With the setting ``HTTPS`` on (production; ``APN_HTTPS=true``) the session and remember-me cookies are
``Secure`` and every response carries ``Strict-Transport-Security``. Without the setting, a request that
arrives over HTTPS (directly, or through a proxy counted in ``TRUSTED_PROXIES``) still gets HSTS and a
``Secure`` session cookie, so an installation that forgot the setting does not send its session in clear.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface

#: The one policy. ``'self'`` everywhere a resource is loaded from; nothing inline.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HSTS = "max-age=31536000; includeSubDomains"

STATIC_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, ``Secure`` whenever the request itself came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask) -> None:
    """Make cookies ``Secure`` under ``HTTPS`` and add the headers to every response."""
    https = bool(app.config.get("HTTPS"))
    if https:
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"
    app.session_interface = _SessionInterface()
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")

    @app.after_request
    def _security_headers(resp: Response) -> Response:
        for name, value in STATIC_HEADERS.items():
            resp.headers.setdefault(name, value)
        if https or request.is_secure:
            resp.headers.setdefault("Strict-Transport-Security", HSTS)
        if "Cache-Control" not in resp.headers and request.endpoint != "static":
            resp.headers["Cache-Control"] = "no-store"
        return resp
