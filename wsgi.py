"""WSGI entry point: ``gunicorn wsgi:app``."""

from apn import create_app

app = create_app()
