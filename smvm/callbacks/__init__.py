"""Callbacks to TractionBuild: the outbox a run's events write to, their payloads and schemas, delivery with
retries and dead letters, the T0+30 results sync, and ``smvm dlq``. Built on ``smvm.webhooks``' primitives."""
