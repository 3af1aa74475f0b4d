"""Entry point for gunicorn: ``gunicorn api.wsgi:application``."""

from api import create_app

application = create_app()
