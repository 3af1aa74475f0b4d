"""SMVM: the Synthetic Market Validation Module's domain core (no Flask, no Celery)."""

__version__ = "1.0.0"
