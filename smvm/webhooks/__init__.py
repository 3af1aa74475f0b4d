"""Delivery primitives: the SSRF policy, Standard Webhooks signing, the HTTP transport, the per-host breaker,
the retry decision (``models``) and their errors. Nothing here knows runs; ``smvm.callbacks`` builds on it."""
