"""Encryption at rest for run artifacts and stored request payloads (Fernet keys from configuration)."""
