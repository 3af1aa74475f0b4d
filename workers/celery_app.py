"""Entry point for ``celery -A workers.celery_app``: the app built from the environment."""

from smvm.config import Settings
from workers.app import create_celery

app = create_celery(Settings.from_environ())
