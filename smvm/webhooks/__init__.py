"""Outbound callbacks to TractionBuild: outbox, Standard Webhooks signing, retries, breaker, dead letters, sync."""
