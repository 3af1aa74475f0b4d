"""SMVM's Celery side: the app factory, one thin task per pipeline stage, and beat jobs."""
